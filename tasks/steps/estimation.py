"""The label-free performance estimate: calibrating a new version on its holdout, and
estimating the champion's metric on a window from its calibrated probabilities (CBPE)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tasks.adapters.modeling import predict_labels, predict_probabilities
from tasks.config import Config
from tasks.core.estimate import Calibration, estimate_metric, fit_calibration
from tasks.core.metrics import score_predictions
from tasks.core.signals import EstimatedPerformance
from tasks.core.windows import Window
from tasks.errors import DataError
from tasks.steps.logs import step_logger
from tasks.stores.data import load_window
from tasks.stores.registry import ModelRegistry

REGRESSOR_NOTE = "performance is estimated for classifiers only (the metric is a regression metric)"
NO_PROBABILITIES_NOTE = "the model has no predict_proba, so its confidence cannot be estimated"


def calibrate_on_holdout(
    config: Config, model: Any, holdout: Window | None
) -> tuple[Calibration | None, str]:
    """The model's calibration on the labelled rows of its holdout (None, and why, when there
    is none to fit), with its realised score there."""
    metric = config.policy.performance_metric
    if not config.policy.estimated_performance.enabled:
        return None, "no calibration: policy.estimated_performance.enabled is false"
    if metric.is_regression:
        return None, f"no calibration: {REGRESSOR_NOTE}"
    if holdout is None:
        return None, "no calibration: no holdout window to calibrate on"
    rows = load_window(config, holdout, labelled_only=True)
    if len(rows) == 0:
        return None, f"no calibration: no labelled rows in the holdout {holdout}"
    predicted = predict_probabilities(model, rows, config.data.features)
    if predicted is None:
        return None, f"no calibration: {NO_PROBABILITIES_NOTE}"
    classes, probabilities = predicted
    if len(classes) < 2:
        return None, f"no calibration: the model knows {len(classes)} class"
    truth = rows[config.data.target_column].tolist()
    score = score_predictions(
        metric, truth, predict_labels(model, rows, config.data.features).tolist()
    )
    calibration = fit_calibration(
        classes, probabilities, truth, metric=metric.describe(), holdout_score=score
    )
    return calibration, f"{calibration.describe()} {holdout}, holdout score {score:.3f}"


def estimate_window(
    config: Config,
    registry: ModelRegistry,
    version: str,
    model: Any,
    current: pd.DataFrame,
    predicted: np.ndarray | None = None,
) -> tuple[EstimatedPerformance | None, str | None]:
    """The champion's metric on every row of current, estimated from its calibrated
    probabilities; or None and why there is no estimate.

    Args:
        predicted: the champion's own predictions of current's rows, when already made
            (logged predictions are not the champion's: pass None and it predicts).
    """
    metric = config.policy.performance_metric
    if not config.policy.estimated_performance.enabled:
        return None, None
    if metric.is_regression:
        return None, REGRESSOR_NOTE
    stored = registry.load_calibration(version)
    if stored is None:
        return None, (
            f"{version} was registered without a calibration (no predict_proba, no labelled "
            "holdout rows, or registered before calibrations were kept); its successors will "
            "have one"
        )
    calibration = Calibration.from_dict(stored)
    if len(current) == 0:
        return None, "the window has no rows"
    output = predict_probabilities(model, current, config.data.features)
    if output is None:
        return None, NO_PROBABILITIES_NOTE
    classes, probabilities = output
    if [str(c) for c in classes] != [str(c) for c in calibration.classes]:
        raise DataError(
            f"the calibration of {version} is for classes {list(calibration.classes)}, but the "
            f"model predicts {classes}: the version's files do not belong together"
        )
    value = estimate_metric(
        metric,
        calibration,
        probabilities,
        predict_labels(model, current, config.data.features) if predicted is None else predicted,
    )
    return EstimatedPerformance(
        metric=metric.describe(),
        value=value,
        rows=len(current),
        holdout_score=calibration.holdout_score,
    ), None


def log_estimate(estimate: EstimatedPerformance | None, note: str | None) -> None:
    """Say once per run what the estimate is, or why there is none."""
    logger = step_logger(__name__)
    if estimate is not None:
        logger.info(
            "estimated %s %.3f on %d rows (champion's holdout score %.3f)",
            estimate.metric,
            estimate.value,
            estimate.rows,
            estimate.holdout_score,
        )
    elif note:
        logger.info("no performance estimate: %s", note)
