"""The label-free estimate of a regressor (direct loss estimation, DLE): fitting its loss models
on a new version's holdout, storing them with the version, and estimating the champion's mae or
rmse on a window from them (see tasks/core/loss_estimate.py).

The loss models are stored as the version's attachment `loss_estimator.pkl`: a pickle of plain
values and fitted scikit-learn pipelines, as model.pkl is one of the model itself, and like it
read only after the registry has checked its SHA-256 against the one registered with the
version. skops (a safer format for scikit-learn objects) is not a dependency.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd

from tasks.adapters.modeling import predict_labels
from tasks.config import Config
from tasks.core.loss_estimate import (
    MIN_ROWS,
    LossEstimator,
    check_supported,
    estimate_loss_metric,
    fit_loss_estimator,
)
from tasks.core.signals import EstimatedPerformance
from tasks.errors import DataError, RegistryError
from tasks.steps.logs import step_logger
from tasks.stores.registry import ModelRegistry

ATTACHMENT = "loss_estimator.pkl"
BASIS = "expected errors (direct loss estimation)"


def build_loss_estimator(
    config: Config, model: Any, holdout: pd.DataFrame | None
) -> tuple[LossEstimator | None, str]:
    """A regressor's loss models fitted on the labelled rows of its holdout, or None and why
    not (a classifier, the estimate turned off, too few labelled rows)."""
    metric = config.policy.performance_metric
    if not metric.is_regression:
        return None, "no loss estimator: the model is a classifier"
    if not config.policy.estimated_performance.enabled:
        return None, "no loss estimator: policy.estimated_performance.enabled is false"
    target = config.data.target_column
    labelled = None if holdout is None else holdout[holdout[target].notna()]
    if labelled is None or len(labelled) < MIN_ROWS:
        rows = 0 if labelled is None else len(labelled)
        return None, (
            f"no loss estimator: {rows} labelled holdout rows, it needs {MIN_ROWS} "
            "(widen windows.holdout)"
        )
    features = config.data.features
    estimator = fit_loss_estimator(
        labelled,
        features,
        config.data.categorical_features,
        predict_labels(model, labelled, features),
        labelled[target].to_numpy(),
        seed=config.promotion.seed,
    )
    return estimator, estimator.describe()


def loss_estimator_bytes(estimator: LossEstimator) -> bytes:
    """The stored form: a pickle of the estimator's payload (plain values, fitted pipelines)."""
    return pickle.dumps(estimator.to_payload(), protocol=pickle.HIGHEST_PROTOCOL)


def loss_estimator_from_bytes(data: bytes, version: str) -> LossEstimator:
    """The estimator back from its stored form; RegistryError naming the version when it is
    not one (the registry has checked its SHA-256 already: this is a file that never was one)."""
    try:
        payload = pickle.loads(data)  # read only after its SHA-256 matched, as model.pkl is
        return LossEstimator.from_payload(payload)
    except (DataError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
        raise RegistryError(
            f"the loss estimator of {version} cannot be read: {error}. Register the version "
            "again, or set policy.estimated_performance.enabled to false"
        ) from None


def loss_estimator_attachment(
    config: Config, model: Any, holdout: pd.DataFrame | None
) -> bytes | None:
    """The attachment a regressor is registered with (None: none, see build_loss_estimator)."""
    estimator, note = build_loss_estimator(config, model, holdout)
    if config.policy.performance_metric.is_regression:
        step_logger(__name__).info(note)
    return None if estimator is None else loss_estimator_bytes(estimator)


def estimate_regressor_window(
    config: Config,
    registry: ModelRegistry,
    version: str,
    model: Any,
    current: pd.DataFrame,
    predicted: np.ndarray | None = None,
) -> tuple[EstimatedPerformance | None, str | None]:
    """The regressor champion's mae or rmse on every row of current, estimated from its
    stored loss models; or None and why there is no estimate."""
    metric = config.policy.performance_metric
    try:
        check_supported(metric)
    except DataError as error:
        return None, str(error)
    stored = registry.load_attachment(version, ATTACHMENT)
    if stored is None:
        return None, (
            f"{version} was registered without a loss estimator (fewer than {MIN_ROWS} labelled "
            "holdout rows, or registered before loss estimators were kept); its successors will "
            "have one"
        )
    estimator = loss_estimator_from_bytes(stored, version)
    features = tuple(config.data.features)
    if estimator.features != features:
        raise DataError(
            f"the loss estimator of {version} was fitted on the features "
            f"{list(estimator.features)}, but the config has {list(features)}: the version "
            "does not belong to this config (check data.numerical_features and "
            "data.categorical_features)"
        )
    if len(current) == 0:
        return None, "the window has no rows"
    if predicted is None:
        predicted = predict_labels(model, current, config.data.features)
    value = estimate_loss_metric(metric, estimator, current, predicted)
    return EstimatedPerformance(
        metric=metric.describe(),
        value=value,
        rows=len(current),
        holdout_score=estimator.holdout_scores[metric.name],
        basis=BASIS,
    ), None
