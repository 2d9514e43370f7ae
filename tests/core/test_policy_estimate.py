"""The policy's use of the label-free estimate: its own breach signal and drift gated on harm."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from tasks.config import PolicyConfig
from tasks.core.policy import SIGNAL_NAMES, PastRun, decide_retrain
from tasks.core.reasons import codes
from tasks.core.signals import ColumnDrift, EstimatedPerformance, Performance, Signals
from tests.core.test_policy import _policy as policy_with_guards_off
from tests.reasons import params_of

NOW = datetime(2014, 4, 1)
ONE_OF_ONE = {"breaches": 1, "runs": 1}
FEATURES = ("a", "b")


def _policy(**changes: Any) -> PolicyConfig:
    """test_policy's policy (every history guard off, drift alone retrains), with the estimate's
    confirmation 1 of 1 too; the tests of when-harmful ask for it."""
    confirmation = {name: ONE_OF_ONE for name in SIGNAL_NAMES}
    return policy_with_guards_off(**{"confirmation": confirmation, **changes})


def _signals(
    *,
    estimate: float | None,
    holdout: float = 0.8,
    drifted: bool = False,
    labelled_rows: int = 0,
    performance: float = 0.8,
    current_rows: int = 90,
    note: str | None = None,
    holdout_score: float | None = None,
) -> Signals:
    columns = tuple(
        ColumnDrift(name, "K-S p_value", 0.01 if drifted else 0.4, 0.05, drifted)
        for name in FEATURES
    )
    return Signals(
        current_rows=current_rows,
        reference_rows=300,
        drift_share=1.0 if drifted else 0.0,
        columns=columns,
        performance=Performance("f1 (macro)", performance, labelled_rows, "champion")
        if labelled_rows
        else None,
        estimate=None
        if estimate is None
        else EstimatedPerformance("f1 (macro)", estimate, current_rows, holdout),
        estimate_note=note,
        holdout_score=holdout_score,
    )


def _decide(signals: Signals, policy: PolicyConfig, history: list[PastRun] | None = None):
    return decide_retrain(signals, policy, history or [], as_of=NOW, champion="v0001")


def _past(days_ago: int, estimated: bool | None) -> PastRun:
    return PastRun(
        as_of=NOW - timedelta(days=days_ago),
        champion="v0001",
        drift_breach=False,
        prediction_drift_breach=None,
        performance_breach=None,
        retrained=False,
        promoted=False,
        estimated_performance_breach=estimated,
    )


# -- the estimated performance breach ----------------------------------------------------------


def test_an_estimated_breach_retrains_before_any_label_arrives() -> None:
    decision = _decide(_signals(estimate=0.5), _policy())

    assert decision.action == "retrain"
    assert decision.confirmed == ("estimated_performance",)
    assert decision.breaches.performance is None  # no labels: realised performance not judged
    assert decision.estimated_performance == 0.5
    assert params_of(decision.reason_codes, "estimate-breach") == {
        "metric": "f1 (macro)",
        "value": pytest.approx(0.5),
        "threshold": 0.6,
        "higher_is_better": True,
        "breach": True,
        "rows": 90,
        "labelled_rows": 0,
    }
    assert decision.trigger == (
        "estimated performance breach: 0.500 < 0.600 (higher is better, no labels needed)"
    )


def test_an_estimate_above_the_threshold_is_no_breach() -> None:
    decision = _decide(_signals(estimate=0.7), _policy())

    assert decision.action == "none"
    assert decision.breaches.estimated_performance is False
    estimate = params_of(decision.reason_codes, "estimate-ok")
    assert (estimate["value"], estimate["breach"]) == (pytest.approx(0.7), False)


def test_the_estimated_breach_has_its_own_confirmation() -> None:
    policy = _policy(
        confirmation={
            "drift": ONE_OF_ONE,
            "performance": ONE_OF_ONE,
            "estimated_performance": {"breaches": 2, "runs": 3},
        }
    )

    first = _decide(_signals(estimate=0.5), policy, [_past(30, False), _past(60, None)])
    second = _decide(_signals(estimate=0.5), policy, [_past(30, True), _past(60, False)])

    assert first.action == "unconfirmed"
    unconfirmed = params_of(first.reason_codes, "breach-not-confirmed")
    assert unconfirmed["signal"] == "estimated_performance"
    assert (unconfirmed["seen"], unconfirmed["looked"]) == (1, 3)
    assert second.action == "retrain"
    confirmed = params_of(second.reason_codes, "breach-confirmed")
    assert (confirmed["signal"], confirmed["seen"], confirmed["looked"]) == (
        "estimated_performance",
        2,
        3,
    )


def test_a_fully_labelled_window_is_decided_by_the_realised_metric() -> None:
    decision = _decide(_signals(estimate=0.5, labelled_rows=90, performance=0.7), _policy())

    assert decision.action == "none"
    assert decision.breaches.estimated_performance is None
    assert decision.estimated_performance == 0.5  # still reported
    reported = params_of(decision.reason_codes, "estimate-reported-only")
    assert (reported["rows"], reported["labelled_rows"]) == (90, 90)


def test_with_some_labels_still_missing_the_estimate_is_judged() -> None:
    decision = _decide(_signals(estimate=0.5, labelled_rows=40, performance=0.7), _policy())

    assert decision.breaches.performance is False
    assert decision.breaches.estimated_performance is True
    assert decision.action == "retrain"


def test_estimated_breach_can_be_reported_without_retraining() -> None:
    decision = _decide(_signals(estimate=0.5), _policy(estimated_performance={"retrain": False}))

    assert decision.action == "none"
    assert "estimate-breach-ignored" in codes(decision.reason_codes)
    assert "estimate-breach" not in codes(decision.reason_codes)


def test_an_estimate_on_too_few_rows_is_insufficient_data() -> None:
    decision = _decide(_signals(estimate=0.1, current_rows=10), _policy())

    assert decision.action == "insufficient-data"
    assert params_of(decision.reason_codes, "estimate-insufficient-data") == {
        "rows": 10,
        "min_current_rows": 30,
    }


def test_no_estimate_is_said_in_the_reasons_and_changes_nothing_else() -> None:
    note = "the champion is a regressor: performance is estimated for classifiers only"
    decision = _decide(_signals(estimate=None, note=note, labelled_rows=90), _policy())

    assert decision.action == "none"
    assert params_of(decision.reason_codes, "estimate-missing") == {"note": note}
    assert decision.breaches.estimated_performance is None


def test_a_disabled_estimate_is_neither_judged_nor_mentioned() -> None:
    decision = _decide(
        _signals(estimate=0.1, labelled_rows=90), _policy(estimated_performance={"enabled": False})
    )

    assert decision.breaches.estimated_performance is None
    assert not any(code.startswith("estimate") for code in codes(decision.reason_codes))
    assert not any("estimate" in r for r in decision.reasons)


# -- retrain_on_drift: when-harmful ------------------------------------------------------------


def test_harmless_drift_does_not_retrain_when_harmful_is_asked() -> None:
    decision = _decide(
        _signals(estimate=0.78, drifted=True), _policy(retrain_on_drift="when-harmful")
    )

    assert decision.action == "none"
    assert decision.breaches.drift is False
    assert decision.drift_harmful is False
    # The default margin is harm_drop 10% of the holdout score: 0.08 of an f1 of 0.8.
    assert decision.harm_margin == pytest.approx(0.08)
    assert decision.harm_rule == "harm margin 0.080: harm_drop 10% of that score"
    assert decision.holdout_score == 0.8
    assert params_of(decision.reason_codes, "data-drift-not-harmful") == {
        "drift_share": 1.0,
        "drift_threshold": 0.5,
        "drifted_columns": ["a", "b"],
        "evidence": "estimated",
        "metric": "f1 (macro)",
        "value": pytest.approx(0.78),
        "holdout_score": pytest.approx(0.8),
        "drop": pytest.approx(0.02),
        "higher_is_better": True,
        "harm_margin": pytest.approx(0.08),
        "harm_drop": pytest.approx(0.1),
    }


def test_drift_with_an_estimate_dropped_beyond_the_margin_retrains() -> None:
    decision = _decide(
        _signals(estimate=0.70, drifted=True), _policy(retrain_on_drift="when-harmful")
    )

    assert decision.action == "retrain"
    assert decision.confirmed == ("drift",)
    assert decision.drift_harmful is True
    harmful = params_of(decision.reason_codes, "data-drift-harmful")
    assert (harmful["evidence"], harmful["value"]) == ("estimated", pytest.approx(0.7))
    assert harmful["drop"] == pytest.approx(0.1)
    assert "worse_than_threshold" not in harmful  # harmful by the margin alone


def test_drift_with_an_estimate_below_the_threshold_is_harmful_whatever_the_margin() -> None:
    decision = _decide(  # 20 labelled rows < min_labelled_rows 30: the estimate judges
        _signals(estimate=0.55, holdout=0.56, drifted=True, labelled_rows=20),
        _policy(retrain_on_drift="when-harmful", harm_margin=0.5),
    )

    assert decision.breaches.drift is True
    harmful = params_of(decision.reason_codes, "data-drift-harmful")
    assert (harmful["evidence"], harmful["value"]) == ("estimated", pytest.approx(0.55))
    assert harmful["holdout_score"] == pytest.approx(0.56)
    assert harmful["drop"] == pytest.approx(0.01)
    assert (harmful["harm_margin"], harmful["harm_drop"]) == (0.5, None)  # as configured
    assert harmful["worse_than_threshold"] is True
    assert harmful["performance_threshold"] == 0.6


def test_drift_retrains_as_before_when_harm_cannot_be_judged() -> None:
    decision = _decide(
        _signals(estimate=None, drifted=True, note="the champion has no predict_proba"),
        _policy(retrain_on_drift="when-harmful"),
    )

    assert decision.action == "retrain"
    unknown = params_of(decision.reason_codes, "data-drift-harm-unknown")
    assert unknown["missing"] == "estimate"
    assert unknown["estimate_note"] == "the champion has no predict_proba"
    assert (unknown["labelled_rows"], unknown["min_labelled_rows"]) == (0, 30)


@pytest.mark.parametrize(("setting", "retrains"), [(True, True), (False, False)])
def test_true_and_false_ignore_the_estimate(setting: bool, retrains: bool) -> None:
    decision = _decide(_signals(estimate=0.79, drifted=True), _policy(retrain_on_drift=setting))

    assert decision.retrain is retrains
    assert decision.drift_harmful is None
    assert ("data-drift" if setting else "data-drift-ignored") in codes(decision.reason_codes)
    assert not any("harm" in r for r in decision.reasons)


def _mae_policy() -> PolicyConfig:
    """An error metric (lower is better) with when-harmful and a harm_margin of 1.0."""
    return PolicyConfig.model_validate(
        {
            "performance_metric": {"name": "mae"},
            "performance_threshold": 10.0,
            "drift_threshold": 0.5,
            "retrain_on_drift": "when-harmful",
            "harm_margin": 1.0,
            "min_labelled_rows": 30,
            "confirmation": {"drift": ONE_OF_ONE},
        }
    )


def test_error_metrics_measure_the_drop_upwards() -> None:
    policy = _mae_policy()
    signals = _signals(estimate=None, drifted=True)
    worse = Signals(**{**signals.__dict__, "estimate": EstimatedPerformance("mae", 6.5, 90, 5.0)})

    decision = _decide(worse, policy)

    assert decision.drift_harmful is True
    harmful = params_of(decision.reason_codes, "data-drift-harmful")
    assert (harmful["evidence"], harmful["metric"]) == ("estimated", "mae")
    assert (harmful["value"], harmful["holdout_score"]) == (6.5, 5.0)
    assert harmful["drop"] == pytest.approx(1.5)  # upwards: an error rose
    assert harmful["higher_is_better"] is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"retrain_on_drift": "sometimes"}, "must be true, false or when-harmful, got 'sometimes'"),
        ({"harm_margin": -0.1}, "greater than or equal to 0"),
        ({"harm_drop": -0.1}, "greater than or equal to 0"),
        ({"estimated_performance": {"retrian": True}}, "Extra inputs are not permitted"),
    ],
)
def test_bad_estimate_settings_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _policy(**changes)


def test_harm_is_judged_only_for_drift_that_reached_the_threshold() -> None:
    decision = _decide(
        _signals(estimate=0.5, drifted=False), _policy(retrain_on_drift="when-harmful")
    )

    assert decision.drift_harmful is None
    assert "no-data-drift" in codes(decision.reason_codes)
    assert not any("harm" in r for r in decision.reasons)
    assert decision.confirmed == ("estimated_performance",)  # the estimate still breaches


# -- harm judged by the realised metric once enough labels are in ---------------------------


@pytest.mark.parametrize("labelled", [30, 90])  # min_labelled_rows 30, every row
def test_enough_labels_judge_harm_by_the_realised_metric_not_the_estimate(labelled: int) -> None:
    harmless = _decide(  # the estimate says hurt, the labels say fine: the labels win
        _signals(estimate=0.60, drifted=True, labelled_rows=labelled, performance=0.79),
        _policy(retrain_on_drift="when-harmful"),
    )
    harmful = _decide(
        _signals(estimate=0.79, drifted=True, labelled_rows=labelled, performance=0.70),
        _policy(retrain_on_drift="when-harmful"),
    )

    assert harmless.drift_harmful is False
    assert harmless.action == "none"
    fine = params_of(harmless.reason_codes, "data-drift-not-harmful")
    assert (fine["evidence"], fine["value"]) == ("realised", pytest.approx(0.79))
    assert (fine["holdout_score"], fine["drop"]) == (pytest.approx(0.8), pytest.approx(0.01))
    assert harmful.drift_harmful is True
    assert harmful.action == "retrain"
    hurt = params_of(harmful.reason_codes, "data-drift-harmful")
    assert (hurt["evidence"], hurt["value"]) == ("realised", pytest.approx(0.7))
    assert hurt["drop"] == pytest.approx(0.1)


def test_a_regressor_without_an_estimate_is_judged_by_its_labelled_rows() -> None:
    policy = _mae_policy()
    base = _signals(estimate=None, drifted=True, labelled_rows=40, holdout_score=5.0)

    def with_mae(value: float) -> Signals:
        return Signals(
            **{**base.__dict__, "performance": Performance("mae", value, 40, "champion")}
        )

    steady, hurt = _decide(with_mae(5.5), policy), _decide(with_mae(6.2), policy)

    assert steady.drift_harmful is False
    assert steady.action == "none"
    assert steady.holdout_score == 5.0
    fine = params_of(steady.reason_codes, "data-drift-not-harmful")
    assert (fine["evidence"], fine["metric"], fine["value"]) == ("realised", "mae", 5.5)
    assert (fine["holdout_score"], fine["drop"]) == (5.0, pytest.approx(0.5))
    assert (fine["harm_margin"], fine["harm_drop"], fine["higher_is_better"]) == (1.0, None, False)
    assert hurt.drift_harmful is True
    assert hurt.action == "retrain"


def _regressor(holdout: float, mae: float, **policy: Any) -> Any:
    """A drifted window of a regressor judged by its realised MAE against its holdout MAE, with
    only the metric and thresholds configured (no harm setting)."""
    config = PolicyConfig.model_validate(
        {
            "performance_metric": {"name": "mae"},
            "performance_threshold": holdout * 3,
            "drift_threshold": 0.5,
            "retrain_on_drift": "when-harmful",
            "performance_drop": None,
            "confirmation": {"drift": ONE_OF_ONE},
            **policy,
        }
    )
    base = _signals(estimate=None, drifted=True, labelled_rows=40, holdout_score=holdout)
    signals = Signals(**{**base.__dict__, "performance": Performance("mae", mae, 40, "champion")})
    return _decide(signals, config)


@pytest.mark.parametrize(
    ("holdout", "mae", "harmful", "margin"),
    [
        # MAE in minutes: half a minute on 30 is noise (a fixed 0.05 called it harm) ...
        (30.0, 30.5, False, 3.0),
        (30.0, 33.5, True, 3.0),
        # ... in gigawatts: 0.04 on 0.2 is a fifth worse (a fixed 0.05 called it harmless).
        (0.2, 0.24, True, 0.02),
        (0.2, 0.21, False, 0.02),
    ],
)
def test_the_default_harm_margin_is_a_share_of_the_holdout_score_in_any_units(
    holdout: float, mae: float, harmful: bool, margin: float
) -> None:
    decision = _regressor(holdout, mae)

    assert decision.drift_harmful is harmful
    assert decision.action == ("retrain" if harmful else "none")
    assert decision.harm_margin == pytest.approx(0.1 * holdout)
    assert decision.harm_rule == f"harm margin {margin:.3f}: harm_drop 10% of that score"
    code = "data-drift-harmful" if harmful else "data-drift-not-harmful"
    harm = params_of(decision.reason_codes, code)
    assert (harm["harm_margin"], harm["harm_drop"]) == (pytest.approx(margin), 0.1)


def test_an_absolute_harm_margin_replaces_the_share_and_says_so() -> None:
    decision = _regressor(30.0, 30.5, harm_margin=0.1)

    assert decision.drift_harmful is True
    assert decision.harm_margin == 0.1
    assert decision.harm_rule == "harm_margin 0.100, in the metric's units"


def test_harm_drop_and_harm_margin_cannot_both_be_set() -> None:
    with pytest.raises(ValidationError, match=r"set harm_drop .* or harm_margin .*, not both"):
        _policy(retrain_on_drift="when-harmful", harm_drop=0.2, harm_margin=0.05)
    assert _policy(harm_drop=0.2).harm_drop == 0.2


def test_without_a_holdout_score_on_record_labelled_drift_retrains_as_with_true() -> None:
    decision = _decide(
        _signals(estimate=None, drifted=True, labelled_rows=90, note="a regressor"),
        _policy(retrain_on_drift="when-harmful"),
    )

    assert decision.action == "retrain"
    assert decision.drift_harmful is None
    assert params_of(decision.reason_codes, "data-drift-harm-unknown")["missing"] == (
        "holdout-score"
    )


def test_when_harmful_works_with_the_estimate_turned_off() -> None:
    decision = _decide(
        _signals(
            estimate=None, drifted=True, labelled_rows=90, performance=0.78, holdout_score=0.8
        ),
        _policy(retrain_on_drift="when-harmful", estimated_performance={"enabled": False}),
    )

    assert decision.drift_harmful is False
    assert decision.action == "none"
