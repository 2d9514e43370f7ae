"""The label-free estimate on the demo log: calibrated at registration, estimated per window."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tasks.core.estimate import Calibration
from tasks.core.windows import Window
from tasks.steps.backtest import score_window
from tasks.steps.estimation import estimate_window
from tasks.steps.monitoring import window_signals
from tasks.steps.training import train_challenger
from tasks.stores.data import load_window
from tasks.stores.registry import open_registry
from tasks.stores.resources import open_stores
from tests.helpers import repo_config

TRAINING = Window(datetime(2012, 1, 1), datetime(2013, 1, 1))
HOLDOUT = Window(datetime(2013, 1, 1), datetime(2013, 4, 1))
LATER = Window(datetime(2012, 7, 1), datetime(2012, 10, 1))  # before the labelling change


def _config(tmp_path: Path, **changes: object):
    return repo_config({"registry.path": str(tmp_path / "registry"), **changes})


def test_a_trained_version_keeps_its_holdout_calibration(tmp_path: Path) -> None:
    config = _config(tmp_path)

    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)
    registry = open_registry(config.registry, config.name)
    calibration = Calibration.from_dict(registry.load_calibration(record.version) or {})
    holdout_score, holdout_rows = score_window(config, open_stores(config), HOLDOUT, record.version)

    assert calibration.holdout_rows == holdout_rows > 80
    assert calibration.holdout_score == pytest.approx(holdout_score)
    assert calibration.metric == "f1 (macro)"
    assert set(calibration.classes) == {"drizzle", "fog", "rain", "snow", "sun"}


def test_every_version_records_its_holdout_score_and_the_monitor_passes_it_on(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)
    holdout_score, _ = score_window(config, open_stores(config), HOLDOUT, record.version)

    signals = window_signals(config, open_stores(config), LATER, record.version, None)

    assert record.metrics["holdout_f1 (macro)"] == pytest.approx(holdout_score, abs=1e-6)
    assert signals.holdout_score == record.metrics["holdout_f1 (macro)"]


def test_a_version_without_a_holdout_has_no_holdout_score(tmp_path: Path) -> None:
    config = _config(tmp_path)
    record = train_challenger(config, open_stores(config), TRAINING, "test")

    signals = window_signals(config, open_stores(config), LATER, record.version, None)

    assert set(record.metrics) == {"training_f1 (macro)"}
    assert signals.holdout_score is None


def test_the_estimate_is_computed_on_every_row_and_reported_by_the_monitor(tmp_path: Path) -> None:
    config = _config(tmp_path)
    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)

    signals = window_signals(config, open_stores(config), LATER, record.version, None)

    assert signals.estimate is not None
    assert signals.estimate_note is None
    assert signals.estimate.rows == signals.current_rows == 92
    assert signals.estimate.metric == "f1 (macro)"
    assert 0.0 < signals.estimate.value < 1.0


def test_a_version_without_calibration_has_no_estimate_and_says_why(tmp_path: Path) -> None:
    config = _config(tmp_path)
    record = train_challenger(
        config, open_stores(config), TRAINING, "test"
    )  # no holdout: nothing to calibrate on
    registry = open_registry(config.registry, config.name)
    rows = load_window(config, LATER)

    estimate, note = estimate_window(
        config, registry, record.version, registry.load_model(record.version), rows
    )

    assert estimate is None
    assert note is not None
    assert note.startswith(f"{record.version} was registered without a calibration")


def test_a_model_without_predict_proba_has_no_estimate(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        **{"model.estimator": "sklearn.linear_model.RidgeClassifier", "model.params": {}},
    )
    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)

    signals = window_signals(config, open_stores(config), LATER, record.version, None)

    assert open_registry(config.registry, config.name).load_calibration(record.version) is None
    assert signals.estimate is None
    assert signals.estimate_note == (
        f"{record.version} was registered without a calibration (no predict_proba, no labelled "
        "holdout rows, or registered before calibrations were kept); its successors will have one"
    )


def test_a_version_without_a_loss_estimator_has_no_regression_estimate(tmp_path: Path) -> None:
    # a regressor's estimate comes from its loss estimator (tests/steps/test_loss_estimation.py):
    # a classifier's version read with a regression metric has none
    config = _config(tmp_path)
    regression = config.model_copy(
        update={
            "policy": config.policy.model_copy(
                update={
                    "performance_metric": config.policy.performance_metric.model_copy(
                        update={"name": "mae", "average": "macro"}
                    )
                }
            )
        }
    )
    classifier = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)
    registry = open_registry(config.registry, config.name)

    estimate, note = estimate_window(
        regression,
        registry,
        classifier.version,
        registry.load_model(classifier.version),
        load_window(config, LATER),
    )

    assert estimate is None
    assert note is not None
    assert note.startswith(f"{classifier.version} was registered without a loss estimator")


def test_a_regressor_records_its_holdout_error_without_a_calibration(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        **{
            "data.target_column": "temp_max",
            "data.numerical_features": ["precipitation", "temp_min", "wind"],
            "data.categorical_features": [],
            "model.estimator": "sklearn.linear_model.Ridge",
            "model.params": {},
            "policy.performance_metric": {"name": "mae"},
            "policy.performance_threshold": 5.0,
            "policy.severe_performance_threshold": None,
        },
    )
    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)
    holdout_error, _ = score_window(config, open_stores(config), HOLDOUT, record.version)

    assert record.metrics["holdout_mae"] == pytest.approx(holdout_error, abs=1e-6)
    assert 0 < record.metrics["holdout_mae"] < 5
    assert open_registry(config.registry, config.name).load_calibration(record.version) is None
