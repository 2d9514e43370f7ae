"""reports.html: which monitor runs draw Evidently's HTML reports."""

from __future__ import annotations

import pytest

from tasks.core.policy import Breaches
from tasks.core.reasons import Reason, ReasonCode
from tasks.core.retention import draws_reports, skipped_reports_note
from tasks.core.watch import WatchAction, WatchDecision
from tests.helpers import make_decision

QUIET = Breaches(drift=False, prediction_drift=None, performance=False, severe=False)


def _watch(action: WatchAction) -> WatchDecision:
    return WatchDecision(action=action, champion="v0002", previous="v0001", window=1, windows=3)


def test_always_draws_and_never_does_not_whatever_the_run() -> None:
    quiet = make_decision(action="none", breaches=QUIET, confirmed=())
    breached = make_decision()
    for decision in (quiet, breached):
        assert draws_reports("always", decision)
        assert not draws_reports("never", decision, _watch("rollback"))


def test_on_breach_skips_a_quiet_run_and_one_without_enough_data() -> None:
    for action in ("none", "insufficient-data"):
        decision = make_decision(action=action, breaches=QUIET, confirmed=())
        assert not draws_reports("on-breach", decision)
        assert not draws_reports("on-breach", decision, _watch("hold"))


@pytest.mark.parametrize(
    "breaches",
    [
        Breaches(drift=True, prediction_drift=None, performance=False, severe=False),
        Breaches(drift=False, prediction_drift=True, performance=None, severe=False),
        Breaches(drift=None, prediction_drift=None, performance=True, severe=False),
        Breaches(drift=False, prediction_drift=False, performance=False, severe=True),
        Breaches(
            drift=False,
            prediction_drift=None,
            performance=None,
            severe=False,
            estimated_performance=True,
        ),
    ],
)
def test_on_breach_draws_for_any_breached_signal_even_unacted(breaches: Breaches) -> None:
    # A single breach the policy does not act on yet (action none) is still drawn: it is the
    # run a person looks at when the next one confirms it.
    assert draws_reports("on-breach", make_decision(action="none", breaches=breaches))


@pytest.mark.parametrize(
    "code",
    [
        ReasonCode.DATA_DRIFT_IGNORED,  # retrain_on_drift: false
        ReasonCode.DATA_DRIFT_NOT_HARMFUL,  # when-harmful judged it harmless
        ReasonCode.PREDICTION_DRIFT_IGNORED,
        ReasonCode.ESTIMATE_BREACH_IGNORED,
    ],
)
def test_on_breach_draws_for_a_signal_over_its_threshold_the_policy_does_not_act_on(
    code: ReasonCode,
) -> None:
    over = make_decision(action="none", breaches=QUIET, confirmed=(), reason_codes=(Reason(code),))
    assert draws_reports("on-breach", over)
    quiet = make_decision(
        action="none",
        breaches=QUIET,
        confirmed=(),
        reason_codes=(Reason(ReasonCode.NO_DATA_DRIFT), Reason(ReasonCode.PERFORMANCE_OK)),
    )
    assert not draws_reports("on-breach", quiet)


@pytest.mark.parametrize("action", ["retrain", "unconfirmed", "cooldown", "data-issue"])
def test_on_breach_draws_for_every_action_but_none(action: str) -> None:
    assert draws_reports("on-breach", make_decision(action=action, breaches=QUIET))


def test_on_breach_draws_when_the_watch_finds_the_previous_champion_better() -> None:
    quiet = make_decision(action="none", breaches=QUIET, confirmed=())
    assert draws_reports("on-breach", quiet, _watch("rollback"))
    assert draws_reports("on-breach", quiet, _watch("ask-approval"))


def test_the_note_says_which_setting_left_the_reports_out() -> None:
    assert skipped_reports_note("never") == "none drawn (reports.html: never)"
    assert "on-breach, and nothing breached" in skipped_reports_note("on-breach")
