"""The watch after a promotion, end to end with the real flows, on a log built to fool the gate.

Labels follow x0 except for a temporary relabelling (they follow x1) over the 90 days before
the first monitor run, which reverts right after it. The challenger trained and judged inside
the relabelling wins its holdout clearly and is promoted; on the rows after its holdout the
first champion is far better, so the next monitor run rolls back, and the challenger is never
promoted again.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flows import rollback as rollback_module
from flows.monitor import monitor_flow
from flows.promote import promote_flow
from tasks.config import load_config
from tasks.core.reasons import codes
from tasks.core.windows import Window
from tasks.steps.promotion import evaluate_on_holdout
from tasks.stores.history import open_history
from tasks.stores.registry import LocalRegistry
from tasks.stores.resources import open_stores
from tests.reasons import params_of

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

START = datetime(2020, 1, 1)
RELABELLED = (datetime(2020, 3, 31), datetime(2020, 6, 29))  # the temporary relabelling
PROMOTED_AT = RELABELLED[1]  # the first monitor run: bootstrap, then retrain and promote
ROWS_PER_DAY = 10


def _fooling_log(directory: Path, text_in: tuple[datetime, datetime] | None = None) -> None:
    """Two informative features; the label follows x0, or x1 during the relabelling.

    text_in: x2 is written as text ("0.123") and is "n/a" in every fifth row of this span (a
    feed that started sending text for a missing reading)."""
    rng = np.random.default_rng(29)
    days = 240
    stamps = [
        START + timedelta(days=day, hours=24 * k / ROWS_PER_DAY)
        for day in range(days)
        for k in range(ROWS_PER_DAY)
    ]
    x = rng.normal(size=(len(stamps), 3))
    relabelled = np.array([RELABELLED[0] <= t < RELABELLED[1] for t in stamps])
    label = np.where(relabelled, x[:, 1] > 0, x[:, 0] > 0)
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(stamps).astype("datetime64[us]"),
            "x0": x[:, 0],
            "x1": x[:, 1],
            "x2": x[:, 2],
            "y": np.where(label, "yes", "no").astype(object),
        }
    )
    if text_in is not None:
        text = frame["x2"].map(str).astype(object)
        broken = frame["timestamp"].between(*text_in, inclusive="left") & (frame.index % 5 == 0)
        text[broken] = "n/a"
        frame["x2"] = text
    directory.mkdir(parents=True)
    frame.to_parquet(directory / "log.parquet", index=False)


def _config(
    write_config: Any,
    tmp_path: Path,
    text_in: tuple[datetime, datetime] | None = None,
    **policy: Any,
) -> Path:
    _fooling_log(tmp_path / "log", text_in)
    return write_config(
        {
            "name": "fooled",
            "data": {
                "source": {"kind": "files", "path": str(tmp_path / "log"), "format": "parquet"},
                "timestamp_column": "timestamp",
                "target_column": "y",
                "numerical_features": ["x0", "x1", "x2"],
                "categorical_features": [],
            },
            "model": {"params": {"n_estimators": 30, "min_samples_leaf": 3, "random_state": 0}},
            "policy": {
                "performance_metric": {"name": "accuracy"},
                "performance_threshold": 0.8,
                "severe_performance_threshold": 0.6,
                **policy,
            },
            "windows": {"as_of": None, "current": "30d", "holdout": "30d", "training": "60d"},
            "training": {"change_aware": False},
            "bootstrap": {"training_start": "2020-01-01", "training_end": "2020-03-01"},
            "registry": {"path": str(tmp_path / "registry")},
            "reports": {"path": str(tmp_path / "reports")},
        }
    )


def test_a_promotion_the_rows_after_its_holdout_refute_is_rolled_back_and_never_repeated(
    write_config: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = _config(write_config, tmp_path)
    events: list[tuple[str, dict[str, Any]]] = []
    emit = rollback_module.emit_model_event

    def recording(config: Any, name: str, payload: dict[str, Any]) -> None:
        events.append((name, payload))
        emit(config, name, payload)

    monkeypatch.setattr(rollback_module, "emit_model_event", recording)

    # The gate is fooled: on its holdout (inside the relabelling) the challenger wins clearly.
    first = monitor_flow(str(config_path), as_of=PROMOTED_AT.isoformat())

    assert first.bootstrap is not None and first.champion_before == "v0001"
    assert first.status == "promoted" and first.champion_after == "v0002"
    assert first.comparison is not None and first.comparison.interval is not None
    assert first.comparison.interval.lower > 0.2
    assert first.watch is None  # v0001 was bootstrapped, not promoted over another

    # The labels revert: on the rows after the holdout, v0001 is far better.
    watched_at = PROMOTED_AT + timedelta(days=30)
    second = monitor_flow(str(config_path), as_of=watched_at.isoformat())

    assert second.champion_before == "v0002"
    assert second.status == "rolled-back" and second.champion_after == "v0001"
    assert second.comparison is None and second.retrain_request is None
    watch = second.watch
    assert watch is not None and watch.action == "rollback"
    numbers = params_of(watch.reason_codes, "watch-rollback")
    assert (numbers["champion"], numbers["previous"], numbers["window"], numbers["windows"]) == (
        "v0002",
        "v0001",
        1,
        3,
    )
    # Only rows after the promotion's holdout (which ended at PROMOTED_AT) are compared.
    assert numbers["rows_start"] == PROMOTED_AT.isoformat()
    assert numbers["rows_end"] == watched_at.isoformat()
    assert numbers["rows"] == 30 * ROWS_PER_DAY
    assert numbers["previous_score"] > 0.9 and numbers["champion_score"] < 0.7
    assert numbers["lower"] >= numbers["required"] == pytest.approx(0.02)

    registry = LocalRegistry(tmp_path / "registry", "fooled")
    # The same compare-and-swap rollback as `autoretrain rollback`, by the watch, with why.
    last = registry.history()[-1]
    assert (last.action, last.alias, last.from_version, last.to_version, last.actor) == (
        "rollback",
        "champion",
        "v0002",
        "v0001",
        "autoretrain watch",
    )
    assert watch.comparison_id is not None and watch.comparison_id in last.reason
    assert "watch-rollback" not in last.reason and "the previous champion is better" in last.reason
    assert registry.get_version("v0002").status == "rolled-back"
    assert registry.get_version("v0001").status == "champion"
    assert [(name, payload["from"], payload["to"]) for name, payload in events] == [
        ("model.rolled-back", "v0002", "v0001")
    ]
    # The comparison says which rows' paired numbers triggered it.
    saved = registry.load_comparison(watch.comparison_id)
    assert saved["holdout_window"] == Window(PROMOTED_AT, watched_at).to_dict()
    assert saved["champion"]["version"] == "v0002" and saved["challenger"]["version"] == "v0001"
    assert saved["interval"]["lower"] == pytest.approx(numbers["lower"])
    # The monitoring history records the rollback and why.
    config = load_config(config_path)
    rows = open_history(config.registry.path, config.history).rows("fooled")
    recorded = {row["as_of"]: row for row in rows}[watched_at.isoformat()]
    assert recorded["status"] == "rolled-back" and recorded["champion"] == "v0002"
    details = json.loads(recorded["details"])
    assert details["watch"]["action"] == "rollback"
    assert details["watch"]["comparison_id"] == watch.comparison_id
    assert [r["code"] for r in details["watch"]["reason_codes"]] == ["watch-rollback"]

    # The rolled-back challenger is never promoted again: the promote step refuses it ...
    again = promote_flow(str(config_path), as_of=watched_at.isoformat(), challenger_version="v0002")
    assert again.status == "duplicate" and again.comparison is None
    assert registry.get_alias("champion") == "v0001"
    # ... and so does the gate, whatever its holdout says.
    stores = open_stores(config)
    holdout = Window(RELABELLED[1] - timedelta(days=30), RELABELLED[1])
    comparison = evaluate_on_holdout(config, stores, holdout, "v0002")
    assert comparison.verdict == "reject"
    assert params_of(comparison.reason_codes, "challenger-rolled-back") == {"version": "v0002"}
    assert "improvement-shown" in codes(comparison.reason_codes)

    # A champion restored by a rollback is not watched.
    third = monitor_flow(str(config_path), as_of=(watched_at + timedelta(days=30)).isoformat())
    assert third.watch is None and third.champion_before == "v0001"
    assert third.status != "rolled-back"


def test_a_watched_window_that_fails_its_data_quality_is_not_judged_and_the_watch_goes_on(
    write_config: Any, tmp_path: Path
) -> None:
    watched_at = PROMOTED_AT + timedelta(days=30)
    config_path = _config(write_config, tmp_path, text_in=(PROMOTED_AT, watched_at))
    first = monitor_flow(str(config_path), as_of=PROMOTED_AT.isoformat())
    assert first.status == "promoted" and first.champion_after == "v0002"

    # The first watched window has "n/a" in x2: the monitor does not judge the champion on it,
    # and neither does the watch (it was a DataError that stopped the run).
    second = monitor_flow(str(config_path), as_of=watched_at.isoformat())

    assert second.status == "data-issue" and second.decision.action == "data-issue"
    assert second.champion_before == second.champion_after == "v0002"
    watch = second.watch
    assert watch is not None and watch.action == "not-judged" and watch.comparison_id is None
    problem = params_of(watch.reason_codes, "watch-not-judged")["problem"]
    assert problem.startswith("the window failed its data-quality checks (data quality failed")
    assert "x2 type text (reference numeric)" in problem
    registry = LocalRegistry(tmp_path / "registry", "fooled")
    assert registry.history()[-1].action == "promote"  # no rollback, nothing else moved
    config = load_config(config_path)
    rows = open_history(config.registry.path, config.history).rows("fooled")
    recorded = {row["as_of"]: row for row in rows}[watched_at.isoformat()]
    details = json.loads(recorded["details"])
    assert details["watch"]["action"] == "not-judged"

    # The next window is clean: the watch goes on (its second window) and rolls back.
    third = monitor_flow(str(config_path), as_of=(watched_at + timedelta(days=30)).isoformat())

    assert third.status == "rolled-back" and third.champion_after == "v0001"
    assert third.watch is not None and third.watch.action == "rollback"
    numbers = params_of(third.watch.reason_codes, "watch-rollback")
    assert (numbers["window"], numbers["windows"]) == (2, 3)
    # Judged on this run's window only, clean: the broken window's rows are no evidence.
    assert numbers["rows_start"] == watched_at.isoformat()
    assert numbers["rows"] == 30 * ROWS_PER_DAY
