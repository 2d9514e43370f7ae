"""A champion restored by a rollback: its own windows before it was replaced confirm its
breaches and continue its breach streak; the replaced champion's windows in between do neither
(tiny hand-made histories)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tasks.core.change import estimate_change_start
from tasks.core.policy import PastRun, champion_evidence, decide_retrain
from tests.core.test_bars import _signals
from tests.core.test_warning import _policy
from tests.reasons import params_of

NOW = datetime(2014, 6, 1)
WEEK = timedelta(days=7)


def _run(weeks_ago: int, champion: str, breach: bool, mae: float = 0.30) -> PastRun:
    return PastRun(
        as_of=NOW - weeks_ago * WEEK,
        champion=champion,
        drift_breach=False,
        prediction_drift_breach=None,
        performance_breach=breach,
        retrained=False,
        promoted=False,
        performance=mae,
        labelled_rows=672,
    )


# v1 breached 5 weeks ago (its retrain promoted v2), v2 held weeks 4-2, the watch restored v1
# a week ago: newest first, as the history store lists them.
HISTORY = [
    _run(1, "v1", False),
    _run(2, "v2", True, 0.9),
    _run(3, "v2", True, 0.9),
    _run(4, "v2", False),
]
V1_RUNS = [_run(7, "v1", False), _run(6, "v1", False), _run(5, "v1", True, 0.9), HISTORY[0]]


def _decide(history: list[PastRun], champion_runs: list[PastRun], mae: float = 0.9) -> Any:
    return decide_retrain(
        _signals(mae, 0.3),
        _policy(),
        history,
        as_of=NOW,
        champion="v1",
        champion_runs=champion_runs,
    )


def test_a_restored_champions_breach_before_it_was_replaced_confirms_its_breach() -> None:
    decision = _decide(HISTORY, V1_RUNS)

    assert decision.action == "retrain"
    confirmed = params_of(decision.reason_codes, "breach-confirmed")
    assert confirmed["signal"] == "performance"
    assert confirmed["seen"] == 2 and confirmed["looked"] == 3
    # The recent history alone (v1's record cut at its restoration) waits one more window.
    assert _decide(HISTORY, []).action == "unconfirmed"


def test_the_replaced_champions_breaches_never_confirm_the_restored_one() -> None:
    clean = [_run(7, "v1", False), _run(6, "v1", False), _run(5, "v1", False), HISTORY[0]]

    decision = _decide(HISTORY, clean)

    assert decision.action == "unconfirmed"
    note = params_of(decision.reason_codes, "breach-not-confirmed")
    assert note["seen"] == 1 and note["looked"] == 3


def test_the_evidence_is_the_champions_own_windows_newest_first_and_spaced() -> None:
    # v1's windows: the recent history's, then its older ones; a window recorded twice is one,
    # and with a 2-week spacing every other window.
    older = [*V1_RUNS[:3], V1_RUNS[2], HISTORY[0]]

    evidence = champion_evidence(HISTORY, older, "v1", NOW, timedelta(0))
    spaced = champion_evidence(HISTORY, older, "v1", NOW, 2 * WEEK)

    assert [NOW - run.as_of for run in evidence] == [WEEK, 5 * WEEK, 6 * WEEK, 7 * WEEK]
    assert [NOW - run.as_of for run in spaced] == [WEEK, 5 * WEEK, 7 * WEEK]
    # A champion never replaced: its recent windows are all it has, in the same order.
    steady = [_run(3, "v1", True), _run(2, "v1", False), _run(1, "v1", True)]
    assert champion_evidence(steady[::-1], steady, "v1", NOW, timedelta(0)) == steady[::-1]


def test_a_restored_champions_breach_streak_goes_on_before_it_was_replaced() -> None:
    earlier = [*HISTORY[:3], _run(4, "v2", True), *V1_RUNS[:3][::-1]]
    earlier[0] = _run(1, "v1", True, 0.9)

    change = estimate_change_start(NOW, WEEK, earlier, ["performance"], "v1")

    assert change is not None
    assert change.first_breached == NOW - 5 * WEEK  # v1's breach before it was replaced
    assert change.start == NOW - 6 * WEEK  # after v1's last healthy window
    assert change.streak_runs == 3  # this run, a week ago, five weeks ago: v2's are not v1's
    # A champion never seen before the other one's windows: those end its streak, as before.
    fresh = estimate_change_start(NOW, WEEK, earlier[:4], ["performance"], "v1")
    assert fresh is not None and fresh.start == NOW - 2 * WEEK
