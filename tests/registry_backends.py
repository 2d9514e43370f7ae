"""The registry backends the contract tests run on: the local directory and a real MLflow server.

Each test gets a fresh model (a fresh registered model name on the shared MLflow server), and
the places on disk where a test tampers with or deletes a version's files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.config import RegistryConfig
from tasks.stores.registry import ModelRegistry, open_registry
from tests.processes import free_port, stop_process, wait_for

MLFLOW_ENVIRONMENT = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    # No job runner (huey consumers beside the server: 10 processes instead of 2, twice the CPU
    # of a start); the tests run no MLflow server jobs.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
}


@dataclass(frozen=True)
class MlflowServer:
    """A running `mlflow server` with a SQLite backend and a proxied artifact store."""

    uri: str
    artifacts: Path


def start_mlflow_server(
    directory: Path, backend_store_uri: str | None = None
) -> tuple[subprocess.Popen[Any], MlflowServer]:
    """Start `mlflow server` on a free port of 127.0.0.1 and wait until it is healthy; its
    backend store is SQLite in directory unless backend_store_uri names another database."""
    port = free_port()
    artifacts = directory / "artifacts"
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--backend-store-uri",
        backend_store_uri or f"sqlite:///{directory / 'mlflow.db'}",
        "--artifacts-destination",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = (directory / "server.log").open("w")
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=directory,
        env={**os.environ, **MLFLOW_ENVIRONMENT},
        start_new_session=True,
    )
    server = MlflowServer(f"http://127.0.0.1:{port}", artifacts)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"mlflow server exited: {(directory / 'server.log').read_text()}")
        try:
            with urllib.request.urlopen(f"{server.uri}/health", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    try:
        wait_for(healthy, 180, "the mlflow server's health check")
    except BaseException:
        stop_process(process, 15)
        raise
    return process, server


@contextlib.contextmanager
def mlflow_server_running(backend_store_uri: str | None = None) -> Iterator[MlflowServer]:
    """An MLflow server in a temporary directory, for as long as the context lasts."""
    with tempfile.TemporaryDirectory(prefix="autoretrain-mlflow-server-") as directory:
        process, server = start_mlflow_server(Path(directory), backend_store_uri)
        try:
            yield server
        finally:
            stop_process(process, 15)


def fresh_model_name() -> str:
    return f"m-{uuid.uuid4().hex[:10]}"


class Backend:
    """One backend of the contract tests: opens the registry of one model, finds its files."""

    kind: str
    model_name: str
    registry_path: Path

    def settings(self) -> RegistryConfig:
        raise NotImplementedError

    def config_overrides(self) -> dict[str, Any]:
        """The registry section of a config (for write_config) pointing at this backend."""
        return {
            "name": self.model_name,
            "registry": self.settings().model_dump(mode="json", exclude_none=True),
        }

    def open(self) -> ModelRegistry:
        return open_registry(self.settings(), self.model_name)

    @property
    def where(self) -> str:
        """What the registry CLI prints as the registry's location."""
        raise NotImplementedError

    def model_file(self, version: str) -> Path:
        """The pickled model of a version, as stored."""
        raise NotImplementedError

    def reference_file(self, version: str) -> Path:
        raise NotImplementedError

    def calibration_file(self, version: str) -> Path:
        raise NotImplementedError

    def attachment_file(self, version: str, name: str) -> Path:
        raise NotImplementedError

    def stored_model_sha256(self, version: str) -> str:
        """The digest of the model as stored, computed from the stored files themselves."""
        raise NotImplementedError

    def stored_aliases(self) -> dict[str, str]:
        """The aliases as the store itself keeps them."""
        raise NotImplementedError

    # What each backend says about a model whose pickle was deleted: the local registry finds
    # the file missing; MLflow downloads the model directory without it, so its digest differs.
    missing_model_message = ""
    # What a register of a lambda (not a model) fails with: the local registry cannot pickle
    # it; MLflow cannot call its predict for the signature.
    unstorable_model_message = ""

    def missing_model_names(self, path: Path) -> str:
        """What the error about a deleted model file must include."""
        raise NotImplementedError


class LocalBackend(Backend):
    kind = "local"

    def __init__(self, path: Path, model_name: str) -> None:
        self.registry_path = path
        self.model_name = model_name

    def settings(self) -> RegistryConfig:
        return RegistryConfig(path=self.registry_path)

    @property
    def where(self) -> str:
        return str(self.registry_path)

    def _version_dir(self, version: str) -> Path:
        return self.registry_path / "models" / self.model_name / "versions" / version

    def model_file(self, version: str) -> Path:
        return self._version_dir(version) / "model.pkl"

    def reference_file(self, version: str) -> Path:
        return self._version_dir(version) / "reference.parquet"

    def calibration_file(self, version: str) -> Path:
        return self._version_dir(version) / "calibration.json"

    def attachment_file(self, version: str, name: str) -> Path:
        return self._version_dir(version) / "attachments" / name

    missing_model_message = "model file of v0001 is missing"
    unstorable_model_message = "lambda"

    def missing_model_names(self, path: Path) -> str:
        return str(path)

    def stored_model_sha256(self, version: str) -> str:
        return hashlib.sha256(self.model_file(version).read_bytes()).hexdigest()

    def stored_aliases(self) -> dict[str, str]:
        aliases = self.registry_path / "models" / self.model_name / "aliases.json"
        return dict(json.loads(aliases.read_text()))


class MlflowBackend(Backend):
    kind = "mlflow"

    def __init__(self, server: MlflowServer, path: Path, model_name: str) -> None:
        self.server = server
        self.registry_path = path
        self.model_name = model_name

    def settings(self) -> RegistryConfig:
        return RegistryConfig(kind="mlflow", path=self.registry_path, tracking_uri=self.server.uri)

    @property
    def where(self) -> str:
        return self.server.uri

    def run_directory(self, version: str) -> Path:
        """Where the proxied artifact store keeps the artifacts of a version's run."""
        client = self._client()
        found = client.get_model_version(self.model_name, str(int(version[1:])))
        artifact_uri = client.get_run(found.run_id).info.artifact_uri
        return self.server.artifacts / artifact_uri.removeprefix("mlflow-artifacts:/")

    def model_file(self, version: str) -> Path:
        return self.run_directory(version) / "model" / "model.pkl"

    def reference_file(self, version: str) -> Path:
        return self.run_directory(version) / "reference" / "reference.parquet"

    def calibration_file(self, version: str) -> Path:
        return self.run_directory(version) / "calibration" / "calibration.json"

    def attachment_file(self, version: str, name: str) -> Path:
        return self.run_directory(version) / "attachments" / name

    missing_model_message = r"model of v0001 \(its files\) does not match its registered SHA-256"
    unstorable_model_message = "predict"

    def missing_model_names(self, path: Path) -> str:
        return "refusing to load it"

    def stored_model_sha256(self, version: str) -> str:
        from tasks.stores.registry.mlflow_server import tree_sha256

        return tree_sha256(self.model_file(version).parent)

    def _client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.server.uri, registry_uri=self.server.uri)

    def stored_aliases(self) -> dict[str, str]:
        aliases = self._client().get_registered_model(self.model_name).aliases
        return {alias: f"v{int(number):04d}" for alias, number in aliases.items()}
