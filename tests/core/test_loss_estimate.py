"""Direct loss estimation (tasks/core/loss_estimate.py) on small seeded frames."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from tasks.config import MetricConfig
from tasks.core.loss_estimate import (
    MIN_ROWS,
    LossEstimator,
    check_supported,
    estimate_loss_metric,
    expected_losses,
    fit_loss_estimator,
)
from tasks.errors import DataError

FEATURES = ["x", "colour"]
CATEGORICAL = ["colour"]
MAE = MetricConfig(name="mae")
RMSE = MetricConfig(name="rmse")


def _frame(rows: int, shift: float, seed: int) -> pd.DataFrame:
    """A target whose noise grows with |x| (and is larger for red rows); shift moves x."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, rows)
    colour = rng.choice(["red", "blue"], rows)
    noise = rng.normal(0.0, 1.0, rows) * (0.2 + np.abs(x) + (colour == "red"))
    return pd.DataFrame({"x": x, "colour": colour, "y": 2.0 * x + noise})


def _predict(frame: pd.DataFrame) -> np.ndarray:
    return 2.0 * frame["x"].to_numpy()  # the true mean: its errors are the noise


def _fit(rows: int = 600, seed: int = 0) -> LossEstimator:
    holdout = _frame(rows, 0.0, seed)
    return fit_loss_estimator(holdout, FEATURES, CATEGORICAL, _predict(holdout), holdout["y"])


def _realised(frame: pd.DataFrame, metric: MetricConfig) -> float:
    error = frame["y"].to_numpy() - _predict(frame)
    return float(np.abs(error).mean() if metric.name == "mae" else np.sqrt((error**2).mean()))


@pytest.mark.parametrize("metric", [MAE, RMSE], ids=["mae", "rmse"])
def test_the_estimate_follows_covariate_shift(metric: MetricConfig) -> None:
    estimator = _fit()
    still, shifted = _frame(2000, 0.0, 1), _frame(2000, 0.75, 2)

    at_rest = estimate_loss_metric(metric, estimator, still, _predict(still))
    moved = estimate_loss_metric(metric, estimator, shifted, _predict(shifted))

    # the rows moved to where the noise is larger: the realised error rose by over 10%, and so
    # did the estimate, within 10% of the realised value on either window (trees extrapolate
    # flat: a shift far beyond the holdout's rows is underestimated)
    assert _realised(shifted, metric) > 1.1 * _realised(still, metric)
    assert moved > 1.03 * at_rest
    assert at_rest == pytest.approx(_realised(still, metric), rel=0.10)
    assert moved == pytest.approx(_realised(shifted, metric), rel=0.10)


def test_the_holdout_scores_are_the_realised_ones() -> None:
    holdout = _frame(600, 0.0, 0)

    estimator = fit_loss_estimator(holdout, FEATURES, CATEGORICAL, _predict(holdout), holdout["y"])

    assert estimator.holdout_rows == 600
    assert estimator.holdout_scores["mae"] == pytest.approx(_realised(holdout, MAE), rel=1e-12)
    assert estimator.holdout_scores["rmse"] == pytest.approx(_realised(holdout, RMSE), rel=1e-12)
    assert "600 holdout rows" in estimator.describe()


def test_rows_with_larger_expected_errors_are_those_with_larger_errors() -> None:
    estimator = _fit()
    rows = pd.DataFrame({"x": [0.0, 0.0, 2.5], "colour": ["blue", "red", "red"]})

    expected = expected_losses(estimator, "absolute", rows, _predict(rows))

    assert expected[0] < expected[1] < expected[2]
    assert (expected >= 0).all()


def test_an_unseen_category_and_missing_values_are_estimated() -> None:
    estimator = _fit()
    rows = pd.DataFrame({"x": [0.5, np.nan], "colour": ["green", None]})

    value = estimate_loss_metric(MAE, estimator, rows, [1.0, 0.0])

    assert np.isfinite(value) and value > 0


def test_the_stored_form_round_trips() -> None:
    estimator = _fit()
    window = _frame(300, 0.5, 3)

    stored = pickle.loads(pickle.dumps(estimator.to_payload()))
    back = LossEstimator.from_payload(stored)

    assert back.features == estimator.features and back.categorical == estimator.categorical
    assert back.holdout_scores == estimator.holdout_scores
    for metric in (MAE, RMSE):
        assert estimate_loss_metric(metric, back, window, _predict(window)) == pytest.approx(
            estimate_loss_metric(metric, estimator, window, _predict(window)), rel=1e-12
        )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"format": 99}, "is not of format 1 (found 99)"),
        ([1, 2], "is not of format 1 (found 'list')"),
        ({"format": 1, "features": ["x"]}, "is malformed: KeyError('models')"),
    ],
)
def test_a_malformed_stored_form_is_refused(payload: object, message: str) -> None:
    with pytest.raises(DataError, match="the stored loss estimator") as error:
        LossEstimator.from_payload(payload)

    assert message in str(error.value)


def test_a_stored_form_without_a_loss_model_is_refused() -> None:
    payload = _fit().to_payload()
    payload["models"] = {"absolute": payload["models"]["absolute"]}

    with pytest.raises(DataError, match=r"no fitted model of the \['squared'\] loss"):
        LossEstimator.from_payload(payload)


@pytest.mark.parametrize(
    "metric",
    [
        MetricConfig(name="mape", floor=1.0),
        MetricConfig(name="r2"),
        MetricConfig(name="pinball", quantile=0.9),
    ],
    ids=["mape", "r2", "pinball"],
)
def test_metrics_that_need_the_target_are_refused(metric: MetricConfig) -> None:
    estimator = _fit()
    window = _frame(50, 0.0, 4)

    with pytest.raises(DataError) as error:
        estimate_loss_metric(metric, estimator, window, _predict(window))

    assert str(error.value) == (
        f"the label-free estimate of a regressor supports mae and rmse, not {metric.name} (it needs "
        "the target itself): set policy.performance_metric.name to mae or rmse, or "
        "policy.estimated_performance.enabled to false"
    )


@pytest.mark.parametrize("metric", [MAE, RMSE], ids=["mae", "rmse"])
def test_supported_metrics_pass_the_check(metric: MetricConfig) -> None:
    check_supported(metric)


def test_too_few_holdout_rows_are_refused() -> None:
    holdout = _frame(MIN_ROWS - 1, 0.0, 0)

    with pytest.raises(DataError, match=f"on {MIN_ROWS - 1} labelled rows: it needs {MIN_ROWS}"):
        fit_loss_estimator(holdout, FEATURES, CATEGORICAL, _predict(holdout), holdout["y"])


def test_missing_targets_are_refused() -> None:
    holdout = _frame(100, 0.0, 0)
    holdout.loc[3, "y"] = np.nan

    with pytest.raises(DataError, match="the target has missing or infinite values"):
        fit_loss_estimator(holdout, FEATURES, CATEGORICAL, _predict(holdout), holdout["y"])


def test_rows_without_the_features_are_refused() -> None:
    estimator = _fit()

    with pytest.raises(DataError, match=r"lack the features \['colour'\]"):
        estimate_loss_metric(MAE, estimator, pd.DataFrame({"x": [0.0]}), [0.0])


def test_zero_rows_are_refused() -> None:
    with pytest.raises(DataError, match="cannot estimate performance on zero rows"):
        estimate_loss_metric(MAE, _fit(), _frame(0, 0.0, 0), [])
