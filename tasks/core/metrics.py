"""The performance metric, computed the way Evidently computes it (pure, no I/O).

Regression metrics: mae, rmse, mape (|y - p| / max(|y|, floor), a fraction), pinball (the
quantile loss) and r2. Each but r2 is the mean of a per-row loss (rmse: the square root of the
mean squared error), which is what the gate's paired statistics resample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as sk

from tasks.config import MetricConfig
from tasks.errors import DataError


def holdout_metric_key(metric: MetricConfig) -> str:
    """The key of a version's realised metric on its holdout in its lineage's metrics."""
    return f"holdout_{metric.describe()}"


def score_predictions(
    metric: MetricConfig, y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray
) -> float:
    """Score predictions: binary -> the positive class's score, macro -> unweighted class mean;
    regression metrics on numbers (see the module docstring)."""
    if len(y_true) == 0:
        raise DataError("cannot score zero rows: there are no labelled rows to score on")
    if metric.is_regression:
        return score_regression(metric, y_true, y_pred)
    if metric.name == "accuracy":
        return float(sk.accuracy_score(y_true, y_pred))
    function = {"f1": sk.f1_score, "precision": sk.precision_score, "recall": sk.recall_score}[
        metric.name
    ]
    if metric.average == "macro":
        return float(function(y_true, y_pred, average="macro", zero_division=0))
    true_labels = set(pd.unique(np.asarray(y_true, dtype=object)))
    labels = true_labels | set(pd.unique(np.asarray(y_pred, dtype=object)))
    if len(labels) > 2:
        raise DataError(
            f"average 'binary' needs two classes, found {len(labels)}: {sorted(map(str, labels))}; "
            "use average: macro for a multiclass target"
        )
    if metric.pos_label not in true_labels:
        raise DataError(
            f"pos_label {metric.pos_label!r} does not occur among the labels {sorted(map(str, true_labels))}; "
            "check policy.performance_metric.pos_label (its type too: 1 is not '1')"
        )
    return float(
        function(y_true, y_pred, average="binary", pos_label=metric.pos_label, zero_division=0)
    )


def as_numbers(values: Sequence[Any] | np.ndarray, what: str) -> np.ndarray:
    """values as float64; a DataError naming what when they are not numbers."""
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        numbers = array.astype(np.float64)
    else:
        series = pd.Series(array, dtype=object)
        try:
            numbers = np.asarray(pd.to_numeric(series), dtype=np.float64)
        except (TypeError, ValueError):
            coerced = pd.to_numeric(series, errors="coerce")
            not_numbers = series[coerced.isna() & series.notna()]
            examples = sorted({str(v) for v in not_numbers.head(1000)})[:5]
            raise DataError(
                f"the {what} must be numbers for a regression metric, found values like "
                f"{examples}: a regressor needs a numeric target (use a classifier and f1 for "
                "class labels)"
            ) from None
    if not np.isfinite(numbers).all():
        raise DataError(f"the {what} has missing or infinite values: score only labelled rows")
    return numbers


def row_losses(metric: MetricConfig, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Each row's loss, whose mean is the metric (rmse and r2: the squared error)."""
    error = y_true - y_pred
    if metric.name == "mae":
        return np.abs(error)
    if metric.name == "mape":
        return np.abs(error) / np.maximum(np.abs(y_true), metric.floor or 0.0)
    if metric.name == "pinball":
        quantile = metric.quantile or 0.5
        return np.maximum(quantile * error, (quantile - 1) * error)
    if metric.name in ("rmse", "r2"):
        return error * error
    raise DataError(f"{metric.name} is not a regression metric")


def score_regression(
    metric: MetricConfig, y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray
) -> float:
    """mae, rmse, mape, pinball or r2 of numeric predictions."""
    truth = as_numbers(y_true, "target")
    predicted = as_numbers(y_pred, "predictions")
    losses = row_losses(metric, truth, predicted)
    if metric.name == "rmse":
        return float(np.sqrt(losses.mean()))
    if metric.name == "r2":
        spread = float(((truth - truth.mean()) ** 2).sum())
        if spread == 0:
            raise DataError(
                f"r2 is undefined on {len(truth)} rows whose target is constant: use mae or rmse"
            )
        return 1.0 - float(losses.sum()) / spread
    return float(losses.mean())
