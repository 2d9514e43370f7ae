"""The performance metric, computed the way Evidently computes it (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as sk

from tasks.config import MetricConfig
from tasks.errors import DataError


def score_predictions(
    metric: MetricConfig, y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray
) -> float:
    """Score predictions: binary -> the positive class's score, macro -> unweighted class mean."""
    if len(y_true) == 0:
        raise DataError("cannot score zero rows: there are no labelled rows to score on")
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
