"""The Evidently adapter for a regressor: numeric prediction drift, target drift, regression report."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from tasks.adapters.evidently_report import compute_signals
from tasks.config import Config, load_config
from tasks.core.metrics import score_predictions
from tasks.core.windows import Window
from tasks.stores.data import load_window

REGRESSOR = {
    "data": {
        "target_column": "temp_max",
        "numerical_features": ["precipitation", "temp_min", "wind"],
    },
    # params: None drops the demo's forest parameters (the merge removes keys set to None).
    "model": {"estimator": "sklearn.linear_model.Ridge", "params": None},
    "policy": {
        "performance_metric": {"name": "mae"},
        "performance_threshold": 3.0,
        "severe_performance_threshold": 6.0,
    },
}


@pytest.fixture
def config(write_config) -> Config:
    return load_config(write_config(REGRESSOR))


def test_regressor_signals_test_numeric_predictions_and_the_target(config, tmp_path):
    window = Window(datetime(2012, 1, 1), datetime(2013, 1, 1))
    reference = load_window(config, window)
    current = load_window(config, Window(datetime(2014, 1, 1), datetime(2014, 4, 1)))
    predictions = current["temp_min"].to_numpy() + 7.0

    signals = compute_signals(
        config,
        current,
        reference,
        predictions,
        "champion",
        tmp_path,
        reference_predictions=reference["temp_min"].to_numpy() + 7.0,
    )

    # Winter against a whole year: the predictions and the target both shift.
    assert signals.prediction_drift is not None
    assert signals.prediction_drift.method == "K-S p_value"  # numeric, not chi-square
    assert signals.prediction_drift.drifted
    assert signals.target_drift is not None
    assert signals.target_drift.column == "temp_max"
    assert signals.target_drift.drifted and signals.target_drift.score < 0.05
    assert {c.column for c in signals.columns} == {"precipitation", "temp_min", "wind"}
    labelled = current["temp_max"].notna().to_numpy()
    assert signals.performance is not None
    assert signals.performance.metric == "mae"
    assert signals.performance.value == pytest.approx(
        score_predictions(
            config.policy.performance_metric,
            current["temp_max"].to_numpy()[labelled],
            predictions[labelled],
        )
    )
    names = sorted(path.rsplit("/", 1)[-1] for path in signals.report_paths)
    assert names == ["drift.html", "performance.html"]
    performance_html = (tmp_path / "performance.html").read_text(encoding="utf-8")
    assert "Mean Absolute Error" in performance_html or "MAE" in performance_html


def test_window_without_labels_has_no_target_drift_nor_performance(config, tmp_path):
    reference = load_window(config, Window(datetime(2012, 1, 1), datetime(2013, 1, 1)))
    current = load_window(config, Window(datetime(2014, 1, 1), datetime(2014, 4, 1)))
    current = current.assign(temp_max=np.nan)

    signals = compute_signals(
        config, current, reference, current["temp_min"].to_numpy() + 7.0, "champion", None
    )

    assert signals.target_drift is None
    assert signals.performance is None
