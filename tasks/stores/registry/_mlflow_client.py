"""A model and its experiment on an MLflow tracking server: the connection, its errors, and
the names autoretrain gives things there (tags, version ids). Beside mlflow_server.py, the only
code that imports MLflow."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tasks.config import MLFLOW_SCHEMES
from tasks.errors import AutoretrainError, ModelError, RegistryError
from tasks.secrets import mask_url_password, redact_url_password
from tasks.stores.registry._files import sha256_file
from tasks.stores.registry._types import check_model_name

TAG = "autoretrain."
HISTORY_TAG = f"{TAG}history."
REQUEST_TAG = f"{TAG}request."
COMPARISON_TAG = f"{TAG}comparison."
VERSION_ID = re.compile(r"v(\d{4,})")
# MLflow retries a failed request for minutes by default, writes included; autoretrain fails
# fast and closed instead (a run that fails is started again; a retried write could register
# twice). An operator may still set these in the environment.
MLFLOW_ENVIRONMENT = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}


def check_tracking_uri(uri: str) -> str:
    """The URI, if its scheme is one MLflow's model registry works with; else RegistryError."""
    scheme = urllib.parse.urlparse(uri).scheme.split("+")[0]
    if scheme not in MLFLOW_SCHEMES:
        raise RegistryError(
            f"registry.tracking_uri {mask_url_password(uri)!r} is not an MLflow tracking URI "
            "with a model registry: "
            f"use one of the schemes {', '.join(MLFLOW_SCHEMES)}, like http://127.0.0.1:5000"
        )
    return uri


def version_number(version: str) -> str:
    """MLflow's version number of an autoretrain version id: v0012 is "12"."""
    match = VERSION_ID.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise RegistryError(f"'{version}' is not a version id (they look like v0001)")
    return str(int(match.group(1)))


def version_id(number: str | int) -> str:
    """The autoretrain version id of an MLflow version number: "12" is v0012."""
    return f"v{int(number):04d}"


def tree_sha256(directory: Path) -> str:
    """SHA-256 over every file under directory: relative path and content digest, in order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(directory).as_posix()}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def metric_key(name: str) -> str:
    """A metric name MLflow accepts (letters, digits, _ - . / and spaces)."""
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", name)


def metric_values(values: dict[str, Any]) -> dict[str, float]:
    return {
        metric_key(k): float(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


class MlflowModel:
    """One registered model (the config's name) and its experiment on a tracking server."""

    def __init__(self, model_name: str, tracking_uri: str) -> None:
        for key, value in MLFLOW_ENVIRONMENT.items():
            os.environ.setdefault(key, value)
        self.model_name = check_model_name(model_name)
        self.tracking_uri = check_tracking_uri(tracking_uri)
        self.shown_uri = mask_url_password(tracking_uri)  # for messages: no password
        self.experiment_name = f"autoretrain-{model_name}"
        self._check_reachable()
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    @property
    def location(self) -> str:
        """Where the model lives, for messages."""
        return f"MLflow registry {self.shown_uri} (registered model '{self.model_name}')"

    def _check_reachable(self) -> None:
        if urllib.parse.urlparse(self.tracking_uri).scheme not in ("http", "https"):
            return
        url = f"{self.tracking_uri.rstrip('/')}/health"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.status == 200:
                    return
                problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            problem = f"HTTP {error.code}"
        except (OSError, ValueError) as error:
            problem = str(getattr(error, "reason", error))
        problem = redact_url_password(problem, self.tracking_uri)
        raise RegistryError(
            f"cannot reach the MLflow tracking server at {self.shown_uri} ({problem}): start "
            "it (see the MLflow page of the docs: `mlflow server --host 127.0.0.1 --port 5000 "
            "...`) or fix registry.tracking_uri"
        )

    @contextlib.contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """Turn MLflow's and the network's errors into a RegistryError that names the call."""
        from mlflow.exceptions import MlflowException

        try:
            yield
        except AutoretrainError:
            raise
        except (MlflowException, OSError) as error:
            message = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            message = redact_url_password(message, self.tracking_uri)
            raise RegistryError(
                f"{what} failed in the {self.location}: {message}. Check that the server "
                "is up (`python -m tasks.cli.registry verify`) and registry.tracking_uri"
            ) from None

    @staticmethod
    def _missing(error: Exception) -> bool:
        return getattr(error, "error_code", "") == "RESOURCE_DOES_NOT_EXIST"

    def _registered(self) -> Any | None:
        """The registered model, or None if there is none yet."""
        from mlflow.exceptions import MlflowException

        with self._calling(f"reading registered model '{self.model_name}'"):
            try:
                return self.client.get_registered_model(self.model_name)
            except MlflowException as error:
                if self._missing(error):
                    return None
                raise

    def exists(self) -> bool:
        """Whether the registered model exists (the first registration creates it)."""
        return self._registered() is not None

    @staticmethod
    def _exists_already(error: Exception) -> bool:
        return getattr(error, "error_code", "") == "RESOURCE_ALREADY_EXISTS"

    def _ensure_registered(self) -> None:
        from mlflow.exceptions import MlflowException

        if self._registered() is None:
            with self._calling(f"creating registered model '{self.model_name}'"):
                try:
                    self.client.create_registered_model(
                        self.model_name,
                        tags={f"{TAG}managed": "true"},
                        description=f"Managed by autoretrain: versions, aliases and their "
                        f"history (the latest as tags {HISTORY_TAG}*, all of them in run "
                        f"'alias history'); runs in experiment {self.experiment_name}.",
                    )
                except MlflowException as error:
                    if not self._exists_already(error):  # another machine created it first
                        raise

    def _experiment_id(self) -> str:
        """The model's experiment, created on first use; a writer that loses the race to
        create it (another thread or machine) reads the winner's."""
        from mlflow.exceptions import MlflowException

        with self._calling(f"reading experiment {self.experiment_name}"):
            experiment = self.client.get_experiment_by_name(self.experiment_name)
            if experiment is not None:
                return str(experiment.experiment_id)
            try:
                return str(self.client.create_experiment(self.experiment_name))
            except MlflowException as error:
                if not self._exists_already(error):
                    raise
            experiment = self.client.get_experiment_by_name(self.experiment_name)
            if experiment is None:
                raise RegistryError(
                    f"experiment {self.experiment_name} was created and is gone again in the "
                    f"{self.location}: was it deleted by hand?"
                )
            return str(experiment.experiment_id)

    def _model_version(self, version: str) -> Any:
        from mlflow.exceptions import MlflowException

        number = version_number(version)
        with self._calling(f"reading version {version}"):
            try:
                return self.client.get_model_version(self.model_name, number)
            except MlflowException as error:
                if not self._missing(error):
                    raise
        raise RegistryError(
            f"no model version {version} in the {self.location} (MLflow version {number}): "
            "it was never registered, or was deleted by hand. Run `python -m tasks.cli.registry "
            "verify`; roll back to another version if it was the champion"
        )

    def _search_versions(self) -> list[Any]:
        found: list[Any] = []
        token = None
        with self._calling("listing the versions"):
            while True:
                page = self.client.search_model_versions(
                    f"name='{self.model_name}'", max_results=1000, page_token=token
                )
                found += list(page)
                token = page.token
                if not token:
                    break
        return sorted(found, key=lambda v: int(v.version))

    def _download(self, artifact_uri: str, target: Path, what: str) -> Path:
        import mlflow.artifacts

        try:
            return Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=artifact_uri, dst_path=str(target), tracking_uri=self.tracking_uri
                )
            )
        except Exception as error:
            first = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            raise ModelError(
                f"{what} missing or unreadable in the artifact store of the {self.location} "
                f"({artifact_uri}: {first}); restore it, or roll back to another version"
            ) from None
