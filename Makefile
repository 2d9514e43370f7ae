# The two commands of the README: `make demo` and `make test` (lint, the docs build, pytest).
# Both create .venv and install the locked versions first: requirements/dev.txt, exported from
# uv.lock with a hash for every file (--require-hashes), then the project itself (--no-deps).
# pip installs uv alone (requirements/uv.txt: its line of dev.txt, hashes and all), then uv the
# rest: 24 s instead of pip's 68 s for the same 240 files on this machine (docs/benchmarks.md).
# Where uv cannot install (its index is PyPI; pip also reads pip.conf), pip does, and says so.
# `make lock` regenerates uv.lock and its exports after a change to pyproject.toml's dependencies.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast install lint lock image stack-test benchmark clean

# The venv is created once: re-running `python -m venv` over one made by another Python (after an
# edit of pyproject.toml, say) would rewrite its pyvenv.cfg under the installed packages.
UV_INSTALL := $(BIN)/uv pip install --python $(BIN)/python --quiet
PIP_INSTALL := $(BIN)/python -m pip install --quiet
$(STAMP): pyproject.toml requirements/dev.txt requirements/uv.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --require-hashes --no-deps -r requirements/uv.txt
	$(UV_INSTALL) --require-hashes --compile-bytecode -r requirements/dev.txt || { \
		echo "uv could not install requirements/dev.txt (above): installing it with pip" >&2; \
		$(PIP_INSTALL) --upgrade pip && $(PIP_INSTALL) --require-hashes -r requirements/dev.txt; }
	$(UV_INSTALL) --no-deps -e . || $(PIP_INSTALL) --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python flows/monitor.py

lint: $(STAMP)
	$(BIN)/ruff check flows tasks tests benchmarks docs/hooks examples deploy
	$(BIN)/ruff format --check flows tasks tests benchmarks docs/hooks examples deploy
	$(BIN)/mypy
	$(BIN)/lint-imports
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir build/site

# --durations: the slowest tests, in every run's output (CI's too), so the next slow one is seen.
# -n: pytest-xdist workers, 3 on these 2 cores: the suite waits on the servers and processes it
# starts, and with 2 workers about a fifth of the cores stayed idle; a third worker fills
# those waits (pytest 16 min 2 s -> 13 min 15 s), a fourth only shares saturated cores (13 min 42 s;
# docs/benchmarks.md). Deadlines scale with the workers per core (tests/processes.py, scaled).
# Each process of the suite runs one OpenMP thread (tests/__init__.py: spinning idle threads).
# TEST_WORKERS=0 runs one process;
# loadfile: a module's tests run on one worker, in order, so a module-scoped fixture (a server)
# is built once (xdist 3.8's loadgroup does not group under pytest 9.2: it renames item._nodeid);
# --no-loadscope-reorder: the modules go out longest first (tests/schedule.py), not by test count.
TEST_WORKERS ?= 3
# compileall: where PYTHONDONTWRITEBYTECODE=1 is set (as on these machines) Python writes no .pyc,
# so each of the ~180 processes the suite starts that import flows and tasks compiled them again
# (0.2-0.3 CPU s each); compileall writes them anyway, only for the files changed since.
test: lint
	$(BIN)/python -m compileall -q flows tasks tests benchmarks
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=40 --durations-min=10

# The inner loop: every test not marked e2e (flow runs on the demo data), server (a real Prefect
# server) or slow (tests that start processes or kill loops), in every folder; a new test is in
# it unless its marker says otherwise.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e and not server and not slow"

# One lock (uv.lock: every extra, every platform) and the exports each install uses:
# requirements/dev.txt (make demo, make test), image.txt (the Dockerfile), nannyml.txt (the optional
# NannyML comparison); uv.txt is dev.txt's uv, which make install's pip installs first. `uv lock`
# keeps every locked version that still fits pyproject.toml; `$(BIN)/uv lock --upgrade-package NAME`
# moves one. tests/test_lock.py fails when they disagree.
lock: | $(STAMP)
	$(BIN)/uv lock
	$(BIN)/uv export --frozen --no-emit-project --quiet --extra dev --extra mlflow --extra postgres --extra docker -o requirements/dev.txt
	$(BIN)/uv export --frozen --no-emit-project --quiet --extra mlflow --extra postgres --extra docker -o requirements/image.txt
	$(BIN)/uv export --frozen --no-emit-project --quiet --extra dev --extra nannyml -o requirements/nannyml.txt
	{ printf '%s\n' "# uv alone (its block of dev.txt): pip installs it, then uv installs dev.txt." \
		"# Written by make lock; tests/test_lock.py checks it against dev.txt."; \
	  awk '/^uv==/ {keep = 1; print; next} keep && /^ / {print; next} {keep = 0}' \
		requirements/dev.txt; } > requirements/uv.txt

# The image (Dockerfile): docker where a Docker daemon answers, else podman. On machines with no
# daemon and no image registry (CI here), .ci/containers.sh installs podman and builds stand-ins
# for the public base images; its containers.conf is used when it is there. The system CA
# bundle goes to pip as a build secret (needed behind a TLS-inspecting proxy, harmless elsewhere).
# podman builds the docker format: its default, OCI, drops the HEALTHCHECK.
IMAGE ?= autoretrain:latest
ENGINE ?= $(shell docker info >/dev/null 2>&1 && echo docker || echo podman)
CONTAINERS_STATE ?= /var/cache/autoretrain/containers
ifneq ($(wildcard $(CONTAINERS_STATE)/containers.conf),)
export CONTAINERS_CONF ?= $(CONTAINERS_STATE)/containers.conf
endif
CACERT ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
comma := ,
SECRET := $(if $(CACERT),--secret id=cacert$(comma)src=$(CACERT))
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
GIT_SHA := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# the commit's time, not the build's: a rebuild of the same commit is all cache hits
CREATED := $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)

# podman 4.3 reuses the cached metadata layers when only a build arg changed (a new commit's
# image kept the old GIT_SHA): it gets the same values as --label/--env, which apply to the image
# whatever the cache.
PODMAN_META := --format docker --label org.opencontainers.image.version=$(VERSION) \
	--label org.opencontainers.image.revision=$(GIT_SHA) \
	--label org.opencontainers.image.created=$(CREATED) --env AUTORETRAIN_VERSION=$(VERSION) \
	--env AUTORETRAIN_GIT_SHA=$(GIT_SHA) --env AUTORETRAIN_IMAGE=$(IMAGE)

image:
	$(ENGINE) build $(SECRET) $(if $(filter podman,$(ENGINE)),$(PODMAN_META)) \
		--build-arg VERSION=$(VERSION) --build-arg GIT_SHA=$(GIT_SHA) \
		--build-arg CREATED=$(CREATED) --build-arg IMAGE=$(IMAGE) -t $(IMAGE) .

# The stack for real (deploy/stack_test.py): builds the image, brings compose.yaml up under its own
# project, runs the demo chain through it, checks MLflow and the Evidently UI over HTTP,
# screenshots each UI (build/stack/*.png), down and up again, then removes every container and
# volume it made. Needs podman and podman-compose (.ci/containers.sh) or Docker with compose.
stack-test: $(STAMP) image
	$(BIN)/python deploy/stack_test.py --image $(IMAGE) $(if $(filter docker,$(ENGINE)),--engine docker)

benchmark: $(STAMP)
	$(BIN)/python benchmarks/cold_run.py
	$(BIN)/python benchmarks/backtest.py

# Everything the demo, the examples and the docs' commands write: registry, history, reports,
# backtest and fleet outputs, the MLflow quickstart's server files (all under .autoretrain/).
clean:
	rm -rf .autoretrain examples/*/.autoretrain
