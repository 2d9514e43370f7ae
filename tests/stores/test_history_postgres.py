"""The monitoring history on PostgreSQL (history.url): the same records as on SQLite, row-level
locking (writers of other models and windows never wait), concurrent processes, clear errors.

The cluster is the session's throwaway one (tests/postgres.py): a process, so these are slow,
like the sql source's PostgreSQL tests; each test has a database of its own.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tasks.config import HistoryConfig
from tasks.core.policy import Breaches
from tasks.errors import RegistryError
from tasks.stores.history import MonitoringHistory, RunRecord, open_history
from tests.helpers import make_decision
from tests.postgres import Postgres
from tests.processes import free_port, wait_for

START = datetime(2014, 1, 1)


def _record(
    day: int,
    *,
    action: str = "none",
    status: str = "healthy",
    retrained: bool = False,
    promoted: bool = False,
    request_id: str | None = None,
    drift: bool | None = False,
) -> RunRecord:
    decision = make_decision(
        action=action,
        breaches=Breaches(
            drift=drift,
            prediction_drift=None,
            performance=day % 3 == 0,
            severe=False,
            estimated_performance=None if day < 5 else day % 2 == 0,
        ),
        performance=0.5 + day / 1000,
        severe_performance_threshold=None,
        confirmed=(),
        estimated_performance=None if day < 5 else 0.4 + day / 1000,
    )
    return RunRecord(
        START + timedelta(days=day),
        "v0001",
        decision,
        status,
        retrained,
        promoted,
        {"day": day},
        request_id,
    )


def _settings(postgres: Postgres, prefix: str = "history") -> HistoryConfig:
    return HistoryConfig.model_validate({"url": postgres.url(postgres.create_database(prefix))})


def _script(history: MonitoringHistory) -> dict[str, Any]:
    """One sequence of writes and reads; everything it saw, timestamps of the writes aside."""
    for day in range(12):
        history.record("m", _record(day, drift=None if day == 4 else day % 2 == 1))
    history.record(
        "m", _record(20, action="retrain", status="promoted", retrained=True, promoted=True)
    )
    history.record("m", _record(20, status="cooldown"))  # a rerun keeps the promotion
    history.record("m", _record(30, action="retrain", status="retrain-requested", request_id="r"))
    outcome = history.record_outcome("m", "r", "rejected")
    history.record("other", _record(25))
    rows = history.rows("m") + history.rows("other")
    for row in rows:
        row.pop("recorded_at")
        row.pop("id")
        details = json.loads(row["details"])
        for replaced in details.get("replaced", []):
            replaced.pop("recorded_at")
        row["details"] = details
    return {
        "rows": rows,
        "outcome": outcome,
        "models": history.models(),
        "count": history.count("m"),
        "recent": history.recent("m", START + timedelta(days=31), limit=4),
        "spaced": history.recent("m", START + timedelta(days=31), 4, timedelta(days=5)),
        "last_retrain": history.last_retrain("m", START + timedelta(days=29)),
        "none_yet": history.last_retrain("m", START + timedelta(days=19)),
    }


@pytest.mark.slow
def test_postgresql_keeps_the_same_records_as_sqlite(postgres: Postgres, tmp_path: Path) -> None:
    on_sqlite = _script(open_history(tmp_path))
    on_postgres = _script(open_history(tmp_path / "unused", _settings(postgres)))

    assert on_postgres == on_sqlite
    assert not (tmp_path / "unused").exists()  # nothing written next to the registry
    assert on_postgres["count"] == 14 and on_postgres["outcome"] == 1
    assert on_postgres["models"] == ["m", "other"]
    window = on_postgres["rows"][12]
    assert (window["status"], window["retrained"], window["promoted"], window["runs"]) == (
        "cooldown",
        1,
        1,
        2,
    )
    assert isinstance(window["performance"], float) and isinstance(window["severe"], int)
    assert on_postgres["rows"][13]["status"] == "rejected"
    assert [(run.as_of - START).days for run in on_postgres["spaced"]] == [20, 11, 6, 1]
    assert on_postgres["last_retrain"] == START + timedelta(days=20)
    assert on_postgres["none_yet"] is None


def _waiting_on_a_lock(postgres: Postgres, database: str) -> bool:
    waiting = postgres.psql(
        database,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock'",
    )
    return int(waiting.strip()) > 0


@pytest.mark.slow
def test_a_window_being_written_blocks_only_its_own_reruns(
    postgres: Postgres, tmp_path: Path
) -> None:
    settings = _settings(postgres)
    assert settings.url is not None
    database = settings.url.reveal().rsplit("/", 1)[1]
    history = open_history(tmp_path, settings)
    history.record("a", _record(0))
    engine = sa.create_engine(settings.url.reveal())
    rerun_done = threading.Event()

    def rerun() -> None:
        history.record("a", _record(0, status="drift-noted"))
        rerun_done.set()

    with engine.connect() as holder, holder.begin():
        # Another writer's transaction in the middle of rewriting model a's window of day 0
        # (what a rerun's record() holds: the row's lock, the table's ROW EXCLUSIVE).
        holder.exec_driver_sql(
            "UPDATE monitor_runs SET runs = runs WHERE model_name = 'a' AND as_of = %(as_of)s",
            {"as_of": START.isoformat()},
        )
        # Other models, and other windows of the same model, are written meanwhile.
        others_done = threading.Event()

        def others() -> None:
            history.record("b", _record(0))
            history.record("a", _record(1))
            others_done.set()

        threading.Thread(target=others, daemon=True).start()
        wait_for(others_done.is_set, 60, "the writes of other windows", 0.1)
        assert history.count("b") == 1 and history.count("a") == 2
        # A rerun of the locked window waits for that transaction (row lock), and only it.
        thread = threading.Thread(target=rerun)
        thread.start()
        wait_for(lambda: _waiting_on_a_lock(postgres, database), 60, "the rerun to wait", 0.1)
        assert not rerun_done.is_set()
        assert [row["runs"] for row in history.rows("a")] == [1, 1]  # readers never wait
    thread.join(timeout=60)
    engine.dispose()

    assert rerun_done.is_set()
    first = history.rows("a")[0]
    assert (first["status"], first["runs"]) == ("drift-noted", 2)


def _rerun_many(url: str, worker: int, count: int) -> None:
    history = open_history(Path("unused"), HistoryConfig.model_validate({"url": url}))
    for index in range(count):
        retrained = worker == 0 and index % 2 == 0
        history.record("m", _record(index, retrained=retrained))
        history.record(f"model-{worker}", _record(index))


@pytest.mark.slow
def test_concurrent_processes_create_the_table_once_and_lose_nothing(
    postgres: Postgres,
) -> None:
    settings = _settings(postgres)
    assert settings.url is not None
    url = settings.url.reveal()
    context = multiprocessing.get_context("spawn")
    # Four processes open the empty database at once (each creates the table unless another
    # did), then rerun the same 20 windows of m and write 20 of their own model.
    workers = [context.Process(target=_rerun_many, args=(url, w, 20)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)

    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    history = open_history(Path("unused"), settings)
    rows = history.rows("m")
    assert [(r["as_of"], r["runs"]) for r in rows] == [
        ((START + timedelta(days=i)).isoformat(), 4) for i in range(20)
    ]
    # Worker 0's retrains survive whichever worker wrote a window last.
    assert [r["retrained"] for r in rows] == [int(i % 2 == 0) for i in range(20)]
    assert [history.count(f"model-{w}") for w in range(4)] == [20, 20, 20, 20]


def test_an_unreachable_database_fails_clearly_without_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    password = "pw-5f1c9e"
    url = f"postgresql+psycopg://loop:{password}@127.0.0.1:{free_port()}/history"
    monkeypatch.setenv("AUTORETRAIN_TEST_HISTORY_URL", url)
    settings = HistoryConfig.model_validate({"url": "${AUTORETRAIN_TEST_HISTORY_URL}"})

    with pytest.raises(RegistryError) as caught:
        open_history(tmp_path, settings)

    message = str(caught.value)
    assert message.startswith(
        "cannot open the monitoring history history.url (from $AUTORETRAIN_TEST_HISTORY_URL): "
    )
    assert "Connection refused" in message
    assert "(check history.url: the database is up, reachable" in message
    assert password not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_secret_url_of_another_database_is_refused_when_opened(tmp_path: Path) -> None:
    # A {secret: name} is read at run time, after the config's checks: checked again on open.
    settings = HistoryConfig.model_validate({"url": {"secret": "history-db"}})
    assert settings.url is not None
    read = settings.model_copy(
        update={"url": settings.url.with_value("mysql+pymysql://loop:pw@db/h")}
    )

    with pytest.raises(RegistryError, match=r"^history.url: the value from Prefect Secret block"):
        open_history(tmp_path, read)


@pytest.mark.slow
def test_the_histories_of_many_models_share_one_pool(postgres: Postgres, tmp_path: Path) -> None:
    # A fleet opens every model's stores in one process: not a pool of connections each.
    settings = _settings(postgres)
    assert settings.url is not None
    database = settings.url.reveal().rsplit("/", 1)[1]
    histories = [open_history(tmp_path, settings) for _ in range(20)]
    for number, history in enumerate(histories):
        history.record(f"model-{number}", _record(0))
        assert history.count(f"model-{number}") == 1

    connections = postgres.psql(
        database, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    )
    assert int(connections.strip()) <= 1 + 6  # psql's own, and one pool of 2 + 4 overflow
