"""The change-aware training window on a tiny log: read from the history, recorded in the lineage."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.config import Config
from tasks.core.policy import Breaches, PastRun
from tasks.core.windows import Window, plan_windows
from tasks.steps.followup import follow_up_evidence
from tasks.steps.training import plan_training, train_challenger
from tasks.stores.history import RunRecord, open_history
from tasks.stores.registry import open_registry
from tasks.stores.resources import open_stores
from tests.helpers import make_decision, repo_config

START = datetime(2020, 1, 1)
DAY = timedelta(days=1)
AS_OF = START + 100 * DAY  # holdout [80, 100), training [40, 80) with the windows below


def _config(tmp_path: Path, change_aware: bool = True) -> Config:
    rng = np.random.default_rng(0)
    days = 100
    moments = [START + timedelta(hours=6 * k) for k in range(days * 4)]  # 4 labelled rows a day
    frame = pd.DataFrame(
        {
            "timestamp": moments,
            "precipitation": rng.uniform(0, 10, len(moments)),
            "temp_max": rng.uniform(0, 30, len(moments)),
            "temp_min": rng.uniform(-5, 15, len(moments)),
            "wind": rng.uniform(0, 8, len(moments)),
        }
    )
    frame["weather"] = np.where(frame["precipitation"] > 5, "rain", "sun")
    (tmp_path / "log").mkdir()
    frame.to_parquet(tmp_path / "log" / "log.parquet", index=False)
    return repo_config(
        {
            "data.source.path": str(tmp_path / "log"),
            "registry.path": str(tmp_path / "registry"),
            "reports.path": str(tmp_path / "reports"),
            "windows.current": "10d",
            "windows.holdout": "20d",
            "windows.training": "40d",
            "training": {"change_aware": change_aware, "min_rows": 30},
        }
    )


def _record(config: Config, day: int, performance: bool, champion: str = "v0001") -> None:
    decision = make_decision(
        action="unconfirmed" if performance else "none",
        breaches=Breaches(
            drift=False, prediction_drift=None, performance=performance, severe=False
        ),
    )
    open_history(config.registry.path).record(
        config.name, RunRecord(START + day * DAY, champion, decision, "x", False, False, {})
    )


def test_a_breach_streak_moves_training_to_the_rows_since_the_change(tmp_path: Path) -> None:
    config = _config(tmp_path)
    for day, breached in [(50, False), (60, False), (70, True), (80, True), (90, True)]:
        _record(config, day, breached)

    choice = plan_training(
        config, open_stores(config), plan_windows(config, AS_OF), ("performance",), "v0001"
    )

    # The last healthy run was at day 60: 20 days (80 rows) before the holdout starts at day 80.
    assert choice.chosen == "since-change"
    assert choice.training == Window(START + 60 * DAY, START + 80 * DAY)
    assert choice.training_rows == 80
    assert choice.change is not None and choice.change.streak_runs == 4

    record = train_challenger(
        config, open_stores(config), choice.training, "monitor: performance breach", choice=choice
    )
    stored = open_registry(config.registry.path, config.name).get_version(record.version)
    assert stored.training_rows == 80
    assert stored.training_window == choice.training.to_dict()
    assert stored.training_choice["chosen"] == "since-change"
    assert "80 labelled rows since the estimated change" in stored.training_choice["reason"]
    assert stored.holdout_window == {}  # the configured holdout: the promote flow plans it


def test_a_change_inside_the_holdout_records_the_moved_holdout(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _record(config, 85, False)
    _record(config, 90, True)

    choice = plan_training(
        config, open_stores(config), plan_windows(config, AS_OF), ("performance",), "v0001"
    )
    record = train_challenger(
        config, open_stores(config), choice.training, "monitor", choice=choice
    )

    assert choice.chosen == "since-change-split"  # 60 rows since day 85: 30 train, 30 judge
    stored = open_registry(config.registry.path, config.name).get_version(record.version)
    assert stored.training_rows == 30
    assert stored.holdout_window == choice.holdout.to_dict()
    assert choice.holdout.end == AS_OF


@pytest.mark.parametrize(
    ("change_aware", "breaches", "reason"),
    [
        (False, ("performance",), "training.change_aware is off"),
        (True, (), "no confirmed breach started this retrain"),
    ],
)
def test_without_a_breach_or_the_switch_the_configured_span_is_kept(
    tmp_path: Path, change_aware: bool, breaches: tuple[str, ...], reason: str
) -> None:
    config = _config(tmp_path, change_aware)
    _record(config, 90, True)
    plan = plan_windows(config, AS_OF)

    choice = plan_training(config, open_stores(config), plan, breaches, "v0001")

    assert choice.chosen == "configured-span"
    assert (choice.training, choice.holdout) == (plan.training, plan.holdout)
    assert choice.reason == reason


def test_a_follow_up_retrain_trains_since_the_change_its_champion_was_trained_after(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    _record(config, 85, False)
    _record(config, 90, True)
    stores = open_stores(config)
    plan = plan_windows(config, AS_OF)
    first = plan_training(config, stores, plan, ("performance",), "v0001")
    champion = train_challenger(config, stores, first.training, "monitor", choice=first).version
    assert first.chosen == "since-change-split"

    # No breach started this retrain: it follows the champion's change, not the configured span.
    choice = plan_training(config, stores, plan, (), champion)
    evidence = follow_up_evidence(config, stores, champion, AS_OF + 25 * DAY, [])

    assert choice.chosen == "since-change-split"
    assert choice.change is not None
    assert choice.change.start == START + 85 * DAY
    assert choice.change.basis == f"the change the champion {champion} was trained after"
    assert evidence is not None
    assert evidence.change.start == START + 85 * DAY
    assert evidence.change.training_rows == 30  # it trained on 30 of the 60 rows since day 85
    # Before the holdout of a retrain at day 125 ([105, 125)): days 85 to 100, where the log ends.
    assert evidence.rows_now == 60
    assert evidence.min_rows == 30
    # Without a change in its lineage, or once the champion has retrained: nothing is read.
    assert follow_up_evidence(config, stores, "v0009", AS_OF, []) is None
    retrained = PastRun(AS_OF, champion, False, None, True, retrained=True, promoted=False)
    assert follow_up_evidence(config, stores, champion, AS_OF, [retrained]) is None
