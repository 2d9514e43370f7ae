"""Where a run keeps what it makes: `registry`, `history` and `reports` (with the workspace of
the dashboards)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, field_validator, model_validator

from tasks.config._base import Strict, parse_duration, refuse_plain_text_password, section
from tasks.secrets import SecretValue, mask_url_password

# The tracking URI schemes whose servers have a model registry (MLflow's file store has none).
MLFLOW_SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "databricks")


class RegistryConfig(Strict):
    kind: Literal["local", "mlflow"] = Field(
        default="local",
        description="local: a directory on a file system that supports flock; mlflow: the "
        "model registry of an MLflow tracking server (install with `pip install .[mlflow]`).",
    )
    path: Path = Field(
        description="Where versions, aliases, comparisons and history go (kind local); with "
        "kind mlflow, where the monitoring history (unless history.url names a database) and "
        "the lock file that serialises this machine's writers go (unless history.url is "
        "PostgreSQL: then an advisory lock there serialises every machine's)."
    )
    tracking_uri: str | None = Field(
        default=None,
        description="kind mlflow: the MLflow tracking URI, like http://127.0.0.1:5000 "
        "(http, https, or a database URI such as sqlite:///mlflow.db or postgresql://...); "
        "the model registry is the tracking server's.",
    )

    @model_validator(mode="after")
    def _tracking_uri_for_mlflow(self) -> RegistryConfig:
        if self.kind == "mlflow" and not self.tracking_uri:
            raise ValueError(
                "kind mlflow needs tracking_uri, the MLflow tracking server's URI, like "
                "http://127.0.0.1:5000"
            )
        scheme = self.tracking_uri.split(":", 1)[0].split("+")[0] if self.tracking_uri else ""
        if self.kind == "mlflow" and scheme not in MLFLOW_SCHEMES:
            raise ValueError(
                f"tracking_uri {mask_url_password(self.tracking_uri or '')!r} is not an MLflow "
                "tracking URI with a model "
                f"registry: use one of the schemes {', '.join(MLFLOW_SCHEMES)}, like "
                "http://127.0.0.1:5000"
            )
        if self.kind == "local" and self.tracking_uri:
            raise ValueError(
                "tracking_uri is only for kind mlflow: set kind: mlflow or remove tracking_uri"
            )
        return self


# The history's databases: the same code serves both (tested on each).
HISTORY_DIALECTS = ("sqlite", "postgresql")


class HistoryConfig(Strict):
    url: SecretValue | None = Field(
        default=None,
        description="SQLAlchemy URL of the monitoring history's database, shared by every "
        "machine that monitors the model: postgresql+psycopg://user@host/db (or sqlite:///"
        "path; a relative path is relative to config.yaml). null: the SQLite file "
        "history.sqlite under registry.path, this machine's. A URL with a password is given "
        "as ${ENV_VAR} or {secret: block-name} (a Prefect Secret block read at run time), "
        "never in plain text; it is masked in every message. The project creates and "
        "migrates its table.",
    )

    @field_validator("url")
    @classmethod
    def _history_url(cls, value: SecretValue | None) -> SecretValue | None:
        if value is None:
            return value
        refuse_plain_text_password(value)
        if value.resolved:
            check_history_url(value)
        return value


def check_history_url(url: SecretValue) -> None:
    """Raise ValueError unless url (read) is a SQLAlchemy URL of a database the history runs on."""
    text = url.reveal()
    scheme, separator, _ = text.partition("://")
    if not separator or not re.match(r"^[a-z0-9]+(\+[a-z0-9_]+)?$", scheme):
        raise ValueError(
            f"the value from {url.origin} is not a SQLAlchemy URL like "
            "postgresql+psycopg://user@host/db or sqlite:///history.sqlite"
        )
    dialect = scheme.split("+", 1)[0]
    if dialect not in HISTORY_DIALECTS:
        raise ValueError(
            f"the value from {url.origin} is a {dialect} URL: the history runs on "
            f"{' or '.join(HISTORY_DIALECTS)}, like postgresql+psycopg://user@host/db"
        )


def _parse_keep(value: Any) -> Any:
    """A number keeps that many runs; a duration like 30d keeps the runs that young."""
    if isinstance(value, bool):
        raise ValueError("write a number of runs like 30 or a duration like 30d")
    return value if isinstance(value, int) else parse_duration(value)


class WorkspaceRetryConfig(Strict):
    """Retries of a snapshot upload to an Evidently UI service that is down or failing."""

    attempts: int = Field(
        default=4,
        ge=1,
        le=10,
        description="Attempts in all; 1 means no retry. A refusal (a wrong secret, HTTP 4xx) "
        "is not retried.",
    )
    backoff_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="Wait before the 2nd attempt; doubles each time (4 attempts from 2 s wait "
        "2 + 4 + 8 = 14 s in all).",
    )


def is_service_url(workspace: str) -> bool:
    """Whether reports.workspace names an `evidently ui` service (a URL), not a directory."""
    return "://" in workspace


def _check_service_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"'{mask_url_password(url)}' is neither a directory nor the http(s) URL of an "
            "`evidently ui` service, like http://evidently.internal:8000"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"'{mask_url_password(url)}' carries a user or password: give the URL as "
            "scheme://host:port and the service's --secret in reports.workspace_secret"
        )
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError(
            f"'{url}' has a path, query or fragment: Evidently's client calls /api/... at the "
            "root of the host, so give only scheme://host:port"
        )
    try:
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError as error:
        raise ValueError(f"'{url}': {error}") from None
    return f"{parts.scheme}://{parts.netloc}"


class ReportsConfig(Strict):
    path: Path = Field(
        description="Where the Evidently HTML reports go. With registry.kind mlflow they are "
        "written here, then logged as the artifacts of a monitoring run of the model's "
        "experiment and deleted here; they stay here only when the upload fails."
    )
    html: Literal["always", "on-breach", "never"] = Field(
        default="always",
        description="Which monitor runs draw Evidently's HTML reports (drift and performance, "
        "about half of a monitor run's CPU time in a fleet): always; on-breach, only runs "
        "where a signal is over its threshold (acted on or not: drift the policy ignores or "
        "judges harmless counts), the decision is anything but none (retrain, "
        "unconfirmed, cooldown, a data issue) or the watch finds the previous champion better; "
        "never. The signals, the decision, the history and the dashboard's point are the same "
        "either way.",
    )
    keep: Annotated[int | timedelta | None, BeforeValidator(_parse_keep)] = Field(
        default=None,
        description="Retention of the monitor's HTML reports (about 7 MB a run), applied after "
        "each monitor run to this model's run directories under path (and, with registry.kind "
        "mlflow, to its monitoring runs on the tracking server): a number keeps the "
        "newest that many runs, a duration like 30d keeps the runs started within it; null "
        "keeps everything.",
    )
    workspace: str | None = Field(
        default=None,
        description="Where each monitor run adds its snapshot for Evidently's UI (one project "
        "per model): a directory, relative to config.yaml (null: <path>/workspace), or the "
        "http(s) URL of a running `evidently ui` service, like http://evidently.internal:8000, "
        "so that every machine adds to the same project. A service that is down never fails "
        "a run: the summary says the dashboard was not updated.",
    )
    workspace_secret: SecretValue | None = Field(
        default=None,
        description="With a service URL in workspace: the service's --secret, which it needs "
        "for writes, given as ${ENV_VAR} or as {secret: block-name} (a Prefect Secret block), "
        "never in plain text; it is masked in every log, message and artifact.",
    )
    workspace_retries: WorkspaceRetryConfig = section(
        WorkspaceRetryConfig,
        "With a service URL in workspace: how often an upload that fails to "
        "connect, times out (10 s a request) or gets an HTTP 5xx is tried, waiting "
        "backoff_seconds, then twice that, and so on.",
    )

    @field_validator("keep")
    @classmethod
    def _keep_positive(cls, value: int | timedelta | None) -> int | timedelta | None:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"must keep at least 1 run, not {value}")
        if isinstance(value, timedelta) and value < timedelta(days=1):
            raise ValueError(f"must keep at least 1d of runs, not {value}")
        return value

    @field_validator("workspace")
    @classmethod
    def _workspace_path_or_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("is empty: give a directory or an `evidently ui` URL, or remove it")
        return _check_service_url(value) if is_service_url(value) else value

    @field_validator("workspace_secret")
    @classmethod
    def _secret_by_reference(cls, value: SecretValue | None) -> SecretValue | None:
        if value is not None and not value.from_reference:
            raise ValueError(
                "is in plain text, and config.yaml is committed and deployed: give it as "
                "${VARIABLE} (an environment variable) or as {secret: block-name} (a Prefect "
                "Secret block)"
            )
        return value

    @model_validator(mode="after")
    def _secret_needs_a_service(self) -> ReportsConfig:
        if self.workspace_secret is not None and self.workspace_url is None:
            raise ValueError(
                "workspace_secret is only for an `evidently ui` service: set workspace to "
                "its URL, or remove workspace_secret"
            )
        return self

    @property
    def workspace_url(self) -> str | None:
        """The `evidently ui` service the snapshots go to, if workspace is a URL."""
        return self.workspace if self.workspace and is_service_url(self.workspace) else None

    @property
    def workspace_dir(self) -> Path:
        """The local workspace directory (when workspace is not a URL): <path>/workspace by
        default."""
        if self.workspace is None or is_service_url(self.workspace):
            return self.path / "workspace"
        return Path(self.workspace)
