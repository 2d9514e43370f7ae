"""The follow-up retrain after a change-aware promotion: when it is due, once, on tiny inputs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tasks.config import PolicyConfig
from tasks.core.followup import ChampionChange, FollowUpEvidence, champion_change, follow_up
from tasks.core.policy import PastRun, decide_retrain
from tasks.core.signals import Performance, Signals
from tests.reasons import params_of

NOW = datetime(2020, 5, 6)
CHANGE = datetime(2020, 4, 15)
SPLIT = {
    "chosen": "since-change-split",
    "change": {"start": CHANGE.isoformat(), "basis": "...", "streak_runs": 2},
    "rows_since_change": 700,
    "training_rows": 350,
}


def _evidence(rows_now: int, chosen: str = "since-change-split") -> FollowUpEvidence:
    return FollowUpEvidence(ChampionChange(CHANGE, 350, chosen), rows_now, 100)


def _run(days_ago: int, *, retrained: bool = False) -> PastRun:
    return PastRun(
        as_of=NOW - timedelta(days=days_ago),
        champion="v0002",
        drift_breach=False,
        prediction_drift_breach=None,
        performance_breach=False,
        retrained=retrained,
        promoted=False,
        performance=0.97,
        labelled_rows=350,
    )


def _policy(**changes: Any) -> PolicyConfig:
    values: dict[str, Any] = {
        "performance_metric": {"name": "accuracy"},
        "performance_threshold": 0.9,
        "drift_threshold": 0.5,
        "cooldown": "14d",
    }
    return PolicyConfig(**{**values, **changes})


def _healthy() -> Signals:
    return Signals(
        current_rows=350,
        reference_rows=350,
        drift_share=0.0,
        columns=(),
        performance=Performance("accuracy", 0.97, 350, "champion"),
        holdout_score=0.966,
    )


def test_the_change_is_read_from_the_champions_training_choice() -> None:
    change = champion_change(SPLIT)

    assert change == ChampionChange(CHANGE, 350, "since-change-split")  # rows it trained on
    assert champion_change({"chosen": "configured-span", "change": SPLIT["change"]}) is None
    assert champion_change({}) is None  # registered before the choice was recorded
    assert champion_change({**SPLIT, "change": {"start": "not a time"}}) is None


def test_due_once_min_rows_more_rows_exist_since_the_change() -> None:
    assert follow_up(True, _evidence(449), []) is None  # 99 more < training.min_rows 100
    due = follow_up(True, _evidence(450), [])

    assert due is not None
    assert due.code == "follow-up-retrain"
    assert due.params == {
        "change_start": CHANGE.isoformat(),
        "rows_at_training": 350,
        "rows_now": 450,
        "min_rows": 100,
    }


def test_not_due_when_off_after_a_full_since_change_span_or_once_the_champion_retrained() -> None:
    assert follow_up(False, _evidence(1400), []) is None
    assert follow_up(True, None, []) is None
    assert follow_up(True, _evidence(1400, "since-change"), []) is None
    assert follow_up(True, _evidence(1400), [_run(7, retrained=True)]) is None


def test_the_decision_retrains_without_a_breach_and_within_the_cooldown() -> None:
    # The champion was promoted 7 days ago (cooldown 14d) and is healthy.
    decision = decide_retrain(
        _healthy(),
        _policy(),
        [_run(7)],
        as_of=NOW,
        champion="v0002",
        last_retrain_as_of=NOW - timedelta(days=7),
        champion_runs=[_run(7)],
        follow_up_evidence=_evidence(700),
    )
    plain = decide_retrain(
        _healthy(), _policy(), [], as_of=NOW, champion="v0002", champion_runs=[_run(7)]
    )

    assert plain.action == "none"
    assert decision.action == "retrain"
    assert decision.follow_up
    assert decision.confirmed == ()
    assert decision.trigger == "follow-up retrain after a change (no breach)"
    assert params_of(decision.reason_codes, "follow-up-retrain")["rows_now"] == 700
    assert decision.reason_codes[0].code == "follow-up-retrain"


def test_never_a_second_retrain_of_the_same_window_nor_when_switched_off() -> None:
    rerun = decide_retrain(
        _healthy(),
        _policy(),
        [],
        as_of=NOW,
        champion="v0002",
        last_retrain_as_of=NOW,
        follow_up_evidence=_evidence(700),
    )
    off = decide_retrain(
        _healthy(),
        _policy(follow_up={"enabled": False}),
        [],
        as_of=NOW,
        champion="v0002",
        follow_up_evidence=_evidence(700),
    )

    assert rerun.action == "none" and not rerun.follow_up
    assert off.action == "none"


def test_follow_up_settings_are_strict() -> None:
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        _policy(follow_up={"enabled": True, "rows": 10})
