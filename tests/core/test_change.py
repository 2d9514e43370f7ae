"""Change-aware training windows: dating the change from the breach streak, choosing the span."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tasks.core.change import (
    ChangeEstimate,
    choose_training_window,
    estimate_change_start,
    parse_breaches,
)
from tasks.core.policy import PastRun
from tasks.core.windows import Window, WindowPlan

DAY = timedelta(days=1)
T0 = datetime(2020, 1, 1)


def _run(day: int, performance: bool | None, champion: str = "v1", drift: bool = False) -> PastRun:
    return PastRun(T0 + day * DAY, champion, drift, None, performance, False, False)


def _plan(as_of_day: int, holdout: int = 14, training: int = 28) -> WindowPlan:
    as_of = T0 + as_of_day * DAY
    holdout_window = Window(as_of - holdout * DAY, as_of)
    return WindowPlan(
        as_of=as_of,
        current=Window(as_of - 7 * DAY, as_of),
        holdout=holdout_window,
        training=Window(holdout_window.start - training * DAY, holdout_window.start),
    )


def _hourly(start_day: int, end_day: int) -> list[datetime]:
    """One labelled row an hour: 24 a day."""
    return [
        T0 + start_day * DAY + k * timedelta(hours=1) for k in range((end_day - start_day) * 24)
    ]


def test_the_change_starts_after_the_last_healthy_run_before_the_streak() -> None:
    # Weekly runs, newest first: day 63 breached, day 56 healthy: retraining at day 70.
    earlier = [_run(63, True), _run(56, False), _run(49, True)]

    change = estimate_change_start(T0 + 70 * DAY, 7 * DAY, earlier, ["performance"], "v1")

    assert change is not None
    assert change.start == T0 + 56 * DAY
    assert change.first_breached == T0 + 63 * DAY
    assert change.streak_runs == 2
    assert "last run without a performance breach" in change.basis


def test_a_streak_through_the_whole_history_starts_at_its_first_runs_window() -> None:
    earlier = [_run(63, True), _run(56, True)]

    change = estimate_change_start(T0 + 70 * DAY, 7 * DAY, earlier, ["performance"], "v1")

    assert change is not None
    assert change.start == T0 + 49 * DAY  # day 56 minus the 7-day monitored window
    assert change.streak_runs == 3
    assert "first breached run's window" in change.basis


def test_a_window_recorded_twice_is_one_run_of_the_streak() -> None:
    # Day 63 monitored twice (a rerun), and the retraining window itself recorded before.
    earlier = [_run(70, True), _run(63, True), _run(63, True), _run(56, False)]

    change = estimate_change_start(T0 + 70 * DAY, 7 * DAY, earlier, ["performance"], "v1")

    assert change is not None
    assert change.streak_runs == 2
    assert change.start == T0 + 56 * DAY


def test_overlapping_windows_bound_the_change_by_the_first_breached_window() -> None:
    # 90-day windows: the first breached run (day 60) looks back to day -30, but the healthy
    # run at day 0 says the rows up to day 0 were fine: the later bound wins.
    earlier = [_run(60, True), _run(0, False)]

    change = estimate_change_start(T0 + 90 * DAY, 90 * DAY, earlier, ["performance"], "v1")

    assert change is not None
    assert change.start == T0  # max(day 0 healthy, day 60 - 90)
    far = estimate_change_start(
        T0 + 90 * DAY, 10 * DAY, [_run(60, True), _run(0, False)], ["performance"], "v1"
    )
    assert far is not None and far.start == T0 + 50 * DAY  # the healthy run is too old


def test_runs_of_another_champion_or_other_signals_end_the_streak() -> None:
    earlier = [_run(63, True), _run(56, True, champion="v0")]
    change = estimate_change_start(T0 + 70 * DAY, 7 * DAY, earlier, ["performance"], "v1")
    assert change is not None and change.start == T0 + 56 * DAY

    # A drift breach does not continue a performance streak; it does a drift one.
    drift_only = [_run(63, False, drift=True)]
    by_performance = estimate_change_start(
        T0 + 70 * DAY, 7 * DAY, drift_only, ["performance"], "v1"
    )
    by_either = estimate_change_start(
        T0 + 70 * DAY, 7 * DAY, drift_only, ["performance", "drift"], "v1"
    )
    assert by_performance is not None and by_performance.start == T0 + 63 * DAY
    assert by_either is not None and by_either.start == T0 + 56 * DAY


def test_no_breach_means_no_estimate_and_unknown_signals_are_refused() -> None:
    assert estimate_change_start(T0 + 70 * DAY, 7 * DAY, [_run(63, True)], [], "v1") is None
    with pytest.raises(ValueError, match=r"unknown signal\(s\) \['accuracy'\]"):
        estimate_change_start(T0, 7 * DAY, [], ["accuracy"], "v1")


def test_parse_breaches_reads_the_flow_parameter() -> None:
    assert parse_breaches("performance,drift") == ("performance", "drift")
    assert parse_breaches("none") == ()
    assert parse_breaches("") == ()
    with pytest.raises(ValueError, match=r"unknown breach signal\(s\) perf"):
        parse_breaches("perf")


def _change(day: int) -> ChangeEstimate:
    return ChangeEstimate(T0 + day * DAY, T0 + day * DAY, 2, "test")


def test_enough_rows_before_the_holdout_train_since_the_change() -> None:
    plan = _plan(100)  # holdout [86, 100), training [58, 86)
    choice = choose_training_window(plan, _change(80), _hourly(80, 100), 100, 30)

    assert choice.chosen == "since-change"
    assert choice.training == Window(T0 + 80 * DAY, T0 + 86 * DAY)
    assert choice.holdout == plan.holdout
    assert choice.training_rows == 6 * 24
    assert choice.rows_since_change == 20 * 24
    assert "144 labelled rows since the estimated change" in choice.reason


def test_a_change_inside_the_holdout_splits_the_rows_since_it() -> None:
    plan = _plan(100)
    choice = choose_training_window(plan, _change(90), _hourly(90, 100), 100, 30)

    assert choice.chosen == "since-change-split"
    assert choice.training == Window(T0 + 90 * DAY, T0 + 95 * DAY)
    assert choice.holdout == Window(T0 + 95 * DAY, T0 + 100 * DAY)
    assert choice.training_rows == 120
    assert "the 240 rows since it are split, 120 to train on" in choice.reason


def test_too_few_rows_since_the_change_keep_the_configured_span() -> None:
    plan = _plan(100)
    choice = choose_training_window(plan, _change(96), _hourly(96, 100), 100, 30)

    assert choice.chosen == "configured-span"
    assert choice.training == plan.training and choice.holdout == plan.holdout
    assert "only 96 labelled rows" in choice.reason
    assert "too few to train on training.min_rows 100" in choice.reason
    assert "promotion.min_holdout_rows 30" in choice.reason


def test_enough_rows_in_all_but_too_few_for_half_of_them_keep_the_configured_span() -> None:
    # 150 rows since the change, all inside the holdout: the later half (75) would leave 75 < 100.
    plan = _plan(100)
    times = [T0 + 93 * DAY + k * timedelta(minutes=60) for k in range(150)]

    choice = choose_training_window(plan, _change(93), times, 100, 30)

    assert choice.chosen == "configured-span"
    assert "only 150 labelled rows" in choice.reason and "0 before the holdout" in choice.reason


def test_a_change_before_the_configured_span_or_none_keeps_it() -> None:
    plan = _plan(100)
    before = choose_training_window(plan, _change(50), _hourly(50, 100), 100, 30)
    none = choose_training_window(plan, None, [], 100, 30)

    assert before.chosen == none.chosen == "configured-span"
    assert before.training == plan.training
    assert "before the configured training span" in before.reason
    assert none.reason == "no confirmed breach started this retrain"
    assert before.to_dict()["change"]["start"] == (T0 + 50 * DAY).isoformat()
