"""The events' payloads as notifications read them: confirmed or not, key numbers in words."""

from __future__ import annotations

from tasks.core.gate import Comparison, Contender, GateRules
from tasks.core.outcomes import comparison_summary, monitor_events
from tasks.core.policy import Breaches, TriggerDecision
from tasks.core.signals import ColumnDrift, Performance, Signals
from tasks.core.statistics import BootstrapInterval
from tests.helpers import make_decision

SIGNALS = Signals(
    90,
    300,
    0.5,
    (
        ColumnDrift("temp_max", "K-S p_value", 0.01, 0.05, True),
        ColumnDrift("wind", "K-S p_value", 0.5, 0.05, False),
    ),
    Performance("f1 (macro)", 0.1412, 89, "champion"),
)


def _decision(confirmed: tuple[str, ...], severe: bool) -> TriggerDecision:
    return make_decision(
        action="retrain" if confirmed else "unconfirmed",
        reasons=("...",),
        breaches=Breaches(drift=True, prediction_drift=None, performance=True, severe=severe),
        performance=0.1412,
        labelled_rows=89,
        confirmed=confirmed,
    )


def test_payloads_say_whether_each_breach_is_confirmed_with_a_summary_in_words() -> None:
    events = dict(monitor_events(_decision(("performance",), severe=True), SIGNALS))

    assert events["drift.detected"]["confirmed"] is False
    assert events["drift.detected"]["summary"] == (
        "share of drifted columns 0.500 >= threshold 0.500 (temp_max); decision retrain"
    )
    assert events["performance.degraded"]["confirmed"] is True
    assert events["performance.degraded"]["summary"] == (
        "f1 (macro) 0.141 < threshold 0.450 (severe) on 89 labelled rows; decision retrain"
    )


def test_unconfirmed_drift_is_reported_as_such() -> None:
    events = dict(monitor_events(_decision((), severe=False), SIGNALS))

    assert events["drift.detected"]["confirmed"] is False
    assert events["performance.degraded"]["confirmed"] is False
    assert "(severe)" not in events["performance.degraded"]["summary"]


def _contender(version: str, score: float | None) -> Contender:
    return Contender(version=version, score=score, training_window={}, trained_on_holdout=False)


def test_comparison_summary_gives_both_scores_the_difference_and_the_interval() -> None:
    comparison = Comparison(
        comparison_id="c1",
        model_name="m",
        holdout_window={},
        holdout_rows=89,
        rules=GateRules(
            metric="f1 (macro)",
            performance_threshold=0.45,
            min_improvement=0.02,
            min_holdout_rows=30,
        ),
        champion=_contender("v0001", 0.1412),
        challenger=_contender("v0002", 0.8123),
        difference=0.6711,
        verdict="promote",
        reasons=(),
        interval=BootstrapInterval(
            difference=0.6711,
            lower=0.55,
            upper=0.78,
            confidence=0.95,
            resamples=2000,
            seed=0,
            standard_error=0.06,
        ),
    )

    assert comparison_summary(comparison) == (
        "promote: f1 (macro) challenger v0002 0.812 vs champion v0001 0.141 on 89 holdout rows, "
        "difference 0.671 (95% interval 0.550 .. 0.780; needs lower bound >= 0.020)"
    )


def test_bootstrap_comparison_summary_has_no_champion() -> None:
    comparison = Comparison(
        comparison_id="c0",
        model_name="m",
        holdout_window={},
        holdout_rows=60,
        rules=GateRules(
            metric="f1 (macro)",
            performance_threshold=0.45,
            min_improvement=0.02,
            min_holdout_rows=30,
        ),
        champion=None,
        challenger=_contender("v0001", 0.7),
        difference=None,
        verdict="promote",
        reasons=(),
    )

    assert comparison_summary(comparison) == (
        "promote: f1 (macro) challenger v0001 0.700 vs no champion yet (bootstrap) on 60 holdout rows"
    )
