"""A history file written by the last release before SQLAlchemy (tests/stores/legacy_history.py,
today's code then) opens with the current code: every row kept as it was, and the policy's
queries, reruns and outcomes work on it."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tasks.core.policy import Breaches, TriggerDecision
from tasks.stores.history import HISTORY_FILE, RunRecord, open_history
from tests.helpers import make_decision
from tests.stores import legacy_history

START = datetime(2014, 1, 1)


def _decision(day: int, action: str) -> TriggerDecision:
    return make_decision(
        action=action,
        breaches=Breaches(
            drift=day % 2 == 0,
            prediction_drift=None if day < 20 else day % 3 == 0,
            performance=day >= 30,
            severe=False,
            estimated_performance=None if day < 40 else True,
        ),
        performance=0.5 + day / 100,
        severe_performance_threshold=None,
        confirmed=(),
        estimated_performance=None if day < 40 else 0.41,
    )


def _legacy_file(registry: Path) -> list[dict[str, object]]:
    """Write a history with the old code (new windows, a rerun, an events-mode request and its
    outcome, two models); return its rows as the old code reads them."""
    old = legacy_history.open_history(registry)
    for day, action, status in [
        (0, "none", "healthy"),
        (10, "none", "drift-noted"),
        (30, "retrain", "promoted"),
        (40, "retrain", "retrain-requested"),
    ]:
        old.record(
            "m",
            legacy_history.RunRecord(
                as_of=START + timedelta(days=day),
                champion="v0001" if day < 30 else "v0002",
                decision=_decision(day, action),
                status=status,
                retrained=action == "retrain",
                promoted=status == "promoted",
                details={"day": day},
                request_id="req-40" if day == 40 else None,
            ),
        )
    old.record_outcome("m", "req-40", "rejected")
    # A rerun of day 30 replaces its record, keeping its promotion.
    old.record(
        "m",
        legacy_history.RunRecord(
            START + timedelta(days=30),
            "v0002",
            _decision(30, "none"),
            "cooldown",
            retrained=False,
            promoted=False,
            details={"rerun": True},
        ),
    )
    old.record(
        "other",
        legacy_history.RunRecord(
            START, None, _decision(0, "none"), "insufficient-data", False, False, {}
        ),
    )
    return old.rows("m") + old.rows("other")


def test_a_file_written_by_the_last_release_opens_with_every_row_kept(tmp_path: Path) -> None:
    before = _legacy_file(tmp_path)
    assert len(before) == 5

    history = open_history(tmp_path)

    assert history.rows("m") + history.rows("other") == before
    assert history.models() == ["m", "other"]
    # The policy reads it as the old code did.
    past = history.recent("m", START + timedelta(days=50), limit=5)
    assert [(run.as_of - START).days for run in past] == [40, 30, 10, 0]
    assert [run.estimated_performance_breach for run in past] == [True, None, None, None]
    assert history.last_retrain("m", START + timedelta(days=50)) == START + timedelta(days=40)
    # New runs join it: a rerun replaces its window's record, an outcome finds its request.
    recorded = history.record(
        "m",
        RunRecord(
            START + timedelta(days=40),
            "v0002",
            _decision(40, "none"),
            "cooldown",
            retrained=False,
            promoted=False,
            details={},
        ),
    )
    assert recorded.replaced is not None and recorded.replaced.status == "rejected"
    assert recorded.replaced.request_id == "req-40"
    assert history.record_outcome("m", "req-40", "promoted") == 1
    window = history.rows("m")[-1]
    assert (window["status"], window["runs"], window["retrained"], window["promoted"]) == (
        "cooldown",
        2,
        1,
        1,
    )
    assert [run["status"] for run in json.loads(window["details"])["replaced"]] == ["rejected"]


def test_the_old_code_reads_what_the_new_code_wrote(tmp_path: Path) -> None:
    # A machine not yet upgraded and one upgraded may share a registry.path for a while.
    _legacy_file(tmp_path)
    history = open_history(tmp_path)
    history.record(
        "m",
        RunRecord(
            START + timedelta(days=50),
            "v0002",
            _decision(50, "none"),
            "healthy",
            False,
            False,
            {},
        ),
    )

    assert legacy_history.open_history(tmp_path).rows("m") == history.rows("m")


def test_the_migrated_file_keeps_its_unique_window_and_wal(tmp_path: Path) -> None:
    _legacy_file(tmp_path)
    open_history(tmp_path)

    with sqlite3.connect(tmp_path / HISTORY_FILE) as connection:
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            connection.execute(
                "INSERT INTO monitor_runs (model_name, as_of, recorded_at, severe, labelled_rows,"
                " current_rows, decision, status, retrained, promoted, details)"
                " VALUES ('m', ?, 'now', 0, 0, 0, 'none', 'healthy', 0, 0, '{}')",
                (START.isoformat(),),
            )
    connection.close()
    assert mode == "wal"
