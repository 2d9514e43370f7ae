"""Bars that follow the data: performance_drop measured from the median of the champion's
holdout score and its first monitored windows, on tiny hand-made histories."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from tasks.config import PolicyConfig
from tasks.core.bars import drop_reference, first_windows
from tasks.core.policy import PastRun, decide_retrain
from tasks.core.signals import Performance, Signals
from tests.reasons import params_of

NOW = datetime(2014, 6, 1)


def _run(days_ago: int, performance: float | None, labelled: int = 100, **kw: Any) -> PastRun:
    return PastRun(
        as_of=NOW - timedelta(days=days_ago),
        champion=kw.pop("champion", "v0001"),
        drift_breach=False,
        prediction_drift_breach=None,
        performance_breach=False,
        retrained=kw.pop("retrained", False),
        promoted=False,
        performance=performance,
        labelled_rows=labelled,
    )


def _mae_policy(**changes: Any) -> PolicyConfig:
    values: dict[str, Any] = {
        "performance_metric": {"name": "mae"},
        "performance_threshold": 0.785,
        "drift_threshold": 0.5,
        "min_labelled_rows": 100,
        "confirmation": {"performance": {"breaches": 1, "runs": 1}},
        "cooldown": "0d",
    }
    return PolicyConfig(**{**values, **changes})


def _signals(mae: float, holdout: float | None = 0.523) -> Signals:
    return Signals(
        current_rows=672,
        reference_rows=1344,
        drift_share=0.0,
        columns=(),
        performance=Performance("mae", mae, 672, "champion"),
        holdout_score=holdout,
    )


def test_the_reference_is_the_median_of_the_holdout_score_and_the_first_windows() -> None:
    runs = [_run(42, 0.29), _run(28, 0.293), _run(14, 0.25)]

    reference = drop_reference(0.523, runs, 2, 100, higher_is_better=False)

    assert reference is not None
    assert reference.value == pytest.approx(0.293)  # median of 0.523, 0.29, 0.293
    assert reference.windows == pytest.approx((0.29, 0.293))  # the first two, not the third
    assert reference.rule == (
        "the median of the champion's holdout score 0.523 and its first 2 monitored windows "
        "(0.290, 0.293)"
    )


def test_windows_without_enough_labels_do_not_count_and_none_leaves_the_holdout_score() -> None:
    runs = [_run(42, 0.29, labelled=99), _run(28, None, labelled=0), _run(14, 0.31)]

    assert first_windows(runs, 2, 100) == pytest.approx((0.31,))
    reference = drop_reference(0.523, runs, 2, 100, higher_is_better=False)
    assert reference is not None
    assert reference.value == pytest.approx((0.523 + 0.31) / 2)  # the median of two
    alone = drop_reference(0.523, [], 2, 100, higher_is_better=False)
    assert alone is not None and alone.value == pytest.approx(0.523)
    assert alone.rule == "the champion's holdout score (none of its first 2 monitored windows yet)"
    off = drop_reference(0.523, runs, 0, 100, higher_is_better=False)
    assert off is not None and off.value == pytest.approx(0.523) and off.windows == ()
    assert (
        drop_reference(None, runs, 2, 100, higher_is_better=False) is None
    )  # no holdout score: not judged


def test_a_hard_holdout_no_longer_sets_a_lax_bar_for_the_champions_life() -> None:
    # elec-demand's first champion: holdout MAE 0.523 (a heatwave), then 0.29 and 0.293 in its
    # first windows; 0.45 is 54% worse than those but within 25% of the holdout's 0.523.
    history = [_run(28, 0.29), _run(14, 0.293)]
    signals = _signals(0.45)

    before = decide_retrain(
        signals,
        _mae_policy(drop_reference={"windows": 0}),
        [],
        as_of=NOW,
        champion="v0001",
        champion_runs=history,
    )
    after = decide_retrain(
        signals, _mae_policy(), [], as_of=NOW, champion="v0001", champion_runs=history
    )

    assert before.action == "none"
    assert before.performance_drop_limit == pytest.approx(0.523 * 1.25)
    assert after.action == "retrain"
    assert after.performance_drop_limit == pytest.approx(0.293 * 1.25)
    assert after.drop_reference == pytest.approx(0.293)
    assert after.drop_reference_rule is not None and "first 2 monitored windows" in (
        after.drop_reference_rule
    )
    drop = params_of(after.reason_codes, "performance-drop")
    assert drop["reference"] == pytest.approx(0.293)
    assert drop["reference_windows"] == pytest.approx([0.29, 0.293])
    assert drop["holdout_score"] == pytest.approx(0.523)
    assert after.to_dict()["drop_reference"] == pytest.approx(0.293)


def test_only_earlier_windows_count_and_one_record_per_window() -> None:
    # A record of this very window (a rerun's) is not an earlier window, and of two records of
    # one window the latest counts, once.
    history = [_run(28, 0.29), _run(28, 0.31), _run(14, 0.293), _run(0, 0.1)]

    decision = decide_retrain(
        _signals(0.45), _mae_policy(), [], as_of=NOW, champion="v0001", champion_runs=history
    )

    assert decision.drop_reference == pytest.approx(0.31)  # median(0.523, 0.31, 0.293)
    assert decision.action == "retrain"


def test_the_drop_reference_is_recorded_even_when_performance_is_ok() -> None:
    decision = decide_retrain(
        _signals(0.30),
        _mae_policy(),
        [],
        as_of=NOW,
        champion="v0001",
        champion_runs=[_run(28, 0.29), _run(14, 0.293)],
    )

    assert decision.action == "none"
    ok = params_of(decision.reason_codes, "performance-ok")
    assert ok["reference"] == pytest.approx(0.293)
    assert ok["drop_limit"] == pytest.approx(0.293 * 1.25)


def test_performance_drop_off_records_no_reference() -> None:
    decision = decide_retrain(
        replace(_signals(0.30)),
        _mae_policy(performance_drop=None),
        [],
        as_of=NOW,
        champion="v0001",
        champion_runs=[_run(28, 0.29)],
    )

    assert decision.drop_reference is None
    assert decision.performance_drop_limit is None


def test_drop_reference_windows_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match=r"drop_reference\.windows"):
        _mae_policy(drop_reference={"windows": -1})
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        _mae_policy(drop_reference={"windows": 1, "window": 2})


def test_first_windows_worse_than_the_holdout_do_not_loosen_the_bar() -> None:
    # elec-demand's fifth champion: holdout MAE 0.233, then 0.293 and 0.306 in its first
    # windows. The median (0.293) would set the bar at 0.366, above the 0.306 the champion
    # already shows; one-sided, the holdout score stays the reference (bar 0.291).
    runs = [_run(28, 0.293), _run(14, 0.306)]

    strict = drop_reference(0.233, runs, 2, 100, higher_is_better=False)
    relaxed = drop_reference(0.233, runs, 2, 100, higher_is_better=False, relax=True)

    assert strict is not None and relaxed is not None
    assert strict.value == pytest.approx(0.233)
    assert strict.median == pytest.approx(0.293)
    assert strict.rule == (
        "the champion's holdout score 0.233, stricter than the median of the champion's holdout "
        "score 0.233 and its first 2 monitored windows (0.293, 0.306), 0.293: the first windows "
        "only tighten the bar"
    )
    assert relaxed.value == pytest.approx(0.293)
    decision = decide_retrain(
        _signals(0.306, holdout=0.233),
        _mae_policy(),
        [],
        as_of=NOW,
        champion="v0005",
        champion_runs=runs,
    )
    loose = decide_retrain(
        _signals(0.306, holdout=0.233),
        _mae_policy(drop_reference={"windows": 2, "relax": True}),
        [],
        as_of=NOW,
        champion="v0005",
        champion_runs=runs,
    )
    assert decision.action == "retrain"
    assert decision.performance_drop_limit == pytest.approx(0.233 * 1.25)
    assert loose.action == "none"
    assert loose.performance_drop_limit == pytest.approx(0.293 * 1.25)


def test_for_a_score_higher_is_better_the_windows_only_tighten_the_bar_too() -> None:
    # Accuracy: first windows better than the holdout raise the reference, worse leave it.
    better = [_run(28, 0.95), _run(14, 0.97)]
    worse = [_run(28, 0.80), _run(14, 0.82)]

    up = drop_reference(0.90, better, 2, 100, higher_is_better=True)
    kept = drop_reference(0.90, worse, 2, 100, higher_is_better=True)

    assert up is not None and up.value == pytest.approx(0.95)
    assert kept is not None and kept.value == pytest.approx(0.90)
    assert kept.median == pytest.approx(0.82)
