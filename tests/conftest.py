"""Shared fixtures: a Prefect test server for flow tests, configs written to tmp_path, and a
throwaway PostgreSQL cluster."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import DEMO_DATA, LATENCY_GUARD_ASIDE, merge, repo_raw_config
from tests.postgres import Postgres, require_postgres, throwaway_postgres
from tests.processes import scaled
from tests.schedule import (  # noqa: F401  (hooks: modules longest first, seconds per worker)
    pytest_collection_modifyitems,
    pytest_runtest_logreport,
    pytest_terminal_summary,
)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write the repo config with overrides to tmp_path; data stays the bundled demo log."""

    def write(overrides: dict[str, Any] | None = None, name: str = "config.yaml") -> Path:
        # The latency guard aside (tests/helpers.py); a test may set its own ratio in overrides.
        config = merge(
            merge(repo_raw_config(), LATENCY_GUARD_ASIDE),
            {"data": {"source": {"path": str(DEMO_DATA)}}},
        )
        config = merge(config, overrides or {})
        path = tmp_path / name
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server (SQLite in a temporary PREFECT_HOME) for the session."""
    from prefect.testing.utilities import prefect_test_harness

    # A deadline, not a wait: ~11 s on a quiet machine, over 60 s at load average 19 on 2 cores.
    with prefect_test_harness(server_startup_timeout=round(scaled(180))):
        yield


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One throwaway PostgreSQL cluster for the session; each test creates its own database.

    Skips saying what to install when PostgreSQL is missing, fails instead in CI.
    """
    with throwaway_postgres(require_postgres()) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def mlflow_server() -> Iterator[Any]:
    """One real `mlflow server` (SQLite backend, artifacts in a temporary directory)."""
    from tests.registry_backends import mlflow_server_running

    with mlflow_server_running() as server:
        yield server


@pytest.fixture(
    params=[
        "local",
        pytest.param("mlflow", marks=[pytest.mark.mlflow, pytest.mark.slow]),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A registry backend for one fresh model: the local directory, or the MLflow server."""
    from tests.registry_backends import LocalBackend, MlflowBackend, fresh_model_name

    if request.param == "local":
        return LocalBackend(tmp_path / "registry", "seattle-weather")
    server = request.getfixturevalue("mlflow_server")
    return MlflowBackend(server, tmp_path / "registry", fresh_model_name())


_WORKER_PREFECT_HOME = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker gets its own PREFECT_HOME: the scripts tests start without
    a server (benchmarks, flows) would otherwise share ~/.prefect's SQLite database with the
    other workers' ("database is locked"). A test may still set its own."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        home = tempfile.mkdtemp(prefix=f"autoretrain-prefect-{worker}-")
        os.environ["PREFECT_HOME"] = config.stash[_WORKER_PREFECT_HOME] = home


def pytest_unconfigure(config: pytest.Config) -> None:
    """The worker's PREFECT_HOME goes with the worker (each run left one per worker in /tmp)."""
    home = config.stash.get(_WORKER_PREFECT_HOME, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)
