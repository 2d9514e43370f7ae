"""Regressors: the metrics, the policy's direction and the gate for continuous errors."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as sk

from tasks.config import MetricConfig, PolicyConfig
from tasks.core.gate import (
    Comparison,
    GateRules,
    GuardRules,
    ModelOutputs,
    SliceRules,
    compare_models,
)
from tasks.core.metrics import score_predictions
from tasks.core.outcomes import monitor_events
from tasks.core.policy import decide_retrain
from tasks.core.reasons import codes
from tasks.core.regression import (
    error_summary,
    pair_errors,
    paired_error_bootstrap,
    sign_flip_test,
)
from tasks.core.signals import Performance, Signals
from tasks.errors import DataError
from tasks.render.reporting import render_comparison, render_comparison_markdown
from tests.reasons import params_of

HOLDOUT = {"start": "2014-01-01T00:00:00", "end": "2014-04-01T00:00:00"}
EARLIER = {"start": "2013-07-05T00:00:00", "end": "2014-01-01T00:00:00"}
REGRESSION_GUARDS = GuardRules(
    second_error=0.05, bias=0.10, tail_error=0.10, latency_ratio=3.0, model_size_ratio=3.0
)


def _metric(name: str, **extra: Any) -> MetricConfig:
    return MetricConfig.model_validate({"name": name, **extra})


def _data(rows: int = 2000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(50, 10, rows)


@pytest.mark.parametrize(
    ("name", "extra", "expected"),
    [
        ("mae", {}, lambda y, p: sk.mean_absolute_error(y, p)),
        ("rmse", {}, lambda y, p: sk.root_mean_squared_error(y, p)),
        ("r2", {}, lambda y, p: sk.r2_score(y, p)),
        ("pinball", {"quantile": 0.9}, lambda y, p: sk.mean_pinball_loss(y, p, alpha=0.9)),
        # With a floor below every |y|, mape is scikit-learn's.
        ("mape", {"floor": 1e-6}, lambda y, p: sk.mean_absolute_percentage_error(y, p)),
    ],
)
def test_regression_metrics_match_scikit_learn(name: str, extra: dict, expected: Any) -> None:
    y = _data(500)
    p = y + np.random.default_rng(1).normal(1, 3, 500)

    assert score_predictions(_metric(name, **extra), y, p) == pytest.approx(expected(y, p))


def test_mape_floor_bounds_the_error_of_near_zero_targets() -> None:
    y, p = np.array([0.0, 0.001, 100.0]), np.array([1.0, 1.0, 110.0])

    # |e| / max(|y|, 1): 1/1, 0.999/1, 10/100 -> mean 0.6997; without a floor: infinite.
    assert score_predictions(_metric("mape", floor=1.0), y, p) == pytest.approx(
        (1 + 0.999 + 0.1) / 3
    )


@pytest.mark.parametrize(
    ("y", "p", "fragment"),
    [
        (["a", "b", "c"], [1.0, 2.0, 3.0], "must be numbers for a regression metric"),
        ([1.0, None, 3.0], [1.0, 2.0, 3.0], "missing or infinite"),
        ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], "r2 is undefined"),
    ],
)
def test_bad_regression_inputs_fail_with_a_reason(y: list, p: list, fragment: str) -> None:
    name = "r2" if fragment == "r2 is undefined" else "mae"
    with pytest.raises(DataError, match=fragment):
        score_predictions(_metric(name), y, p)


def test_metric_direction_and_description() -> None:
    assert _metric("mae").higher_is_better is False
    assert _metric("r2").higher_is_better is True
    assert _metric("mape", floor=1.0).describe() == "mape (floor 1)"
    assert _metric("pinball", quantile=0.9).describe() == "pinball (quantile 0.9)"
    assert _metric("rmse").worse(3.1, 3.0) and not _metric("rmse").worse(2.9, 3.0)
    assert _metric("r2").worse(0.5, 0.6)


def _signals(value: float) -> Signals:
    return Signals(
        current_rows=90,
        reference_rows=180,
        drift_share=0.0,
        columns=(),
        performance=Performance("mae", value, 85, "champion"),
    )


def _policy(**changes: Any) -> PolicyConfig:
    values: dict[str, Any] = {
        "performance_metric": {"name": "mae"},
        "performance_threshold": 3.0,
        "drift_threshold": 0.5,
        "confirmation": {"performance": {"breaches": 1, "runs": 1}},
    }
    return PolicyConfig.model_validate({**values, **changes})


def test_error_above_the_threshold_is_a_breach_and_says_lower_is_better() -> None:
    decision = decide_retrain(_signals(3.4), _policy())

    assert decision.retrain
    assert decision.higher_is_better is False
    breach = params_of(decision.reason_codes, "performance-breach")
    assert (breach["metric"], breach["higher_is_better"]) == ("mae", False)
    assert (breach["value"], breach["threshold"], breach["labelled_rows"]) == (3.4, 3.0, 85)
    assert decision.trigger == "performance breach: 3.400 > 3.000 (lower is better)"
    events = dict(monitor_events(decision, _signals(3.4)))
    assert events["performance.degraded"]["direction"] == "lower is better"
    assert events["performance.degraded"]["summary"].startswith("mae 3.400 > threshold 3.000 on")


def test_error_below_the_threshold_is_healthy() -> None:
    decision = decide_retrain(_signals(2.5), _policy())

    assert decision.action == "none"
    healthy = params_of(decision.reason_codes, "performance-ok")
    assert (healthy["value"], healthy["threshold"], healthy["higher_is_better"]) == (
        2.5,
        3.0,
        False,
    )


def test_severe_error_threshold_lies_above_and_skips_confirmation() -> None:
    policy = _policy(
        severe_performance_threshold=5.0,
        confirmation={"performance": {"breaches": 2, "runs": 3}},
    )

    assert decide_retrain(_signals(3.4), policy).action == "unconfirmed"
    severe = decide_retrain(_signals(5.5), policy)
    assert severe.retrain and severe.breaches.severe
    assert severe.trigger == "severe performance breach: 5.500 > 5.000 (lower is better)"


def test_r2_below_its_threshold_is_a_breach() -> None:
    policy = _policy(performance_metric={"name": "r2"}, performance_threshold=0.6)
    signals = replace(_signals(0.4), performance=Performance("r2", 0.4, 85, "champion"))

    decision = decide_retrain(signals, policy)

    assert decision.retrain
    assert decision.reason_codes[-1].code == "performance-breach"
    breach = decision.reason_codes[-1].params
    assert (breach["metric"], breach["value"], breach["threshold"]) == ("r2", 0.4, 0.6)
    assert breach["higher_is_better"] is True


def _paired(rows: int, champion_noise: float, challenger_noise: float, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    y = rng.normal(50, 10, rows)
    champion = y + rng.normal(0, champion_noise, rows)
    challenger = y + rng.normal(0, challenger_noise, rows)
    return y, champion, challenger


@pytest.mark.parametrize("name", ["mae", "rmse", "r2"])
def test_bootstrap_interval_is_of_the_improvement_and_positive_for_a_better_challenger(
    name: str,
) -> None:
    metric = _metric(name)
    y, champion, challenger = _paired(1000, 5.0, 3.0)
    paired = pair_errors(metric, y, champion, challenger)

    interval = paired_error_bootstrap(metric, paired, confidence=0.95, resamples=500, seed=0)

    first, second = score_predictions(metric, y, champion), score_predictions(metric, y, challenger)
    expected = second - first if metric.higher_is_better else first - second
    assert interval.difference == pytest.approx(expected)
    assert 0 < interval.lower < interval.difference < interval.upper


def test_sign_flip_test_tells_a_better_model_from_an_equal_one() -> None:
    metric = _metric("mae")
    y, champion, challenger = _paired(1000, 5.0, 3.0)
    better = sign_flip_test(
        metric, pair_errors(metric, y, champion, challenger), permutations=500, seed=0
    )
    y, champion, challenger = _paired(1000, 4.0, 4.0, seed=3)
    equal = sign_flip_test(
        metric, pair_errors(metric, y, champion, challenger), permutations=500, seed=0
    )

    assert better.p_value < 0.01
    assert equal.p_value > 0.05


def test_error_summary_has_bias_and_tail() -> None:
    summary = error_summary([0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 5.0], 0.5)

    assert summary == {
        "mae": 2.0,
        "rmse": pytest.approx(np.sqrt(7.0)),
        "bias": 2.0,
        "p50 abs error": 1.0,
    }


def _rules(**changes: Any) -> GateRules:
    values: dict[str, Any] = {
        "metric": "mae",
        "metric_name": "mae",
        "performance_threshold": 6.0,
        "min_improvement": 0.1,
        "min_holdout_rows": 30,
        "resamples": 1000,
        "higher_is_better": False,
        "guards": REGRESSION_GUARDS,
    }
    return GateRules(**{**values, **changes})


def _outputs(version: str, predictions: Any, **changes: Any) -> ModelOutputs:
    values: dict[str, Any] = {
        "version": version,
        "training_window": EARLIER,
        "trained_on_holdout": False,
        "predictions": list(predictions),
        "latency_ms_per_1k_rows": 10.0,
        "model_size_bytes": 1000,
    }
    return ModelOutputs(**{**values, **changes})


def _compare(
    y: Any,
    champion: Any,
    challenger: Any,
    rules: GateRules | None = None,
    slices: dict | None = None,
) -> Comparison:
    return compare_models(
        comparison_id="c1",
        model_name="demand",
        holdout_window=HOLDOUT,
        y_true=list(y),
        rules=rules or _rules(),
        champion=None if champion is None else _outputs("v0001", champion),
        challenger=_outputs("v0002", challenger),
        slice_values=slices,
    )


def test_clearly_better_regressor_is_promoted_with_its_numbers_and_direction() -> None:
    y, champion, challenger = _paired(1000, 5.0, 3.0)

    comparison = _compare(y, champion, challenger)

    assert comparison.verdict == "promote", comparison.reasons
    assert comparison.mcnemar is None
    assert comparison.permutation is not None and comparison.permutation.p_value < 0.01
    assert comparison.champion is not None and comparison.champion.score is not None
    assert comparison.challenger.score is not None
    assert comparison.champion.errors.keys() == {"mae", "rmse", "bias", "p90 abs error"}
    assert comparison.difference == pytest.approx(
        comparison.champion.score - comparison.challenger.score
    )
    assert [g.name for g in comparison.guards] == [
        "rmse (second error metric, lower is better)",
        "|bias| (mean of prediction - target, lower is better)",
        "p90 abs error (lower is better)",
        "latency ms per 1k rows",
        "model size bytes",
    ]
    assert all(g.passed for g in comparison.guards)
    assert codes(comparison.reason_codes)[:2] == ["floor-met", "improvement-shown"]
    floor, improvement = (item.params for item in comparison.reason_codes[:2])
    assert floor == {
        "metric": "mae",
        "score": comparison.challenger.score,
        "threshold": 6.0,
        "higher_is_better": False,
    }
    assert improvement["higher_is_better"] is False
    assert improvement["champion_score"] == comparison.champion.score
    assert improvement["challenger_score"] == comparison.challenger.score
    text = render_comparison(comparison)
    assert "improvement (champion - challenger, lower is better)" in text
    assert "mae (lower is better)" in text
    markdown = render_comparison_markdown(comparison)
    assert "lower in mae (lower is better)" in markdown
    assert "| improvement | ok |  | +" in markdown
    assert "**improvement** (champion - challenger mae, lower is better) +" in markdown
    assert "sign-flip permutation test of per-row mae losses" in markdown
    # The record round-trips through its JSON form.
    assert Comparison.from_dict(comparison.to_dict()) == comparison


def test_equal_regressor_is_rejected() -> None:
    y, champion, challenger = _paired(1000, 4.0, 4.0, seed=5)

    comparison = _compare(y, champion, challenger, _rules(min_improvement=0.0))

    assert comparison.verdict == "reject"
    assert comparison.reason_codes[0].code == "improvement-not-shown"


def test_relative_min_improvement_is_a_share_of_the_champions_error() -> None:
    y, champion, challenger = _paired(2000, 5.0, 4.6)  # about 8% lower mae

    loose = _compare(
        y, champion, challenger, _rules(min_improvement=0.0, min_relative_improvement=0.02)
    )
    strict = _compare(
        y, champion, challenger, _rules(min_improvement=0.0, min_relative_improvement=0.5)
    )

    assert loose.verdict == "promote", loose.reasons
    assert strict.verdict == "reject"
    assert strict.reason_codes[0].code == "improvement-not-shown"
    required = strict.reason_codes[0].params
    assert strict.champion is not None and strict.champion.score is not None
    assert required["min_relative_improvement"] == 0.5
    assert required["required"] == pytest.approx(0.5 * strict.champion.score)


def test_challenger_above_the_error_floor_is_rejected() -> None:
    y, champion, challenger = _paired(1000, 9.0, 7.0)

    comparison = _compare(y, champion, challenger, _rules(performance_threshold=3.0))

    assert comparison.verdict == "reject"
    assert comparison.reason_codes[0].code == "below-floor"
    assert comparison.reason_codes[0].params["threshold"] == 3.0
    assert comparison.reason_codes[0].params["higher_is_better"] is False


def test_biased_challenger_breaks_the_bias_guard() -> None:
    y, champion, challenger = _paired(1000, 5.0, 1.0)
    biased = challenger + 2.0  # lower mae than the champion's ~4, but 2 units too high on average

    comparison = _compare(y, champion, biased)

    assert comparison.verdict == "reject"
    failed = [g.name for g in comparison.guards if not g.passed]
    assert failed == ["|bias| (mean of prediction - target, lower is better)"]


def test_challenger_with_a_heavy_tail_breaks_the_tail_guard() -> None:
    y, champion, _ = _paired(1000, 3.0, 3.0)
    # Exact on 85% of rows, far off on the rest: lower mae, much worse 90th percentile.
    challenger = y.copy()
    challenger[::7] += np.where(np.arange(len(challenger[::7])) % 2, 12.0, -12.0)

    comparison = _compare(
        y, champion, challenger, _rules(guards=replace(REGRESSION_GUARDS, second_error=None))
    )

    assert comparison.verdict == "reject"
    assert [g.name for g in comparison.guards if not g.passed] == [
        "p90 abs error (lower is better)"
    ]


def test_regressing_slice_blocks_with_holm() -> None:
    y, champion, challenger = _paired(1200, 4.0, 2.0)
    region = np.array(["north", "south", "east"] * 400)
    challenger = np.where(
        region == "east", y + np.random.default_rng(9).normal(0, 8, 1200), challenger
    )

    comparison = _compare(
        y,
        champion,
        challenger,
        _rules(slices=SliceRules(columns=("region",), min_rows=30, margin=0.05)),
        slices={"region": list(region)},
    )

    by_value = {s.value: s for s in comparison.slices}
    east = by_value["east"].difference
    assert by_value["east"].regressed and east is not None and east < 0
    assert not by_value["north"].regressed and not by_value["south"].regressed
    assert comparison.verdict == "reject"
    regressed = params_of(comparison.reason_codes, "slice-regressed")
    assert (regressed["column"], regressed["value"], regressed["rows"]) == ("region", "east", 400)
    assert regressed["difference"] == east
    assert regressed["higher_is_better"] is False


def test_first_regressor_needs_only_the_floor() -> None:
    y, _, challenger = _paired(200, 4.0, 2.0)

    comparison = _compare(y, None, challenger)

    assert comparison.verdict == "promote"
    assert comparison.challenger.errors["mae"] == pytest.approx(
        float(np.abs(np.asarray(challenger) - y).mean())
    )
