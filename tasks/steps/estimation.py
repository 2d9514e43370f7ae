"""The label-free performance estimate: scoring and calibrating a new version on its holdout,
and estimating the champion's metric on a window from its calibrated probabilities (CBPE)."""

from __future__ import annotations

from dataclasses import dataclass
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
from tasks.stores.data import LogSource, load_window
from tasks.stores.registry import ModelRegistry

REGRESSOR_NOTE = "performance is estimated for classifiers only (the metric is a regression metric)"
NO_PROBABILITIES_NOTE = "the model has no predict_proba, so its confidence cannot be estimated"


@dataclass(frozen=True)
class HoldoutFit:
    """What a new version's holdout says about it: its realised metric on the labelled rows
    (None: no holdout or no labelled rows), the calibration of its probabilities there (None
    for a regressor, a model without predict_proba, or the estimate turned off), and why."""

    score: float | None
    calibration: Calibration | None
    note: str
    # The holdout's labelled rows (None: no holdout, or none labelled), for the attachments.
    rows: pd.DataFrame | None = None


def fit_on_holdout(
    config: Config, source: LogSource, model: Any, holdout: Window | None
) -> HoldoutFit:
    """Score the model on the labelled rows of its holdout (every model: the policy judges the
    harm of drift against it) and calibrate its probabilities there (for the estimate)."""
    metric = config.policy.performance_metric
    if holdout is None:
        return HoldoutFit(None, None, "no holdout score or calibration: no holdout window")
    rows = load_window(config, holdout, labelled_only=True, source=source)
    if len(rows) == 0:
        return HoldoutFit(
            None,
            None,
            f"no holdout score or calibration: no labelled rows in the holdout {holdout}",
        )
    truth = rows[config.data.target_column].tolist()
    score = score_predictions(
        metric, truth, predict_labels(model, rows, config.data.features).tolist()
    )
    scored = f"holdout score {score:.3f} on {len(rows)} labelled rows of {holdout}"
    if not config.policy.estimated_performance.enabled:
        return HoldoutFit(
            score,
            None,
            f"{scored}; no calibration: policy.estimated_performance.enabled is false",
            rows,
        )
    if metric.is_regression:
        return HoldoutFit(score, None, f"{scored}; no calibration: {REGRESSOR_NOTE}", rows)
    predicted = predict_probabilities(model, rows, config.data.features)
    if predicted is None:
        return HoldoutFit(score, None, f"{scored}; no calibration: {NO_PROBABILITIES_NOTE}", rows)
    classes, probabilities = predicted
    if len(classes) < 2:
        return HoldoutFit(
            score, None, f"{scored}; no calibration: the model knows {len(classes)} class", rows
        )
    calibration = fit_calibration(
        classes, probabilities, truth, metric=metric.describe(), holdout_score=score
    )
    return HoldoutFit(score, calibration, f"{scored}; {calibration.describe()}", rows)


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
