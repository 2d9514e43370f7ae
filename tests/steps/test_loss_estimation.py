"""A regressor's label-free estimate (DLE) on the demo log: its loss estimator fitted at
registration and stored with the version, the estimate per window, and what goes wrong."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tasks.config import Config
from tasks.core.windows import Window
from tasks.errors import DataError, RegistryError
from tasks.render.reporting import describe_estimate
from tasks.steps.backtest import estimate_in_window, score_window
from tasks.steps.estimation import estimate_window
from tasks.steps.loss_estimation import ATTACHMENT, BASIS, loss_estimator_from_bytes
from tasks.steps.monitoring import window_signals
from tasks.steps.training import train_challenger
from tasks.stores.data import load_window
from tasks.stores.registry import open_registry
from tasks.stores.resources import open_stores
from tests.helpers import make_lineage, repo_config

TRAINING = Window(datetime(2012, 1, 1), datetime(2013, 1, 1))
HOLDOUT = Window(datetime(2013, 1, 1), datetime(2013, 4, 1))
LATER = Window(datetime(2014, 1, 1), datetime(2014, 4, 1))  # the same season a year on


def _config(tmp_path: Path, **changes: Any) -> Config:
    """The demo log with a regressor: the day's maximum temperature, in degrees Celsius."""
    return repo_config(
        {
            "registry.path": str(tmp_path / "registry"),
            "data.target_column": "temp_max",
            "data.numerical_features": ["precipitation", "temp_min", "wind"],
            "data.categorical_features": [],
            "model.estimator": "sklearn.linear_model.Ridge",
            "model.params": {"alpha": 1.0},
            "policy.performance_metric": {"name": "mae"},
            "policy.performance_threshold": 5.0,
            "policy.severe_performance_threshold": None,
            **changes,
        }
    )


def test_a_trained_regressor_keeps_its_loss_estimator(tmp_path: Path) -> None:
    config = _config(tmp_path)

    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)

    registry = open_registry(config.registry, config.name)
    stored = registry.load_attachment(record.version, ATTACHMENT)
    assert stored is not None and ATTACHMENT in record.attachments
    estimator = loss_estimator_from_bytes(stored, record.version)
    holdout_score, holdout_rows = score_window(config, open_stores(config), HOLDOUT, record.version)
    assert estimator.holdout_rows == holdout_rows > 80
    assert estimator.holdout_scores["mae"] == pytest.approx(holdout_score, rel=1e-9)
    assert estimator.features == ("precipitation", "temp_min", "wind")
    assert registry.load_calibration(record.version) is None  # a classifier's, not a regressor's


@pytest.mark.parametrize("metric", ["mae", "rmse"])
def test_the_monitor_estimates_a_regressor_on_every_row(tmp_path: Path, metric: str) -> None:
    config = _config(tmp_path, **{"policy.performance_metric": {"name": metric}})
    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)

    signals = window_signals(config, open_stores(config), LATER, record.version, None)

    estimate, realised = signals.estimate, signals.performance
    assert estimate is not None and realised is not None and signals.estimate_note is None
    assert estimate.rows == signals.current_rows > 80
    assert (estimate.metric, estimate.basis) == (metric, BASIS)
    # winter again, a year after the holdout: the same relation of the temperatures
    assert estimate.value == pytest.approx(realised.value, rel=0.25)
    assert estimate.holdout_score == pytest.approx(record.metrics[f"holdout_{metric}"], abs=1e-5)
    assert f"{metric} {estimate.value:.3f} on all {estimate.rows} rows, from the champion's " in (
        describe_estimate(signals)
    )
    assert "expected errors (direct loss estimation) (no labels needed" in (
        describe_estimate(signals)
    )


def test_the_backtest_estimates_a_regressor(tmp_path: Path) -> None:
    config = _config(tmp_path)
    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)

    value = estimate_in_window(config, open_stores(config), LATER, record.version)

    realised, _ = score_window(config, open_stores(config), LATER, record.version)
    assert value is not None and value == pytest.approx(realised, rel=0.25)


def test_an_unsupported_metric_has_no_estimate_and_says_why(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        **{"policy.performance_metric": {"name": "r2"}, "policy.performance_threshold": 0.5},
    )
    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)

    signals = window_signals(config, open_stores(config), LATER, record.version, None)

    assert signals.estimate is None
    assert signals.estimate_note == (
        "the label-free estimate of a regressor supports mae and rmse, not r2 (it needs the "
        "target itself): set policy.performance_metric.name to mae or rmse, or "
        "policy.estimated_performance.enabled to false"
    )


def test_a_regressor_without_a_holdout_has_no_estimate_and_says_why(tmp_path: Path) -> None:
    config = _config(tmp_path)
    record = train_challenger(config, open_stores(config), TRAINING, "test")

    signals = window_signals(config, open_stores(config), LATER, record.version, None)

    assert ATTACHMENT not in record.attachments
    assert signals.estimate is None
    assert signals.estimate_note == (
        f"{record.version} was registered without a loss estimator (fewer than 30 labelled "
        "holdout rows, or registered before loss estimators were kept); its successors will "
        "have one"
    )


def test_no_loss_estimator_when_the_estimate_is_off(tmp_path: Path) -> None:
    config = _config(tmp_path, **{"policy.estimated_performance.enabled": False})

    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)

    assert ATTACHMENT not in record.attachments


def _window_args(config: Config, version: str) -> tuple[Any, ...]:
    registry = open_registry(config.registry, config.name)
    return config, registry, version, registry.load_model(version), load_window(config, LATER)


def test_a_tampered_loss_estimator_is_refused(tmp_path: Path) -> None:
    config = _config(tmp_path)
    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)
    (path,) = (tmp_path / "registry").rglob(ATTACHMENT)
    path.write_bytes(path.read_bytes() + b"\0")

    with pytest.raises(RegistryError) as error:
        estimate_window(*_window_args(config, record.version))

    assert f"attachment {ATTACHMENT} of {record.version} does not match its registered" in str(
        error.value
    )


def test_a_stored_file_that_is_no_loss_estimator_is_refused(tmp_path: Path) -> None:
    config = _config(tmp_path)
    stores = open_stores(config)
    trained = train_challenger(config, stores, TRAINING, "test")
    registry = open_registry(config.registry, config.name)
    record = registry.register(
        registry.load_model(trained.version),
        load_window(config, TRAINING),
        make_lineage(),
        attachments={ATTACHMENT: b"not a pickle"},
    )

    with pytest.raises(RegistryError) as error:
        estimate_window(*_window_args(config, record.version))

    assert str(error.value).startswith(f"the loss estimator of {record.version} cannot be read: ")
    assert str(error.value).endswith(
        "Register the version again, or set policy.estimated_performance.enabled to false"
    )


def test_a_loss_estimator_of_other_features_is_refused(tmp_path: Path) -> None:
    config = _config(tmp_path)
    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)
    other = _config(tmp_path, **{"data.numerical_features": ["precipitation", "temp_min"]})
    registry = open_registry(config.registry, config.name)

    with pytest.raises(DataError) as error:
        estimate_window(
            other,
            registry,
            record.version,
            registry.load_model(record.version),
            load_window(config, LATER),
        )

    assert str(error.value).startswith(
        f"the loss estimator of {record.version} was fitted on the features "
        "['precipitation', 'temp_min', 'wind'], but the config has ['precipitation', 'temp_min']"
    )


def test_the_estimate_uses_the_champion_s_own_predictions(tmp_path: Path) -> None:
    config = _config(tmp_path)
    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)
    registry = open_registry(config.registry, config.name)
    model, rows = registry.load_model(record.version), load_window(config, LATER)

    own, _ = estimate_window(config, registry, record.version, model, rows)
    far_off = np.full(len(rows), 100.0)  # predictions far off: larger expected errors
    given, _ = estimate_window(config, registry, record.version, model, rows, far_off)

    assert own is not None and given is not None
    assert given.value > own.value
