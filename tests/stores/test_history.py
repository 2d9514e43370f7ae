"""The SQLite monitoring history: round trips, ordering, and overlapping writers."""

from __future__ import annotations

import json
import logging
import multiprocessing
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tasks.core.policy import Breaches, TriggerDecision
from tasks.core.reasons import read_reasons
from tasks.stores.history import HISTORY_FILE, MonitorHistory, RunRecord, open_history
from tests.core.test_reasons import decisions
from tests.helpers import make_decision

START = datetime(2014, 1, 1)


def _decision(action: str = "none", *, drift: bool | None = False) -> TriggerDecision:
    return make_decision(
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


def test_recent_runs_come_back_newest_first_before_as_of(tmp_path: Path) -> None:
    history = open_history(tmp_path)
    for day in (0, 1, 2, 3):
        history.record("m", _record(day, drift=day % 2 == 1))
    history.record("other-model", _record(5))

    recent = history.recent("m", START + timedelta(days=2), limit=5)

    # Not the record of day 2 itself: a run at day 2 is a rerun of that window.
    assert [(run.as_of - START).days for run in recent] == [1, 0]
    assert [run.drift_breach for run in recent] == [True, False]
    assert (tmp_path / HISTORY_FILE).is_file()


def test_champion_runs_are_every_run_of_one_champion_before_as_of_oldest_first(
    tmp_path: Path,
) -> None:
    history = open_history(tmp_path)
    for day in (0, 1, 2, 3, 4):
        history.record("m", _record(day, retrained=day == 1))
    history.record(
        "m",
        RunRecord(
            START + timedelta(days=2, hours=12), "v0002", _decision(), "healthy", False, False, {}
        ),
    )
    history.record("other-model", _record(1))

    runs = history.champion_runs("m", "v0001", START + timedelta(days=3))

    # Oldest first, not the record of as_of itself, not v0002's, not the other model's.
    assert [(run.as_of - START).days for run in runs] == [0, 1, 2]
    assert [run.retrained for run in runs] == [False, True, False]
    assert runs[0].performance == pytest.approx(0.7)  # what the drop reference reads
    assert runs[0].labelled_rows == make_decision().labelled_rows
    assert runs[0].severe is False
    assert history.champion_runs("m", "v0003", START + timedelta(days=9)) == []


def test_champion_runs_carry_the_status_so_a_pending_retrain_is_not_a_rejection(
    tmp_path: Path,
) -> None:
    # Events mode: the monitor records "retrain-requested"; the promote run records the verdict
    # later (record_outcome). Until then the back-off must not count the retrain as rejected.
    from tasks.core.backoff import rejected

    history = open_history(tmp_path)
    history.record("m", _record(0, retrained=True))
    pending = RunRecord(
        START + timedelta(days=1),
        "v0001",
        _decision("retrain"),
        "retrain-requested",
        True,
        False,
        {},
        request_id="req-1",
    )
    history.record("m", pending)

    runs = history.champion_runs("m", "v0001", START + timedelta(days=2))
    assert [run.status for run in runs] == ["rejected", "retrain-requested"]
    assert [rejected(run) for run in runs] == [True, False]

    assert history.record_outcome("m", "req-1", "rejected") == 1
    runs = history.champion_runs("m", "v0001", START + timedelta(days=2))
    assert [rejected(run) for run in runs] == [True, True]


def test_a_rerun_of_a_window_replaces_its_record_and_keeps_its_retrain(tmp_path: Path) -> None:
    history = open_history(tmp_path)
    history.record("m", _record(0))
    first = RunRecord(
        START + timedelta(days=30),
        "v0001",
        _decision("retrain", drift=True),
        "promoted",
        retrained=True,
        promoted=True,
        details={"worker": 1},
    )
    assert history.record("m", first).replaced is None

    # The rerun monitors the champion the first run promoted, on the same window.
    recorded = history.record(
        "m", RunRecord(first.as_of, "v0002", _decision(), "healthy", False, False, {"worker": 2})
    )

    assert recorded.replaced is not None
    assert (recorded.replaced.champion, recorded.replaced.status) == ("v0001", "promoted")
    assert recorded.replaced.retrained and recorded.replaced.promoted
    assert recorded.replaced.runs == 1
    assert history.count("m") == 2
    row = history.rows("m")[-1]
    assert row["id"] == recorded.id
    assert (row["champion"], row["decision"], row["status"]) == ("v0002", "none", "healthy")
    # What the window led to stays: the cooldown reads it.
    assert (row["retrained"], row["promoted"], row["runs"]) == (1, 1, 2)
    assert history.last_retrain("m", first.as_of) == first.as_of
    details = json.loads(row["details"])
    assert details["worker"] == 2
    assert details["replaced"] == [
        {
            "recorded_at": recorded.replaced.recorded_at,
            "champion": "v0001",
            "decision": "retrain",
            "status": "promoted",
            "retrained": True,
            "promoted": True,
        }
    ]
    # One window, whatever the number of runs: a rerun sees only the windows before its own.
    (earlier,) = history.recent("m", first.as_of, limit=3)
    assert earlier.as_of == START
    rerun = RunRecord(first.as_of, "v0002", _decision(), "healthy", False, False, {})
    third = history.record("m", rerun)
    assert third.replaced is not None and third.replaced.runs == 2
    untouched, window = history.rows("m")
    assert "replaced" not in json.loads(untouched["details"]) and untouched["runs"] == 1
    assert window["runs"] == 3
    assert [run["status"] for run in json.loads(window["details"])["replaced"]] == [
        "promoted",
        "healthy",
    ]


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

    (run,) = history.recent("m", START + timedelta(days=1), limit=1)

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
    assert isinstance(history, MonitorHistory) and history.path is not None
    with sqlite3.connect(history.path) as connection:
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
        plan = connection.execute(
            "EXPLAIN QUERY PLAN SELECT as_of FROM monitor_runs WHERE model_name = ? "
            "AND as_of < ? ORDER BY as_of DESC, id DESC LIMIT 3",
            ("m", "2014"),
        ).fetchall()
    assert mode == "wal"
    assert any("monitor_runs_window" in str(row) for row in plan)


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


def _old_file(path: Path, runs: list[tuple[int, str, str, int, int]]) -> None:
    """The table as it was before the estimate (and before windows were unique), with runs
    (day, champion, status, retrained, promoted) of model m in it, in that order."""
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
            "CREATE INDEX monitor_runs_recent ON monitor_runs (model_name, as_of, id)"
        )
        for number, (day, champion, status, retrained, promoted) in enumerate(runs):
            connection.execute(
                "INSERT INTO monitor_runs (model_name, as_of, recorded_at, champion, drift_breach,"
                " severe, labelled_rows, current_rows, decision, status, retrained, promoted,"
                " details) VALUES ('m', ?, ?, ?, 1, 0, 90, 90, ?, ?, ?, ?, ?)",
                (
                    (START + timedelta(days=day)).isoformat(),
                    f"2026-01-0{number + 1}T06:00:00+00:00",
                    champion,
                    "retrain" if retrained else "none",
                    status,
                    retrained,
                    promoted,
                    json.dumps({"run": number}),
                ),
            )
    connection.close()


def test_a_file_from_before_the_estimate_gains_its_columns(tmp_path: Path) -> None:
    _old_file(tmp_path / HISTORY_FILE, [(0, "v0001", "healthy", 0, 0)])

    history = open_history(tmp_path)
    history.record("m", _record(1))
    open_history(tmp_path)  # opening again adds nothing twice

    old, new = history.recent("m", START + timedelta(days=2), limit=5)[::-1]
    assert old.drift_breach is True
    assert old.estimated_performance_breach is None  # not judged before the estimate existed
    assert new.estimated_performance_breach is None
    assert [row["estimated_performance"] for row in history.rows("m")] == [None, None]


def test_an_old_file_with_reruns_keeps_one_record_per_window(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A daily schedule on a fixed as_of monitored day 30 three times; the first run promoted.
    _old_file(
        tmp_path / HISTORY_FILE,
        [
            (0, "v0001", "healthy", 0, 0),
            (30, "v0001", "promoted", 1, 1),
            (30, "v0002", "cooldown", 0, 0),
            (30, "v0002", "healthy", 0, 0),
        ],
    )

    with caplog.at_level(logging.WARNING, logger="tasks.stores.history"):
        history = open_history(tmp_path)

    assert "merged 2 earlier runs of 1 windows monitored more than once" in caplog.text
    rows = history.rows("m")
    assert [(r["as_of"][:10], r["champion"], r["status"]) for r in rows] == [
        ("2014-01-01", "v0001", "healthy"),
        ("2014-01-31", "v0002", "healthy"),  # the latest run of the window
    ]
    # ... with the promotion of the first one, and the earlier runs listed.
    assert [(r["retrained"], r["promoted"], r["runs"]) for r in rows] == [(0, 0, 1), (1, 1, 3)]
    details = json.loads(rows[1]["details"])
    assert details["run"] == 3
    assert [(run["champion"], run["status"]) for run in details["replaced"]] == [
        ("v0001", "promoted"),
        ("v0002", "cooldown"),
    ]
    assert history.last_retrain("m", START + timedelta(days=40)) == START + timedelta(days=30)
    # The window is unique from now on, and opening again changes nothing.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tasks.stores.history"):
        again = open_history(tmp_path)
    assert caplog.text == ""
    assert again.rows("m") == rows
    with (
        sqlite3.connect(tmp_path / HISTORY_FILE) as connection,
        pytest.raises(sqlite3.IntegrityError, match="UNIQUE"),
    ):
        connection.execute(
            "INSERT INTO monitor_runs (model_name, as_of, recorded_at, severe, labelled_rows,"
            " current_rows, decision, status, retrained, promoted, details)"
            " VALUES ('m', ?, 'now', 0, 0, 0, 'none', 'healthy', 0, 0, '{}')",
            ((START + timedelta(days=30)).isoformat(),),
        )
    connection.close()


def _rerun_many(path: str, worker: int, count: int) -> None:
    history = MonitorHistory(Path(path))
    for index in range(count):
        history.record("m", _record(index, retrained=worker == 0 and index % 2 == 0))


@pytest.mark.slow
def test_concurrent_reruns_of_the_same_windows_keep_one_record_each(tmp_path: Path) -> None:
    path = tmp_path / HISTORY_FILE
    MonitorHistory(path)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_rerun_many, args=(str(path), w, 20)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    rows = MonitorHistory(path).rows("m")
    assert [(r["as_of"], r["runs"]) for r in rows] == [
        ((START + timedelta(days=i)).isoformat(), 4) for i in range(20)
    ]
    # Worker 0's retrains survive whichever worker wrote a window last.
    assert [r["retrained"] for r in rows] == [int(i % 2 == 0) for i in range(20)]


def test_a_record_keeps_each_reason_with_its_code_and_numbers(tmp_path: Path) -> None:
    decision = decisions()[0]
    history = open_history(tmp_path)
    history.record("m", RunRecord(START, "v0001", decision, "retrain-requested", True, False, {}))

    details = json.loads(history.rows("m")[0]["details"])

    assert details["reasons"] == list(decision.reasons)
    assert [item["code"] for item in details["reason_codes"]] == [
        item.code for item in decision.reason_codes
    ]
    # Read back, the codes and numbers alone give the sentences; a record written before the
    # codes existed (no reason_codes) reads as no codes.
    assert [item.text for item in read_reasons(details)] == details["reasons"]
    assert read_reasons({"reasons": details["reasons"]}) == ()
