"""Label-free performance estimation for classifiers (confidence-based, CBPE; pure, no I/O).

A classifier's probabilities, once calibrated, say how likely each row is of each class. Summed
over a window's rows by predicted class they give the expected confusion matrix:
`matrix[true, predicted] = sum of p(true) over the rows predicted as that class`, and from it the
configured metric (accuracy, f1, precision, recall; binary or macro) on rows whose labels have
not arrived. Macro averages the classes the window is expected to hold, as the realised metric
averages the labels present (see metric_from_confusion). The estimate holds while the relation between features and labels stays as it was
on the holdout (covariate shift); it cannot see concept drift.

Calibration follows NannyML 0.13.1's CBPE, the reference implementation (a test checks the two
agree within 0.01): one isotonic regression per class (binary: of the second class, the other
is its complement), fitted on the champion's holdout, kept only where ten stratified 90/10 splits
show it lowers the expected calibration error; multiclass rows are then renormalised to sum to 1.
One deliberate difference: NannyML never calibrates scores whose ROC AUC exceeds 0.999. A
random forest that separates the classes almost perfectly still gives under-confident
probabilities (an average of trees), so that shortcut left its estimate 0.033 below the realised
accuracy on a covariate-shifted SEA stream; calibrated, the error was 0.005. The ECE check alone
decides here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedShuffleSplit

from tasks.config import MetricConfig
from tasks.errors import DataError

# NannyML's check that calibration helps: 10 stratified splits (10% held out, seed 42), ECE
# over 10 equal-count bins of the pooled held-out scores.
CHECK_SPLITS = 10
CHECK_TEST_SIZE = 0.1
CHECK_SEED = 42
ECE_BINS = 10
# Below these, isotonic calibration is noise: the class's scores stay as the model gives them.
MIN_CALIBRATION_ROWS = 20
MIN_CLASS_ROWS = 2

Label = str | int | float | bool


@dataclass(frozen=True)
class ClassCurve:
    """One class's isotonic calibration: piecewise linear through (x, y), flat beyond the ends.

    Empty x: the class's probabilities are used as they are (calibration did not help).
    """

    label: Label
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    @property
    def calibrated(self) -> bool:
        return bool(self.x)

    def apply(self, scores: np.ndarray) -> np.ndarray:
        if not self.x:
            return np.asarray(scores, dtype=np.float64)
        return np.interp(scores, np.asarray(self.x), np.asarray(self.y))


@dataclass(frozen=True)
class Calibration:
    """A champion's calibration, fitted on its holdout at registration and kept with it.

    classes: the model's classes in the order of its predict_proba columns; curves: one per
    class (binary: one, for classes[1]); holdout_score: the realised metric on those rows.
    """

    classes: tuple[Label, ...]
    curves: tuple[ClassCurve, ...]
    metric: str
    holdout_score: float
    holdout_rows: int

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    def describe(self) -> str:
        calibrated = [str(curve.label) for curve in self.curves if curve.calibrated]
        which = ", ".join(calibrated) if calibrated else "none (the raw probabilities fit best)"
        return (
            f"isotonic calibration on {self.holdout_rows} holdout rows; classes calibrated: {which}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "curves": [
                {"label": curve.label, "x": list(curve.x), "y": list(curve.y)}
                for curve in self.curves
            ],
            "metric": self.metric,
            "holdout_score": self.holdout_score,
            "holdout_rows": self.holdout_rows,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        try:
            curves = tuple(
                ClassCurve(
                    label=curve["label"],
                    x=tuple(float(v) for v in curve["x"]),
                    y=tuple(float(v) for v in curve["y"]),
                )
                for curve in data["curves"]
            )
            calibration = cls(
                classes=tuple(data["classes"]),
                curves=curves,
                metric=str(data["metric"]),
                holdout_score=float(data["holdout_score"]),
                holdout_rows=int(data["holdout_rows"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"the stored calibration is malformed: {error!r}") from None
        expected = 1 if calibration.binary else len(calibration.classes)
        if len(calibration.curves) != expected:
            raise DataError(
                f"the stored calibration has {len(calibration.curves)} curves for "
                f"{len(calibration.classes)} classes (expected {expected})"
            )
        return calibration


def plain_label(value: Any) -> Label:
    """A class label as a plain Python value (numpy scalars become int, float, str, bool)."""
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, str | int | float | bool):
        raise DataError(
            f"class label {value!r} ({type(value).__name__}) cannot be stored with a calibration: "
            "use string, integer or boolean labels"
        )
    return value


def fit_calibration(
    classes: Sequence[Any] | np.ndarray,
    probabilities: np.ndarray,
    y_true: Sequence[Any] | np.ndarray,
    *,
    metric: str,
    holdout_score: float,
) -> Calibration:
    """Fit the per-class isotonic calibration of probabilities (rows x classes) to y_true."""
    labels = tuple(plain_label(value) for value in classes)
    probabilities = _check_probabilities(probabilities, len(labels))
    truth = np.asarray(y_true, dtype=object)
    if len(truth) != len(probabilities):
        raise DataError(
            f"{len(truth)} labels for {len(probabilities)} rows of probabilities: "
            "they must be the same rows"
        )
    if len(truth) == 0:
        raise DataError("cannot calibrate on zero rows: the holdout has no labelled rows")
    if len(labels) < 2:
        raise DataError(f"cannot calibrate a model with {len(labels)} class: it needs two or more")
    columns = [1] if len(labels) == 2 else range(len(labels))
    curves = tuple(
        _fit_curve(
            labels[column],
            probabilities[:, column],
            np.array([value == labels[column] for value in truth], dtype=np.float64),
        )
        for column in columns
    )
    return Calibration(labels, curves, metric, float(holdout_score), len(truth))


def _check_probabilities(probabilities: np.ndarray, classes: int) -> np.ndarray:
    array = np.asarray(probabilities, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != classes:
        raise DataError(
            f"probabilities of shape {array.shape} do not have one column per class ({classes})"
        )
    if not np.isfinite(array).all():
        raise DataError("the model's probabilities have missing or infinite values")
    return array


def _fit_curve(label: Label, scores: np.ndarray, is_class: np.ndarray) -> ClassCurve:
    """The class's isotonic curve, or no curve when calibration does not lower the ECE."""
    if not _needs_calibration(scores, is_class):
        return ClassCurve(label)
    regressor = IsotonicRegression(out_of_bounds="clip", increasing=True).fit(scores, is_class)
    return ClassCurve(
        label,
        tuple(float(v) for v in regressor.X_thresholds_),
        tuple(float(v) for v in regressor.y_thresholds_),
    )


def _needs_calibration(scores: np.ndarray, is_class: np.ndarray) -> bool:
    """Whether isotonic calibration lowers the expected calibration error (NannyML's test,
    without its skip above a ROC AUC of 0.999)."""
    positives = int(is_class.sum())
    if len(scores) < MIN_CALIBRATION_ROWS or min(positives, len(scores) - positives) < (
        MIN_CLASS_ROWS
    ):
        return False
    splits = StratifiedShuffleSplit(
        n_splits=CHECK_SPLITS, test_size=CHECK_TEST_SIZE, random_state=CHECK_SEED
    )
    truth, raw, calibrated = [], [], []
    for train, test in splits.split(scores, is_class):
        regressor = IsotonicRegression(out_of_bounds="clip", increasing=True)
        regressor.fit(scores[train], is_class[train])
        truth.append(is_class[test])
        raw.append(scores[test])
        calibrated.append(regressor.predict(scores[test]))
    pooled = np.concatenate(truth)
    before = _expected_calibration_error(pooled, np.concatenate(raw))
    after = _expected_calibration_error(pooled, np.concatenate(calibrated))
    return bool(before > after)


def _expected_calibration_error(is_class: np.ndarray, scores: np.ndarray) -> float:
    """Mean |mean score - share of the class| over equal-count bins of the sorted scores."""
    count = len(scores)
    bins = ECE_BINS if count > 2 * ECE_BINS else count // 2
    width = count // bins
    edges = list(range(0, count + 1, width))
    edges[-1] = count
    order = scores.argsort()
    scores, is_class = scores[order], is_class[order]
    return float(
        sum(
            (right - left) / count * abs(scores[left:right].mean() - is_class[left:right].mean())
            for left, right in pairwise(edges)
        )
    )


def calibrate(calibration: Calibration, probabilities: np.ndarray) -> np.ndarray:
    """Calibrated probabilities (rows x classes), each row summing to 1."""
    probabilities = _check_probabilities(probabilities, len(calibration.classes))
    if calibration.binary:
        second = np.clip(calibration.curves[0].apply(probabilities[:, 1]), 0.0, 1.0)
        return np.column_stack([1.0 - second, second])
    calibrated = np.column_stack(
        [curve.apply(probabilities[:, index]) for index, curve in enumerate(calibration.curves)]
    )
    totals = calibrated.sum(axis=1, keepdims=True)
    uniform = np.full_like(calibrated, 1.0 / len(calibration.classes))
    return np.divide(calibrated, totals, out=uniform, where=totals != 0)


def expected_confusion_matrix(
    classes: Sequence[Any], calibrated: np.ndarray, predicted: Sequence[Any] | np.ndarray
) -> np.ndarray:
    """matrix[i, j]: the expected number of rows of class i among those predicted as class j."""
    index = {plain_label(label): position for position, label in enumerate(classes)}
    predicted_labels = [plain_label(value) for value in np.asarray(predicted, dtype=object)]
    unknown = sorted({str(value) for value in predicted_labels if value not in index})
    if unknown:
        raise DataError(
            f"predicted labels {unknown} are not among the model's classes "
            f"{[str(c) for c in classes]}: the estimate needs the model's own predictions"
        )
    if len(predicted_labels) != len(calibrated):
        raise DataError(
            f"{len(predicted_labels)} predictions for {len(calibrated)} rows of probabilities"
        )
    columns = np.array([index[value] for value in predicted_labels], dtype=np.int64)
    one_hot = np.zeros((len(columns), len(index)))
    one_hot[np.arange(len(columns)), columns] = 1.0
    return np.asarray(calibrated, dtype=np.float64).T @ one_hot


def metric_from_confusion(
    metric: MetricConfig,
    classes: Sequence[Any],
    matrix: np.ndarray,
    occurrence: np.ndarray | None = None,
) -> float:
    """The metric of an (expected) confusion matrix: binary scores pos_label; macro averages
    the classes the window holds, as the realised metric does (scikit-learn's macro over the
    labels present in truth or predictions).

    A class predicted somewhere always counts; one predicted nowhere scores 0 and counts with
    the probability that it occurs among the true labels at all (`occurrence`, per class; None:
    it counts fully, NannyML's mean over all the model's classes). Both agree when every class
    is predicted in the window.
    """
    if metric.is_regression:
        raise DataError(
            f"{metric.name} is a regression metric: performance is estimated for classifiers only"
        )
    total = float(matrix.sum())
    if total <= 0:
        raise DataError("cannot estimate a metric on zero rows")
    if metric.name == "accuracy":
        return float(np.trace(matrix)) / total
    labels = [plain_label(label) for label in classes]
    if metric.average == "binary":
        if metric.pos_label not in labels:
            raise DataError(
                f"pos_label {metric.pos_label!r} is not among the model's classes "
                f"{[str(c) for c in labels]}; check policy.performance_metric.pos_label "
                "(its type too: 1 is not '1')"
            )
        return _class_score(metric.name, matrix, labels.index(metric.pos_label))
    scores = np.array([_class_score(metric.name, matrix, column) for column in range(len(labels))])
    predicted = matrix.sum(axis=0) > 0
    weights = np.ones(len(labels)) if occurrence is None else np.asarray(occurrence, dtype=float)
    weights = np.where(predicted, 1.0, weights)
    return float((scores * weights).sum() / weights.sum())


def _class_score(name: str, matrix: np.ndarray, column: int) -> float:
    true_positive = float(matrix[column, column])
    false_positive = float(matrix[:, column].sum()) - true_positive
    false_negative = float(matrix[column, :].sum()) - true_positive
    if name == "precision":
        denominator = true_positive + false_positive
    elif name == "recall":
        denominator = true_positive + false_negative
    else:  # f1
        denominator = true_positive + 0.5 * (false_positive + false_negative)
    return true_positive / denominator if denominator > 0 else 0.0


def estimate_metric(
    metric: MetricConfig,
    calibration: Calibration,
    probabilities: np.ndarray,
    predicted: Sequence[Any] | np.ndarray,
) -> float:
    """The metric expected on rows with these probabilities and predictions, no labels needed."""
    if len(predicted) == 0:
        raise DataError("cannot estimate performance on zero rows")
    calibrated = calibrate(calibration, probabilities)
    matrix = expected_confusion_matrix(calibration.classes, calibrated, predicted)
    return metric_from_confusion(metric, calibration.classes, matrix, occurrence(calibrated))


def occurrence(calibrated: np.ndarray) -> np.ndarray:
    """Per class, the probability that at least one row is of it: 1 - prod(1 - p)."""
    with np.errstate(divide="ignore"):
        return 1.0 - np.exp(np.log1p(-np.clip(calibrated, 0.0, 1.0)).sum(axis=0))
