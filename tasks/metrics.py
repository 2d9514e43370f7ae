"""The performance metric, computed the way Evidently computes it (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn import metrics as sk

from tasks.config import MetricConfig


def score_predictions(metric: MetricConfig, y_true: Sequence[Any], y_pred: Sequence[Any]) -> float:
    """Score predictions: binary -> the positive class's score, macro -> unweighted class mean."""
    if len(y_true) == 0:
        raise ValueError("cannot score zero rows")
    if metric.name == "accuracy":
        return float(sk.accuracy_score(y_true, y_pred))
    function = {"f1": sk.f1_score, "precision": sk.precision_score, "recall": sk.recall_score}[
        metric.name
    ]
    if metric.average == "binary":
        return float(
            function(y_true, y_pred, average="binary", pos_label=metric.pos_label, zero_division=0)
        )
    return float(function(y_true, y_pred, average="macro", zero_division=0))
