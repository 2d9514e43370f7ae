"""The alias lock with an MLflow registry and the history on PostgreSQL: an advisory lock in
that database, so writers of one model on different machines (different PREFECT_HOMEs, working
directories and registry.paths, nothing shared but the database) take turns; the file lock
everywhere else."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tasks.config import HistoryConfig
from tasks.errors import ConfigError
from tasks.stores.registry import (
    AdvisoryAliasLock,
    FileAliasLock,
    LocalRegistry,
    advisory_lock_key,
    open_registry,
    shared_alias_lock,
)
from tasks.stores.resources import Stores
from tests.helpers import ROOT, repo_config, repo_raw_config
from tests.postgres import Postgres
from tests.processes import wait_for

URL_VARIABLE = "AUTORETRAIN_TEST_HISTORY_URL"


def test_the_key_is_the_same_in_every_process_and_differs_between_models() -> None:
    script = (
        "from tasks.stores.registry import advisory_lock_key; "
        "print(advisory_lock_key('seattle-weather'))"
    )
    keys = {
        int(
            subprocess.run(
                [sys.executable, "-c", script],
                env={**os.environ, "PYTHONHASHSEED": seed},
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
        )
        for seed in ("1", "2")
    }

    assert keys == {advisory_lock_key("seattle-weather")}
    assert advisory_lock_key("seattle-weather") != advisory_lock_key("seattle-weather-2")
    assert -(2**63) <= advisory_lock_key("seattle-weather") < 2**63  # PostgreSQL's bigint


@pytest.mark.parametrize(
    ("url", "advisory"),
    [
        (None, False),
        ("sqlite:///history.sqlite", False),
        ("postgresql+psycopg://loop@db.internal/history", True),
        ("postgresql://loop@db.internal/history", True),
    ],
)
def test_only_a_postgresql_history_gives_an_advisory_lock(url: str | None, advisory: bool) -> None:
    lock = shared_alias_lock(HistoryConfig.model_validate({"url": url}), "m")

    assert isinstance(lock, AdvisoryAliasLock) is advisory
    if isinstance(lock, AdvisoryAliasLock):
        assert lock.key == advisory_lock_key("m")
        assert lock.where == url  # no password to mask


def test_an_unread_secret_block_fails_instead_of_falling_back_to_the_file_lock() -> None:
    settings = HistoryConfig.model_validate({"url": {"secret": "history-db"}})

    with pytest.raises(ConfigError, match="Prefect Secret block 'history-db' has not been read"):
        shared_alias_lock(settings, "m")


class _Captured:
    def __init__(self, path: Path, model_name: str, uri: str, lock: Any = None) -> None:
        self.lock = lock


def _mlflow_config(tmp_path: Path, history_url: str | None) -> Any:
    changes: dict[str, Any] = {
        "registry": {
            "kind": "mlflow",
            "tracking_uri": "http://127.0.0.1:5000",
            "path": str(tmp_path),
        }
    }
    if history_url:
        changes["history"] = {"url": history_url}
    return repo_config(changes)


@pytest.mark.parametrize(
    ("history_url", "lock_type"),
    [(None, FileAliasLock), ("postgresql+psycopg://loop@db.internal/h", AdvisoryAliasLock)],
)
def test_an_mlflow_registry_takes_the_advisory_lock_with_a_postgresql_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, history_url: str | None, lock_type: type
) -> None:
    pytest.importorskip("mlflow")
    from tasks.stores.registry import mlflow_server

    monkeypatch.setattr(mlflow_server, "MlflowRegistry", _Captured)
    config = _mlflow_config(tmp_path, history_url)

    via_stores = Stores(config).registry
    via_factory = open_registry(config.registry, config.name, history=config.history)

    for registry in (via_stores, via_factory):
        assert isinstance(registry, _Captured)  # the MlflowRegistry patched above
        lock = registry.lock
        # None: MlflowRegistry's own default, the file lock in registry.path
        assert (lock is None) if lock_type is FileAliasLock else isinstance(lock, lock_type)


def test_a_local_registry_keeps_its_file_lock_with_a_postgresql_history(tmp_path: Path) -> None:
    config = repo_config(
        {
            "registry.path": str(tmp_path / "registry"),
            "history": {"url": "postgresql+psycopg://loop@db.internal/h"},
        }
    )

    registry = Stores(config).registry

    assert isinstance(registry, LocalRegistry)
    assert isinstance(registry.lock, FileAliasLock)


# --- two machines ----------------------------------------------------------------------------


def _machine(directory: Path, name: str) -> Path:
    """A project copy of its own: config.yaml with an MLflow registry, registry.path relative
    to it, history.url from the environment."""
    directory.mkdir(parents=True)
    raw = repo_raw_config(
        {
            "name": name,
            "registry": {
                "kind": "mlflow",
                "tracking_uri": "http://127.0.0.1:5000",
                "path": "registry",
            },
        }
    )
    raw["history"] = {"url": "${" + URL_VARIABLE + "}"}
    (directory / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return directory


@pytest.fixture
def holders() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def _start(directory: Path, label: str, url: str, holders: list[Any]) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        URL_VARIABLE: url,
        "PREFECT_HOME": str(directory / "prefect-home"),
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.stores.alias_lock_holder", label],
        cwd=directory,
        env=environment,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    holders.append(process)
    return process


def _events(postgres: Postgres, database: str) -> list[str]:
    rows = postgres.psql(database, "SELECT label || ' ' || what FROM lock_events ORDER BY id")
    return [line for line in rows.splitlines() if line]


def _waiting_for_the_lock(postgres: Postgres, database: str) -> int:
    waiting = postgres.psql(
        database, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    )
    return int(waiting.strip())


def _release(process: subprocess.Popen[str]) -> None:
    _, errors = process.communicate("release\n", timeout=120)
    assert process.returncode == 0, errors


@pytest.mark.slow
def test_writers_of_one_model_on_two_machines_take_turns(
    postgres: Postgres, tmp_path: Path, holders: list[Any]
) -> None:
    database = postgres.create_database("locks")
    url = postgres.url(database)
    postgres.psql(
        database, "CREATE TABLE lock_events (id serial PRIMARY KEY, label text, what text)"
    )
    first = _machine(tmp_path / "machine-a", "seattle-weather")
    second = _machine(tmp_path / "machine-b", "seattle-weather")
    other = _machine(tmp_path / "machine-c", "another-model")

    a = _start(first, "a", url, holders)
    wait_for(lambda: _events(postgres, database) == ["a acquired"], 120, "a to hold the lock", 0.2)
    b = _start(second, "b", url, holders)
    wait_for(lambda: _waiting_for_the_lock(postgres, database) == 1, 120, "b to wait", 0.2)
    # Another model's writer does not wait for a's lock.
    _release(_start(other, "c", url, holders))
    assert _events(postgres, database) == ["a acquired", "c acquired", "c released"]
    assert b.poll() is None  # still waiting

    _release(a)
    wait_for(lambda: len(_events(postgres, database)) == 5, 120, "b to take the lock", 0.2)
    _release(b)

    assert _events(postgres, database) == [
        "a acquired",
        "c acquired",
        "c released",
        "a released",
        "b acquired",
        "b released",
    ]
    # Nothing shared on disk: each machine has its own directories, and no lock file.
    assert not any(p.name.endswith(".lock") for p in tmp_path.rglob("*"))
