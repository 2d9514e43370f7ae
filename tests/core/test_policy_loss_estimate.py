"""The policy uses a regressor's label-free estimate (DLE) as it uses a classifier's: its own
breach signal, upwards for an error metric, and the harm of drift on an unlabelled window."""

from __future__ import annotations

import pytest

from tasks.config import PolicyConfig
from tasks.core.reasons import codes
from tasks.core.signals import EstimatedPerformance, Signals
from tests.core.test_policy_estimate import ONE_OF_ONE, _decide, _signals
from tests.reasons import params_of

DLE = "expected errors (direct loss estimation)"


def _policy(**changes: object) -> PolicyConfig:
    """mae, threshold 10 (lower is better), when-harmful with harm_drop 0.10, confirmations of
    one run."""
    return PolicyConfig.model_validate(
        {
            "performance_metric": {"name": "mae"},
            "performance_threshold": 10.0,
            "drift_threshold": 0.5,
            "retrain_on_drift": "when-harmful",
            "confirmation": {"drift": ONE_OF_ONE, "estimated_performance": ONE_OF_ONE},
            "cooldown": "0d",
            **changes,
        }
    )


def _unlabelled(estimate: float, *, drifted: bool = False, holdout: float = 8.0) -> Signals:
    signals = _signals(estimate=None, drifted=drifted)
    return Signals(
        **{**signals.__dict__, "estimate": EstimatedPerformance("mae", estimate, 90, holdout, DLE)}
    )


@pytest.mark.parametrize(("estimate", "retrains"), [(12.0, True), (9.0, False)])
def test_an_estimated_error_above_the_threshold_retrains(estimate: float, retrains: bool) -> None:
    decision = _decide(_unlabelled(estimate), _policy())

    assert decision.retrain is retrains
    assert decision.estimated_performance == estimate
    code = "estimate-breach" if retrains else "estimate-ok"
    assert code in codes(decision.reason_codes)
    numbers = params_of(decision.reason_codes, code)
    assert (numbers["metric"], numbers["value"], numbers["threshold"]) == ("mae", estimate, 10.0)


@pytest.mark.parametrize(("estimate", "harmful"), [(9.0, True), (8.5, False)])
def test_drift_is_harmful_when_the_estimated_error_rose(estimate: float, harmful: bool) -> None:
    # holdout mae 8.0: harm_drop 0.10 makes an estimated mae above 8.8 harmful
    decision = _decide(_unlabelled(estimate, drifted=True), _policy())

    assert decision.drift_harmful is harmful
    assert decision.retrain is harmful
    code = "data-drift-harmful" if harmful else "data-drift-not-harmful"
    numbers = params_of(decision.reason_codes, code)
    assert (numbers["evidence"], numbers["value"], numbers["holdout_score"]) == (
        "estimated",
        estimate,
        8.0,
    )
