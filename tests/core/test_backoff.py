"""The back-off after rejected challengers: the streak, its resets, the longer cooldown and the
one "threshold unreachable" note, on tiny hand-made histories."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tasks.config import BackoffConfig, PolicyConfig
from tasks.core.backoff import backed_off, rejection_streak, unreachable_now
from tasks.core.outcomes import monitor_events
from tasks.core.policy import PastRun, decide_retrain
from tasks.core.reasons import codes
from tasks.core.signals import Performance, Signals
from tests.reasons import params_of

NOW = datetime(2014, 12, 1)
DAY = timedelta(days=1)


def _run(
    days_ago: int,
    *,
    retrained: bool = False,
    promoted: bool = False,
    performance: bool = True,
    drift: bool = False,
    severe: bool = False,
    mae: float | None = 0.3,
    status: str | None = None,
) -> PastRun:
    return PastRun(
        as_of=NOW - days_ago * DAY,
        champion="v0004",
        drift_breach=drift,
        prediction_drift_breach=None,
        performance_breach=performance,
        retrained=retrained,
        promoted=promoted,
        performance=mae,
        labelled_rows=600,
        severe=severe,
        status=status,
    )


def _policy(**changes: Any) -> PolicyConfig:
    values: dict[str, Any] = {
        "performance_metric": {"name": "mae"},
        "performance_threshold": 0.2,
        "severe_performance_threshold": 0.6,
        "performance_drop": None,
        "drift_threshold": 0.5,
        "min_labelled_rows": 100,
        "confirmation": {
            "performance": {"breaches": 1, "runs": 1},
            "drift": {"breaches": 1, "runs": 1},
        },
        "retrain_on_drift": True,
        "cooldown": "28d",
        "backoff": {"enabled": True},  # off by default
    }
    return PolicyConfig(**{**values, **changes})


def _signals(mae: float, drift_share: float = 0.0) -> Signals:
    return Signals(
        current_rows=672,
        reference_rows=1344,
        drift_share=drift_share,
        columns=(),
        performance=Performance("mae", mae, 672, "champion"),
    )


def _decide(signals: Signals, runs: list[PastRun], policy: PolicyConfig | None = None) -> Any:
    retrains = [run.as_of for run in runs if run.retrained or run.promoted]
    return decide_retrain(
        signals,
        policy or _policy(),
        list(reversed(runs)),
        as_of=NOW,
        champion="v0004",
        last_retrain_as_of=max(retrains) if retrains else None,
        champion_runs=runs,
    )


# -- the streak, pure ----------------------------------------------------------------------------


def test_rejected_retrains_in_a_row_make_a_streak() -> None:
    runs = [_run(70, retrained=True), _run(56), _run(42, retrained=True), _run(28)]

    streak = rejection_streak(runs, {"performance"})

    assert streak.rejected == 2
    assert streak.kinds == {"performance"}
    assert streak.since == NOW - 70 * DAY
    assert streak.last == NOW - 42 * DAY
    assert streak.reset_by == ()


def test_a_promotion_ends_the_streak() -> None:
    runs = [_run(70, retrained=True), _run(56, retrained=True, promoted=True), _run(42)]

    assert rejection_streak(runs, {"performance"}).rejected == 0


def test_a_new_kind_of_breach_resets_the_streak() -> None:
    rejected = [_run(70, retrained=True), _run(42, retrained=True)]

    # Now drift is confirmed too: a change in the data none of the rejected retrains saw.
    streak = rejection_streak(rejected, {"performance", "drift"})
    assert streak.rejected == 0
    assert streak.reset_by == ("drift",)
    assert streak.reset_rejected == 2
    # A severe breach after plain ones is a new kind too.
    assert rejection_streak(rejected, {"performance", "severe"}).reset_by == ("severe",)
    # A retrain started by a new kind starts a new streak of its own.
    mixed = [*rejected, _run(14, retrained=True, severe=True)]
    assert rejection_streak(mixed, {"performance", "severe"}).rejected == 1


def test_a_retrain_without_a_verdict_yet_is_not_a_rejection() -> None:
    # Events mode: the monitor recorded "retrain-requested"; the promote run has not recorded
    # its verdict (or dropped the request). Pending is not rejected, and it ends no streak.
    one = [_run(70, retrained=True, status="rejected")]
    pending = [*one, _run(42, retrained=True, status="retrain-requested")]
    dropped = [*one, _run(42, retrained=True, status="dropped")]
    judged = [*one, _run(42, retrained=True, status="rejected")]

    assert rejection_streak(pending, {"performance"}).rejected == 1
    assert rejection_streak(dropped, {"performance"}).rejected == 1
    assert rejection_streak(judged, {"performance"}).rejected == 2
    # In the decision: no back-off on one rejection and one pending retrain.
    assert _decide(_signals(0.3), [*pending, _run(14)]).rejected_in_a_row == 1


def test_a_retrain_started_while_the_data_drifted_is_not_counted_and_restarts_the_streak() -> None:
    # The data changed under these challengers: the next one trains on rows they never saw.
    drifting = [_run(70, retrained=True, drift=True), _run(42, retrained=True, drift=True)]
    after_plain = [_run(98, retrained=True), _run(84, retrained=True), *drifting]
    then_plain = [*drifting, _run(28, retrained=True)]

    assert rejection_streak(drifting, {"performance", "drift"}).rejected == 0
    assert rejection_streak(after_plain, {"performance"}).rejected == 0
    assert rejection_streak(then_plain, {"performance"}).rejected == 1


def test_rejections_while_the_data_keeps_changing_do_not_hold_back_the_recovery() -> None:
    # The seat-belt log (examples/seatbelts, the UK's 1983 law): four challengers trained
    # mostly on the months before the law, each rejected, each retrain started with confirmed
    # data drift and a severe breach; 91-day windows, a 180-day cooldown that the severe breach
    # skips. The fifth retrain, with nine months of the law in its training, is the one that
    # recovers: the back-off must not hold it.
    runs = [
        _run(364, retrained=True, drift=True),
        _run(273, retrained=True, drift=True),
        _run(182, retrained=True, drift=True, severe=True),
        _run(91, retrained=True, drift=True, severe=True),
    ]

    decision = _decide(_signals(0.7, drift_share=0.75), runs)

    assert decision.action == "retrain"
    assert decision.rejected_in_a_row == 0
    assert "backoff" not in codes(decision.reason_codes)


def test_the_cooldown_grows_from_after_rejections_on_up_to_max_cooldown() -> None:
    rule = BackoffConfig(enabled=True, after=2, factor=2.0, max_cooldown=timedelta(days=200))
    base = timedelta(days=28)

    assert backed_off(base, rule, 0) == base
    assert backed_off(base, rule, 1) == base
    assert backed_off(base, rule, 2) == 2 * base
    assert backed_off(base, rule, 3) == 4 * base
    assert backed_off(base, rule, 4) == timedelta(days=200)  # 8 x 28d capped
    assert backed_off(base, BackoffConfig(enabled=False), 5) == base
    assert backed_off(base, BackoffConfig(enabled=True, after=1), 1) == 2 * base


def test_unreachable_is_said_on_the_first_run_after_the_streak_reaches_it() -> None:
    runs = [_run(42, retrained=True), _run(28, retrained=True)]
    streak = rejection_streak(runs, {"performance"})

    assert unreachable_now(streak, runs, 2)
    later = [*runs, _run(14)]
    assert not unreachable_now(rejection_streak(later, {"performance"}), later, 2)
    assert not unreachable_now(streak, runs, 3)


# -- in the decision -----------------------------------------------------------------------------


def test_after_two_rejections_the_cooldown_doubles_and_the_decision_says_so() -> None:
    # Retrained 42 and 14 days ago, both rejected; the 28-day cooldown would allow a third now.
    runs = [_run(42, retrained=True, mae=0.31), _run(28, mae=0.25), _run(14, retrained=True)]

    decision = _decide(_signals(0.3), runs)
    without = _decide(_signals(0.3), runs, _policy(backoff={"enabled": False}))
    only_one = _decide(_signals(0.3), runs[1:])

    assert without.action == "cooldown"  # 14 days < 28
    assert decision.action == "cooldown"
    assert decision.rejected_in_a_row == 2
    backoff = params_of(decision.reason_codes, "backoff")
    assert backoff["cooldown_days"] == pytest.approx(56)
    assert backoff["base_cooldown_days"] == pytest.approx(28)
    assert backoff["elapsed_days"] == pytest.approx(14)
    assert backoff["kinds"] == ["performance"]
    assert "cooldown" not in codes(decision.reason_codes)  # the back-off note replaces it
    assert only_one.rejected_in_a_row == 1
    assert "backoff" not in codes(only_one.reason_codes)


def test_the_back_off_holds_a_retrain_the_plain_cooldown_allows() -> None:
    runs = [_run(70, retrained=True), _run(35, retrained=True), _run(14)]

    decision = _decide(_signals(0.3), runs)
    without = _decide(_signals(0.3), runs, _policy(backoff={"enabled": False}))

    assert without.action == "retrain"  # 35 days >= 28
    assert decision.action == "cooldown"  # 35 days < 56
    assert params_of(decision.reason_codes, "backoff")["elapsed_days"] == pytest.approx(35)


def test_a_severe_breach_skips_the_cooldown_but_not_a_back_off_of_severe_retrains() -> None:
    plain = [_run(70, retrained=True), _run(35, retrained=True)]
    severe = [
        _run(70, retrained=True, severe=True),
        _run(35, retrained=True, severe=True),
        _run(21, severe=True),
    ]

    reset = _decide(_signals(0.7), plain)  # severe is new: the back-off resets
    held = _decide(_signals(0.7), severe)

    assert reset.action == "retrain"
    reset_note = params_of(reset.reason_codes, "backoff-reset")
    assert reset_note["new_kinds"] == ["severe"]
    assert reset_note["rejected"] == 2
    assert held.action == "cooldown"
    assert params_of(held.reason_codes, "backoff")["kinds"] == ["performance", "severe"]


def test_confirmed_drift_after_rejected_performance_retrains_resets_the_back_off() -> None:
    runs = [_run(70, retrained=True), _run(35, retrained=True)]

    decision = _decide(_signals(0.3, drift_share=0.75), runs)

    assert decision.action == "retrain"
    assert decision.rejected_in_a_row == 0
    assert params_of(decision.reason_codes, "backoff-reset")["new_kinds"] == ["drift"]


def test_a_promotion_resets_the_back_off() -> None:
    runs = [
        _run(70, retrained=True),
        _run(56, retrained=True),
        _run(35, retrained=True, promoted=True),
    ]

    decision = _decide(_signals(0.3), runs)

    assert decision.action == "retrain"
    assert decision.rejected_in_a_row == 0


def test_the_threshold_unreachable_note_and_event_come_once() -> None:
    runs = [_run(42, retrained=True, mae=0.31), _run(28, mae=0.25), _run(14, retrained=True)]

    first = _decide(_signals(0.3), runs)
    second = _decide(_signals(0.3), [*runs[:-1], runs[-1], _run(7)])

    assert first.threshold_unreachable
    said = params_of(first.reason_codes, "threshold-unreachable")
    assert said["rejected"] == 2
    assert said["best"] == pytest.approx(0.25)  # the champion's best MAE since the first rejection
    assert said["best_worse"] is True
    assert said["threshold"] == pytest.approx(0.2)
    events = dict(monitor_events(first, _signals(0.3)))
    payload = events["threshold.unreachable"]
    assert payload["confirmed"] is True
    assert payload["rejected_in_a_row"] == 2
    assert "the performance bar looks unreachable" in payload["summary"]
    assert not second.threshold_unreachable
    assert "threshold.unreachable" not in dict(monitor_events(second, _signals(0.3)))


def test_backoff_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        BackoffConfig(factor=0.5)
    with pytest.raises(ValueError, match="max_cooldown must be a positive duration"):
        BackoffConfig(max_cooldown=timedelta(0))
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        _policy(backoff={"factr": 3})
