"""The performance metric on small cases worked out by hand."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

from tasks.config import MetricConfig, MetricName
from tasks.core.metrics import score_predictions
from tasks.errors import DataError

# Two classes. With "rain" positive: TP 1 (row 0), FN 2 (rows 1, 2), FP 1 (row 3), TN 1 (row 4).
TRUE_2 = ["rain", "rain", "rain", "sun", "sun"]
PRED_2 = ["rain", "sun", "sun", "rain", "sun"]

# Three classes, per class (precision, recall, f1):
#   a: TP 2, FP 0, FN 1 -> (1, 2/3, 4/5)
#   b: TP 1, FP 1, FN 1 -> (1/2, 1/2, 1/2)
#   c: TP 1, FP 1, FN 0 -> (1/2, 1, 2/3)
TRUE_3 = ["a", "a", "a", "b", "b", "c"]
PRED_3 = ["a", "a", "b", "b", "c", "c"]


@pytest.mark.parametrize(
    ("name", "pos_label", "expected"),
    [
        ("precision", "rain", 1 / 2),  # 1 / (1 + 1)
        ("recall", "rain", 1 / 3),  # 1 / (1 + 2)
        ("f1", "rain", 2 / 5),  # 2 * 1 / (2 * 1 + 1 + 2)
        ("precision", "sun", 1 / 3),  # TP 1 (row 4), FP 2 (rows 1, 2)
        ("recall", "sun", 1 / 2),  # TP 1, FN 1 (row 3)
        ("f1", "sun", 2 / 5),  # 2 * 1 / (2 * 1 + 2 + 1)
    ],
)
def test_binary_scores_the_positive_class(
    name: MetricName, pos_label: str, expected: float
) -> None:
    metric = MetricConfig(name=name, average="binary", pos_label=pos_label)

    assert score_predictions(metric, TRUE_2, PRED_2) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("precision", (1 + 1 / 2 + 1 / 2) / 3),
        ("recall", (2 / 3 + 1 / 2 + 1) / 3),
        ("f1", (4 / 5 + 1 / 2 + 2 / 3) / 3),
    ],
)
def test_macro_is_the_unweighted_class_mean(name: MetricName, expected: float) -> None:
    metric = MetricConfig(name=name, average="macro")

    assert score_predictions(metric, TRUE_3, PRED_3) == pytest.approx(expected)


def test_macro_weighs_a_rare_class_like_a_common_one() -> None:
    # 9 right "sun" rows and one missed "snow": accuracy 0.9, but snow's f1 is 0.
    y_true = ["sun"] * 9 + ["snow"]
    y_pred = ["sun"] * 10

    macro = score_predictions(MetricConfig(name="f1", average="macro"), y_true, y_pred)

    # sun: precision 9/10, recall 1 -> f1 18/19; snow: 0 (no division warning, zero_division=0)
    assert macro == pytest.approx((18 / 19 + 0) / 2)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "expected"),
    [(TRUE_2, PRED_2, 2 / 5), (TRUE_3, PRED_3, 4 / 6), (["x"], ["x"], 1.0), (["x"], ["y"], 0.0)],
)
def test_accuracy_is_the_share_of_right_rows(
    y_true: list[str], y_pred: list[str], expected: float
) -> None:
    # average and pos_label do not change accuracy
    for metric in (
        MetricConfig(name="accuracy"),
        MetricConfig(name="accuracy", average="binary", pos_label="rain"),
    ):
        assert score_predictions(metric, y_true, y_pred) == pytest.approx(expected)


def test_binary_positive_class_never_predicted_scores_zero() -> None:
    metric = MetricConfig(name="precision", average="binary", pos_label="rain")

    assert score_predictions(metric, TRUE_2, ["sun"] * 5) == 0.0


@pytest.mark.parametrize(
    ("pos_label", "y_true", "y_pred"),
    [(1, [1, 0, 1, 1], [1, 1, 0, 1]), (True, [True, False, True, True], [True, True, False, True])],
)
def test_binary_accepts_integer_and_boolean_labels(
    pos_label: Any, y_true: list[Any], y_pred: list[Any]
) -> None:
    metric = MetricConfig(name="f1", average="binary", pos_label=pos_label)

    # TP 2, FP 1, FN 1 -> f1 = 4 / (4 + 1 + 1)
    assert score_predictions(metric, y_true, y_pred) == pytest.approx(2 / 3)


def test_score_is_a_builtin_float() -> None:
    score = score_predictions(MetricConfig(name="f1", average="macro"), TRUE_3, PRED_3)

    assert type(score) is float


@pytest.mark.parametrize(
    "metric",
    [
        MetricConfig(name="f1", average="macro"),
        MetricConfig(name="accuracy"),
        MetricConfig(name="recall", average="binary", pos_label="rain"),
    ],
)
def test_zero_rows_raise(metric: MetricConfig) -> None:
    with pytest.raises(DataError, match="cannot score zero rows"):
        score_predictions(metric, [], [])


def test_binary_average_on_a_multiclass_target_names_the_fix() -> None:
    metric = MetricConfig(name="f1", average="binary", pos_label="sun")

    with pytest.raises(DataError, match=r"needs two classes, found 3.*use average: macro"):
        score_predictions(metric, ["sun", "fog", "rain"], ["sun", "sun", "fog"])


def test_pos_label_of_the_wrong_type_names_the_fix() -> None:
    metric = MetricConfig(name="f1", average="binary", pos_label="1")

    with pytest.raises(DataError, match="pos_label '1' does not occur among the labels"):
        score_predictions(metric, [0, 1, 1], [0, 1, 0])


@pytest.mark.parametrize(
    ("labels", "new"),
    [
        (["sun", "rain", None], []),
        (["sun", "rain", "hail", "hail"], ["hail"]),  # a new class among known ones: drift
        ([], []),
    ],
)
def test_new_classes_among_known_labels_are_reported_not_refused(
    labels: list[Any], new: list[str]
) -> None:
    from tasks.adapters.modeling import check_known_labels

    model = DummyClassifier().fit([[0], [1]], ["sun", "rain"])

    assert check_known_labels(model, pd.Series(labels, dtype=object), "v0001", "window") == new


@pytest.mark.parametrize(
    "labels",
    [["soleil", "pluie"], [1, 0, 1]],
    ids=["renamed", "another-type"],
)
def test_labels_the_model_cannot_mean_are_refused(labels: list[Any]) -> None:
    from tasks.adapters.modeling import check_known_labels

    model = DummyClassifier().fit([[0], [1]], ["sun", "rain"])

    with pytest.raises(DataError, match="none of the labels is"):
        check_known_labels(model, pd.Series(labels), "v0001", "window")
