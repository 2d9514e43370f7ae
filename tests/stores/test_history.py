"""The SQLite monitoring history: round trips, ordering, and overlapping writers."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tasks.core.policy import Breaches, TriggerDecision
from tasks.stores.history import HISTORY_FILE, MonitorHistory, RunRecord, open_history
from tests.helpers import make_decision

START = datetime(2014, 1, 1)


def _decision(action: str = "none", *, drift: bool | None = False) -> TriggerDecision:
    return make_decision(  # type: ignore[no-any-return]
        action=action,
        breaches=Breaches(drift=drift, prediction_drift=None, performance=False, severe=False),
        performance=0.7,
        severe_performance_threshold=None,
        confirmed=(),
    )


def _record(day: int, *, retrained: bool = False, drift: bool | None = False) -> RunRecord:
    return RunRecord(
        as_of=START + timedelta(days=day),
        champion="v0001",
        decision=_decision("retrain" if retrained else "none", drift=drift),
        status="rejected" if retrained else "healthy",
        retrained=retrained,
        promoted=False,
        details={"worker": day},
    )


def test_recent_runs_come_back_newest_first_up_to_as_of(tmp_path: Path) -> None:
    history = open_history(tmp_path)
    for day in (0, 1, 2, 3):
        history.record("m", _record(day, drift=day % 2 == 1))
    history.record("other-model", _record(5))

    recent = history.recent("m", START + timedelta(days=2), limit=5)

    assert [run.as_of.day for run in recent] == [3, 2, 1]
    assert [run.drift_breach for run in recent] == [False, True, False]
    assert (tmp_path / HISTORY_FILE).is_file()


def test_recent_with_min_spacing_skips_runs_closer_than_it(tmp_path: Path) -> None:
    history = open_history(tmp_path)
    for day in [*range(0, 12), 20, 21, 30]:  # daily runs, then a gap
        history.record("m", _record(day))
    history.record("other-model", _record(25))

    as_of = START + timedelta(days=31)
    spaced = history.recent("m", as_of, limit=4, min_spacing=timedelta(days=5))
    every = history.recent("m", as_of, limit=4)

    # Each run at least 5 days before the next, starting from the run at as_of itself.
    assert [(run.as_of - START).days for run in spaced] == [21, 11, 6, 1]
    assert [(run.as_of - START).days for run in every] == [30, 21, 20, 11]
    assert history.recent("m", START + timedelta(days=4), 3, timedelta(days=5)) == []


def test_not_judged_is_kept_apart_from_no_breach(tmp_path: Path) -> None:
    history = open_history(tmp_path)
    history.record("m", _record(0, drift=None))

    (run,) = history.recent("m", START, limit=1)

    assert run.drift_breach is None


def test_last_retrain_ignores_later_runs_and_other_runs(tmp_path: Path) -> None:
    history = open_history(tmp_path)
    history.record("m", _record(0))
    history.record("m", _record(10, retrained=True))
    history.record("m", _record(20))
    history.record("m", _record(30, retrained=True))

    assert history.last_retrain("m", START + timedelta(days=25)) == START + timedelta(days=10)
    assert history.last_retrain("m", START + timedelta(days=5)) is None
    assert history.last_retrain("other", START + timedelta(days=40)) is None


def test_the_store_uses_wal_and_an_index_for_recent_runs(tmp_path: Path) -> None:
    history = open_history(tmp_path)
    with sqlite3.connect(history.path) as connection:
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
        plan = connection.execute(
            "EXPLAIN QUERY PLAN SELECT as_of FROM monitor_runs WHERE model_name = ? "
            "AND as_of <= ? ORDER BY as_of DESC, id DESC LIMIT 3",
            ("m", "2014"),
        ).fetchall()
    assert mode == "wal"
    assert any("monitor_runs_recent" in str(row) for row in plan)


def test_an_unreadable_store_fails_with_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / HISTORY_FILE).write_bytes(b"this is not a database" * 100)

    with pytest.raises(Exception, match="cannot open the monitoring history"):
        open_history(tmp_path)


def _write_many(path: str, worker: int, count: int) -> None:
    history = MonitorHistory(Path(path))
    for index in range(count):
        history.record("m", _record(worker * 1000 + index))


@pytest.mark.slow
def test_concurrent_writers_in_separate_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / HISTORY_FILE
    MonitorHistory(path)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(str(path), w, 50)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    history = MonitorHistory(path)
    assert history.count("m") == 200
    rows = history.rows("m")
    assert len({row["id"] for row in rows}) == 200
    assert sorted({row["as_of"] for row in rows}) == sorted(
        (START + timedelta(days=w * 1000 + i)).isoformat() for w in range(4) for i in range(50)
    )


def test_the_estimate_and_its_breach_round_trip(tmp_path: Path) -> None:
    history = open_history(tmp_path)
    decision = make_decision(
        action="retrain",
        breaches=Breaches(
            drift=False,
            prediction_drift=None,
            performance=None,
            severe=False,
            estimated_performance=True,
        ),
        performance=None,
        severe_performance_threshold=None,
        confirmed=("estimated_performance",),
        estimated_performance=0.41,
    )
    history.record(
        "m",
        RunRecord(START, "v0001", decision, "rejected", retrained=True, promoted=False, details={}),
    )

    (run,) = history.recent("m", START + timedelta(days=1), limit=3)
    (row,) = history.rows("m")

    assert run.estimated_performance_breach is True
    assert row["estimated_performance"] == 0.41
    assert row["estimated_performance_breach"] == 1


def test_a_file_from_before_the_estimate_gains_its_columns(tmp_path: Path) -> None:
    # the table as it was before the estimate, with one run in it
    path = tmp_path / HISTORY_FILE
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE monitor_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, model_name TEXT "
            "NOT NULL, as_of TEXT NOT NULL, recorded_at TEXT NOT NULL, champion TEXT, "
            "drift_breach INTEGER, prediction_drift_breach INTEGER, performance_breach INTEGER, "
            "severe INTEGER NOT NULL, drift_share REAL, prediction_drift_score REAL, performance "
            "REAL, labelled_rows INTEGER NOT NULL, current_rows INTEGER NOT NULL, decision TEXT "
            "NOT NULL, status TEXT NOT NULL, retrained INTEGER NOT NULL, promoted INTEGER NOT "
            "NULL, details TEXT NOT NULL)"
        )
        connection.execute(
            "INSERT INTO monitor_runs (model_name, as_of, recorded_at, champion, drift_breach,"
            " severe, labelled_rows, current_rows, decision, status, retrained, promoted,"
            " details) VALUES ('m', ?, ?, 'v0001', 1, 0, 90, 90, 'none', 'healthy', 0, 0, '{}')",
            (START.isoformat(), START.isoformat()),
        )
    connection.close()

    history = open_history(tmp_path)
    history.record("m", _record(1))
    open_history(tmp_path)  # opening again adds nothing twice

    old, new = history.recent("m", START + timedelta(days=2), limit=5)[::-1]
    assert old.drift_breach is True
    assert old.estimated_performance_breach is None  # not judged before the estimate existed
    assert new.estimated_performance_breach is None
    assert [row["estimated_performance"] for row in history.rows("m")] == [None, None]
