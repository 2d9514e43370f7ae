"""The label-free estimate (CBPE) on tiny frames: calibration, expected confusion matrix, metrics."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.config import MetricConfig
from tasks.core.estimate import (
    Calibration,
    ClassCurve,
    calibrate,
    estimate_metric,
    expected_confusion_matrix,
    fit_calibration,
    metric_from_confusion,
)
from tasks.core.metrics import score_predictions
from tasks.errors import DataError

MACRO_F1 = MetricConfig(name="f1", average="macro")
ACCURACY = MetricConfig(name="accuracy")


def _identity(classes: tuple, metric: str = "f1 (macro)") -> Calibration:
    curves = (ClassCurve(classes[1]),) if len(classes) == 2 else tuple(map(ClassCurve, classes))
    return Calibration(classes, curves, metric, holdout_score=0.8, holdout_rows=100)


def test_expected_confusion_matrix_sums_probabilities_by_predicted_class() -> None:
    probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])

    matrix = expected_confusion_matrix(("a", "b"), probabilities, ["a", "a", "b"])

    # rows: true class, columns: predicted class
    np.testing.assert_allclose(matrix, [[1.5, 0.2], [0.5, 0.8]])


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        (MetricConfig(name="accuracy"), (1.5 + 0.8) / 3),
        # class b: TP 0.8, FP 0.2, FN 0.5
        (MetricConfig(name="precision", average="binary", pos_label="b"), 0.8 / 1.0),
        (MetricConfig(name="recall", average="binary", pos_label="b"), 0.8 / 1.3),
        (MetricConfig(name="f1", average="binary", pos_label="b"), 0.8 / (0.8 + 0.35)),
        # class a: TP 1.5, FP 0.5, FN 0.2 -> f1 1.5 / 1.85; macro: the mean of both
        (MetricConfig(name="f1", average="macro"), (1.5 / 1.85 + 0.8 / 1.15) / 2),
    ],
)
def test_metrics_of_the_expected_matrix(metric: MetricConfig, expected: float) -> None:
    probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])

    value = estimate_metric(metric, _identity(("a", "b")), probabilities, ["a", "a", "b"])

    assert value == pytest.approx(expected)


def test_certain_probabilities_give_the_realised_metric() -> None:
    # one-hot probabilities that are right: the expected matrix is the real confusion matrix
    classes = ("rain", "sun", "fog")
    probabilities = np.eye(3)[[0, 1, 2, 0]]

    value = estimate_metric(
        ACCURACY, _identity(classes), probabilities, ["rain", "sun", "sun", "rain"]
    )

    assert value == pytest.approx(0.75)


def test_a_class_predicted_nowhere_counts_with_the_probability_it_occurs() -> None:
    classes = ("rain", "sun", "fog")
    probabilities = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]])

    value = estimate_metric(MACRO_F1, _identity(classes), probabilities, ["rain", "sun"])
    every_class = metric_from_confusion(
        MACRO_F1, classes, expected_confusion_matrix(classes, probabilities, ["rain", "sun"])
    )

    # rain: TP 0.8, FP 0.2, FN 0.1, f1 0.8 / 0.95; sun likewise; fog: TP 0, f1 0, and it
    # occurs in the window with probability 1 - 0.9 * 0.9 = 0.19
    assert value == pytest.approx((2 * 0.8 / 0.95) / (2 + 0.19))
    assert every_class == pytest.approx((2 * 0.8 / 0.95) / 3)  # NannyML's mean over all classes


def test_macro_averages_the_classes_present_as_the_realised_metric_does() -> None:
    # a three-class model on a window of two classes, certain and right but for one row
    classes = ("rain", "sun", "fog")
    truth = ["rain", "rain", "sun", "sun", "sun"]
    predicted = ["rain", "sun", "sun", "sun", "sun"]
    probabilities = np.eye(3)[[classes.index(label) for label in truth]]

    value = estimate_metric(MACRO_F1, _identity(classes), probabilities, predicted)

    assert value == pytest.approx(score_predictions(MACRO_F1, truth, predicted))


def test_multiclass_calibration_renormalises_rows() -> None:
    classes = ("a", "b", "c")
    calibration = Calibration(
        classes,
        (ClassCurve("a", (0.0, 1.0), (0.0, 0.5)), ClassCurve("b"), ClassCurve("c")),
        "accuracy",
        0.5,
        10,
    )

    calibrated = calibrate(calibration, np.array([[0.6, 0.3, 0.1]]))

    # a: 0.6 -> 0.3 on its curve; then 0.3, 0.3, 0.1 divided by 0.7
    np.testing.assert_allclose(calibrated, [[0.3 / 0.7, 0.3 / 0.7, 0.1 / 0.7]])


def test_binary_calibration_calibrates_the_second_class_and_complements_it() -> None:
    calibration = Calibration((0, 1), (ClassCurve(1, (0.2, 0.8), (0.1, 0.5)),), "accuracy", 0.5, 10)

    calibrated = calibrate(calibration, np.array([[0.5, 0.5], [0.0, 1.0], [1.0, 0.0]]))

    # 0.5 -> halfway between 0.1 and 0.5; beyond the curve's ends it stays flat
    np.testing.assert_allclose(calibrated, [[0.7, 0.3], [0.5, 0.5], [0.9, 0.1]])


def test_overconfident_probabilities_are_calibrated_down() -> None:
    rng = np.random.default_rng(0)
    # the model says 0.9 for class 1, but only 60% of those rows are class 1
    scores = rng.uniform(0.85, 0.95, 400)
    truth = (rng.uniform(size=400) < 0.6).astype(int)
    probabilities = np.column_stack([1 - scores, scores])

    calibration = fit_calibration(
        (0, 1), probabilities, truth, metric="accuracy", holdout_score=0.6
    )
    estimate = estimate_metric(ACCURACY, calibration, probabilities, np.ones(400, dtype=int))

    assert calibration.curves[0].calibrated
    assert estimate == pytest.approx(truth.mean(), abs=0.03)
    assert (
        estimate_metric(ACCURACY, _identity((0, 1)), probabilities, np.ones(400, dtype=int)) > 0.85
    )


def test_calibration_that_would_not_help_is_left_out() -> None:
    # too few rows of class 1 to calibrate it
    probabilities = np.array([[0.9, 0.1]] * 30 + [[0.2, 0.8]])
    truth = [0] * 30 + [1]

    calibration = fit_calibration((0, 1), probabilities, truth, metric="f1", holdout_score=1.0)

    assert not calibration.curves[0].calibrated
    assert "classes calibrated: none" in calibration.describe()


def test_calibration_round_trips_through_a_plain_mapping() -> None:
    rng = np.random.default_rng(1)
    probabilities = rng.dirichlet([1, 1, 1], 200)
    truth = [("a", "b", "c")[i] for i in rng.integers(0, 3, 200)]
    calibration = fit_calibration(
        np.array(["a", "b", "c"]), probabilities, truth, metric="f1 (macro)", holdout_score=0.4
    )

    again = Calibration.from_dict(calibration.to_dict())

    assert again == calibration
    assert again.classes == ("a", "b", "c")
    assert all(type(label) is str for label in again.classes)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"classes": ["a", "b"]}, "malformed"),
        (
            {
                "classes": ["a", "b", "c"],
                "curves": [{"label": "a", "x": [], "y": []}],
                "metric": "f1",
                "holdout_score": 0.5,
                "holdout_rows": 10,
            },
            "1 curves for 3 classes",
        ),
    ],
)
def test_a_malformed_stored_calibration_is_refused(data: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        Calibration.from_dict(data)


def test_predictions_outside_the_classes_are_refused() -> None:
    with pytest.raises(DataError, match=r"predicted labels \['snow'\] are not among"):
        expected_confusion_matrix(("rain", "sun"), np.array([[0.5, 0.5]]), ["snow"])


def test_probabilities_must_have_a_column_per_class() -> None:
    with pytest.raises(DataError, match="do not have one column per class"):
        estimate_metric(ACCURACY, _identity(("a", "b", "c")), np.array([[0.5, 0.5]]), ["a"])


def test_calibration_needs_labelled_rows() -> None:
    with pytest.raises(DataError, match="zero rows"):
        fit_calibration(("a", "b"), np.zeros((0, 2)), [], metric="f1", holdout_score=0.0)


def test_binary_metric_needs_its_positive_class_among_the_model_classes() -> None:
    metric = MetricConfig(name="f1", average="binary", pos_label="1")
    with pytest.raises(DataError, match="pos_label '1' is not among the model's classes"):
        metric_from_confusion(metric, (0, 1), np.eye(2))


def test_regression_metrics_have_no_estimate() -> None:
    with pytest.raises(DataError, match="classifiers only"):
        metric_from_confusion(MetricConfig(name="mae"), (0, 1), np.eye(2))


def test_an_underconfident_near_perfect_model_is_calibrated() -> None:
    # the classes are perfectly separated, but the model only says 0.7 / 0.3 (an average of
    # trees does that): NannyML's ROC AUC > 0.999 shortcut would leave it uncalibrated
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 400)
    scores = np.where(truth == 1, rng.uniform(0.6, 0.8, 400), rng.uniform(0.2, 0.4, 400))
    probabilities = np.column_stack([1 - scores, scores])
    predicted = (scores > 0.5).astype(int)

    calibration = fit_calibration(
        (0, 1), probabilities, truth, metric="accuracy", holdout_score=1.0
    )

    assert calibration.curves[0].calibrated
    assert estimate_metric(ACCURACY, calibration, probabilities, predicted) == pytest.approx(1.0)
    assert estimate_metric(ACCURACY, _identity((0, 1)), probabilities, predicted) < 0.75
