"""A regressor is built, fitted and predicts numbers; a non-numeric target is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.adapters.modeling import fit_model, predict_labels, predict_true_class_probability
from tasks.errors import DataError, ModelError
from tests.helpers import repo_config

REGRESSOR = {
    "model.estimator": "sklearn.linear_model.Ridge",
    "model.params": {"alpha": 1.0},
    "data.target_column": "temp_max",
    "data.numerical_features": ["precipitation", "temp_min", "wind"],
    "policy.performance_metric": {"name": "rmse"},
    "policy.performance_threshold": 5.0,
    "policy.severe_performance_threshold": None,
}


def _frame(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    temp_min = rng.normal(8, 4, rows)
    return pd.DataFrame(
        {
            "precipitation": rng.exponential(2, rows),
            "temp_min": temp_min,
            "wind": rng.normal(3, 1, rows),
            "temp_max": temp_min + 7 + rng.normal(0, 1, rows),
        }
    )


def test_regressor_fits_and_predicts_numbers() -> None:
    config = repo_config(REGRESSOR)
    frame = _frame()

    model = fit_model(config, frame)
    predictions = predict_labels(model, frame, config.data.features)

    assert predictions.dtype.kind == "f"
    assert np.abs(predictions - frame["temp_max"]).mean() < 1.5
    # No class probabilities: the log-loss guard does not apply to a regressor.
    assert predict_true_class_probability(model, frame, config.data.features, []) is None


def test_non_numeric_target_is_refused_with_the_column_named() -> None:
    config = repo_config(REGRESSOR)
    frame = _frame().assign(temp_max=lambda f: np.where(f["temp_max"] > 15, "warm", "cold"))

    with pytest.raises(DataError, match="target column 'temp_max' must be numbers"):
        fit_model(config, frame)


def test_constant_target_cannot_train_a_regressor() -> None:
    config = repo_config(REGRESSOR)

    with pytest.raises(ModelError, match="fewer than 2 values"):
        fit_model(config, _frame().assign(temp_max=10.0))
