# autoretrain's one image: every role runs from it (a flow run, the worker, the CLI, and in
# compose.yaml the Prefect server, the MLflow server and the Evidently UI, whose packages it has).
#
#   make image                     # docker build, or podman build where no Docker daemon answers
#
# Python packages come from the lock only: requirements/image.txt is uv.lock's export of the
# base with the mlflow and postgres extras, every file checked against its hash. The project
# itself is source in /app (the project directory the flows and prefect.yaml expect), on the
# venv's path; nothing is compiled and no build tool or pip cache reaches the final stage.
# Behind a TLS-inspecting proxy, give pip the proxy's CA bundle as a build secret:
#   --secret id=cacert,src=/etc/ssl/certs/ca-certificates.crt
# Without it the build uses the base image's certificates.

ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
# python3 is /usr/local/bin/python3 in the official image (and a link to Debian's in the stand-in
# these machines build): a venv made by it is the same layout on both.
RUN python3 -m venv /opt/autoretrain
COPY requirements/image.txt /tmp/requirements.txt
RUN --mount=type=secret,id=cacert \
    if [ -s /run/secrets/cacert ]; then export PIP_CERT=/run/secrets/cacert; fi \
    && /opt/autoretrain/bin/pip install --require-hashes --no-deps --only-binary=:all: \
        -r /tmp/requirements.txt \
    && /opt/autoretrain/bin/pip uninstall --yes --quiet pip
# Trimmed after the install, in a layer of its own (only the final stage's copy counts): about
# 120 MB, nothing imported at run time: the test suites the largest packages ship, JupyterLab's
# plotly extension (no JupyterLab here), C/Cython sources and headers for building extensions
# against numpy/pyarrow, type stubs, pyarrow's Arrow Flight (pyarrow.flight: neither MLflow nor
# Evidently uses it; its Substrait library stays, pyarrow.lib links it) and the copies of
# libarrow_python* the wheel ships for linking (the loader wants the .so.N only). The imports
# the services and flows need are checked at the end.
RUN site=$(/opt/autoretrain/bin/python -c "import sysconfig; print(sysconfig.get_path('purelib'))") \
    && for package in pandas scipy numpy sklearn pyarrow matplotlib statsmodels dask graphene \
        skops mpl_toolkits; do \
        find "$site/$package" -depth -type d -name tests -exec rm -rf {} +; \
    done \
    && rm -rf "$site/jupyterlab_plotly" /opt/autoretrain/share/jupyter \
        "$site/pyarrow/include" "$site/pyarrow/src" "$site"/pyarrow/*flight* \
    && for lib in "$site"/pyarrow/libarrow_python*.so "$site"/pyarrow/libarrow_python*.so.*.*.*; do \
        rm -f "$lib"; \
    done \
    && find "$site" -type f \( -name "*.pyx" -o -name "*.pxd" -o -name "*.pyi" -o -name "*.h" \
        -o -name "*.hpp" -o -name "*.c" -o -name "*.cpp" \) -delete \
    && echo /app > "$site/autoretrain.pth" \
    && /opt/autoretrain/bin/python -c "import pyarrow.parquet, pyarrow.dataset, pyarrow.compute, \
pandas, sklearn, scipy.stats, mlflow.server, evidently.ui, prefect.server.api.server, \
prefect_docker.worker, psycopg, asyncpg"

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/autoretrain/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PREFECT_HOME=/home/autoretrain/.prefect \
    PREFECT_SERVER_UI_STATIC_DIRECTORY=/home/autoretrain/.prefect/ui \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1 \
    MPLCONFIGDIR=/tmp/matplotlib
RUN groupadd --gid 10001 autoretrain \
    && useradd --uid 10001 --gid autoretrain --create-home --home-dir /home/autoretrain \
        --shell /usr/sbin/nologin autoretrain
COPY --from=build /opt/autoretrain /opt/autoretrain
COPY deploy/probe.py /usr/local/lib/autoretrain/probe.py
COPY deploy/entrypoint.sh /usr/local/bin/autoretrain-entrypoint
WORKDIR /app
# uv.lock too: the lineage of every model trained here records its SHA-256
COPY pyproject.toml uv.lock prefect.yaml automations.yaml config.yaml ./
COPY data data
COPY examples examples
COPY tasks tasks
COPY flows flows
# The code is root's and read-only to the user; what runs write goes under .autoretrain (the
# registry path, history and reports of the demo configs): a volume in compose.yaml.
# The services' data directories exist in the image, owned by the user, so that an empty named
# volume mounted there takes that owner (Docker copies it; podman does the same).
RUN python -m compileall -q tasks flows \
    && mkdir -p /app/.autoretrain /var/lib/autoretrain/mlflow-artifacts \
        /var/lib/autoretrain/evidently \
    && chown autoretrain:autoretrain /app/.autoretrain /var/lib/autoretrain/mlflow-artifacts \
        /var/lib/autoretrain/evidently
# Last, so that a new commit rebuilds only these metadata layers: the version and git SHA, as
# OCI labels and for the lineage a run records (there is no .git in the image).
ARG VERSION=0.1.0
ARG GIT_SHA=unknown
ARG CREATED=unknown
# the name the image is built under (make image: IMAGE), for the lineage; compose and the
# docker work pool's job variables set AUTORETRAIN_IMAGE (and the digest) where they know better
ARG IMAGE=autoretrain:latest
LABEL org.opencontainers.image.title="autoretrain" \
      org.opencontainers.image.description="Automated retraining triggers with safe champion-challenger promotion, on Prefect" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_SHA}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT"
ENV AUTORETRAIN_VERSION=${VERSION} AUTORETRAIN_GIT_SHA=${GIT_SHA} AUTORETRAIN_IMAGE=${IMAGE}
USER autoretrain
# One image, every role: the role's AUTORETRAIN_HEALTH_URL says what to probe (deploy/probe.py);
# without one (a flow run, the CLI) a running process is healthy.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "/usr/local/lib/autoretrain/probe.py"]
# Waits for AUTORETRAIN_WAIT_FOR's URLs, if any, then runs the command.
ENTRYPOINT ["autoretrain-entrypoint"]
# With no command, the demo: the monitor on the bundled data, with a temporary Prefect server.
CMD ["python", "flows/monitor.py"]
