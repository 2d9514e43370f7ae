"""The drop bar's warning level: a window of the champion past it (after the champion's first
windows, which set the reference) counts toward confirming a later performance breach, on
tiny hand-made histories."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tasks.config import PolicyConfig
from tasks.core.bars import warning_limit, warnings
from tasks.core.policy import PastRun, decide_retrain
from tests.core.test_bars import _signals
from tests.reasons import params_of

NOW = datetime(2014, 6, 1)


def _runs(*maes: float, labelled: int = 672) -> list[PastRun]:
    """The champion's earlier windows, oldest first, 14 days apart, none breached."""
    count = len(maes)
    return [
        PastRun(
            as_of=NOW - timedelta(days=14 * (count - i)),
            champion="v0001",
            drift_breach=False,
            prediction_drift_breach=None,
            performance_breach=False,
            retrained=False,
            promoted=False,
            performance=mae,
            labelled_rows=labelled,
        )
        for i, mae in enumerate(maes)
    ]


def _policy(**changes: Any) -> PolicyConfig:
    values: dict[str, Any] = {
        "performance_metric": {"name": "mae"},
        "performance_threshold": 0.785,
        "drift_threshold": 0.5,
        "min_labelled_rows": 100,
        "cooldown": "0d",
    }  # confirmation: the default, 2 of the last 3 runs
    return PolicyConfig(**{**values, **changes})


def _decide(policy: PolicyConfig, runs: list[PastRun], mae: float, holdout: float = 0.523) -> Any:
    return decide_retrain(
        _signals(mae, holdout),
        policy,
        list(reversed(runs)),
        as_of=NOW,
        champion="v0001",
        champion_runs=runs,
    )


def test_the_warning_limit_is_a_share_of_the_drop_bar_from_the_reference() -> None:
    assert warning_limit(0.3, 0.25, 0.5, higher_is_better=False) == pytest.approx(0.3375)
    assert warning_limit(0.9, 0.2, 0.5, higher_is_better=True) == pytest.approx(0.81)
    assert warning_limit(None, 0.25, 0.5, higher_is_better=False) is None
    assert warning_limit(0.3, None, 0.5, higher_is_better=False) is None
    assert warning_limit(0.3, 0.25, None, higher_is_better=False) is None
    assert warning_limit(0.0, 0.25, 0.5, higher_is_better=False) is None


def test_the_first_windows_are_the_warm_up_and_never_a_warning() -> None:
    runs = _runs(0.40, 0.40, 0.20, 0.34, 0.40)
    runs[3] = PastRun(**{**runs[3].__dict__, "labelled_rows": 99})  # too few labels to judge

    past = warnings(runs, 0.33, 2, 100, higher_is_better=False)

    assert [run.performance for run in past] == [0.40]
    assert past[0].as_of == runs[4].as_of
    assert warnings(runs, 0.33, 0, 100, higher_is_better=False) == [runs[0], runs[1], runs[4]]
    assert warnings(runs, None, 0, 100, higher_is_better=False) == []
    assert [r.performance for r in warnings(runs, 0.3, 0, 100, higher_is_better=True)] == [0.2]


def test_a_breach_after_a_warning_window_retrains_without_waiting() -> None:
    # elec-demand's first champion: holdout MAE 0.523 (a heatwave), first windows 0.290 and
    # 0.293 (the reference: their median with the holdout, 0.293; the bar 0.367, the warning
    # level 0.330), then 0.246, 0.287, 0.347 (past the warning level, within the bar) and 0.586.
    runs = _runs(0.290, 0.293, 0.246, 0.287, 0.347)

    decision = _decide(_policy(), runs, 0.586)
    off = _decide(_policy(drop_reference={"warning": None}), runs, 0.586)

    assert off.action == "unconfirmed"
    assert decision.action == "retrain"
    assert decision.confirmed == ("performance",)
    confirmed = params_of(decision.reason_codes, "breach-confirmed-after-warning")
    assert confirmed["signal"] == "performance"
    assert confirmed["seen"] == 2 and confirmed["looked"] == 3
    assert confirmed["warnings"] == 1
    assert confirmed["reference"] == pytest.approx(0.293)
    assert confirmed["warning_limit"] == pytest.approx(0.293 * (1 + 0.5 * 0.25))
    assert confirmed["warning"] == pytest.approx(0.5)
    assert confirmed["warm_up"] == 2
    assert "past the warning level: metric > 0.330" in decision.reasons[0]


def test_a_one_window_blip_without_a_warning_stays_unconfirmed() -> None:
    runs = _runs(0.290, 0.293, 0.246, 0.287, 0.300)

    decision = _decide(_policy(), runs, 0.586)

    assert decision.action == "unconfirmed"
    note = params_of(decision.reason_codes, "breach-not-confirmed")
    assert note["seen"] == 1 and "warnings" not in note


def test_a_warning_in_the_champions_first_windows_does_not_confirm() -> None:
    # elec-demand's champion of window 18: an easy holdout (0.149), its first window 0.182 is
    # past the warning level (0.167) but is one of the windows that set its reference.
    first = _runs(0.182)

    assert _decide(_policy(), first, 0.232, holdout=0.1488).action == "unconfirmed"
    # Without a warm-up (drop_reference.windows 0: the holdout score alone), it warns.
    warm = _policy(drop_reference={"windows": 0})
    assert _decide(warm, first, 0.232, holdout=0.1488).action == "retrain"


def test_a_breach_confirmed_by_breaches_alone_says_so_without_the_warning() -> None:
    # The window before is a breach, the one before that a warning: 2 of 3 without the warning.
    runs = _runs(0.290, 0.293, 0.35, 0.40)
    runs[-1] = PastRun(**{**runs[-1].__dict__, "performance_breach": True})

    decision = _decide(_policy(), runs, 0.586)

    assert decision.action == "retrain"
    confirmed = params_of(decision.reason_codes, "breach-confirmed")
    assert confirmed["seen"] == 3
    assert confirmed["warnings"] == 1


def test_the_warning_share_must_lie_between_0_and_1() -> None:
    with pytest.raises(ValueError, match=r"drop_reference\.warning"):
        _policy(drop_reference={"warning": 1.0})
    with pytest.raises(ValueError, match=r"drop_reference\.warning"):
        _policy(drop_reference={"warning": 0})
    assert _policy(drop_reference={"warning": None}).drop_reference.warning is None
