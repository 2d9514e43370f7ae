"""Building, fitting and using the model: preprocessing from the column types + the estimator."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin, RegressorMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler
from sklearn.utils import get_tags

from tasks.config import Config
from tasks.core.metrics import as_numbers
from tasks.errors import DataError, ModelError
from tasks.stores.data import label_values

logger = logging.getLogger(__name__)


def build_model(config: Config) -> Pipeline:
    """An unfitted pipeline: imputation and scaling/one-hot from the column types, then the estimator."""
    try:  # checked when the config loaded; the module may have gone since (another venv)
        estimator_class = config.model.estimator_class
    except ValueError as error:
        raise ModelError(
            f"cannot import model.estimator '{config.model.estimator}': {error}"
        ) from None
    try:
        estimator = estimator_class(**config.model.params)
    except TypeError as error:
        raise ModelError(f"model.params do not fit {config.model.estimator}: {error}") from None
    if not isinstance(estimator, ClassifierMixin | RegressorMixin):
        raise ModelError(
            f"model.estimator {config.model.estimator} is neither a classifier nor a regressor"
        )
    transformers: list[tuple[str, Any, list[str]]] = []
    if config.data.numerical_features:
        # Count models (MultinomialNB, ComplementNB, ...) refuse negative input: scale to [0, 1].
        positive_only = get_tags(estimator).input_tags.positive_only
        scaler = MinMaxScaler(clip=True) if positive_only else StandardScaler()
        numeric = make_pipeline(SimpleImputer(strategy="median"), scaler)
        transformers.append(("numerical", numeric, config.data.numerical_features))
    if config.data.categorical_features:
        # Dense one-hot output: HistGradientBoosting, GaussianNB, LDA and others refuse sparse
        # input, and categorical features have few levels, so the dense block stays small.
        categorical = make_pipeline(
            SimpleImputer(strategy="constant", fill_value="(missing)"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        )
        transformers.append(("categorical", categorical, config.data.categorical_features))
    preprocess = ColumnTransformer(transformers, remainder="drop")
    return Pipeline([("preprocess", preprocess), ("estimator", estimator)])


def fit_model(config: Config, training: pd.DataFrame) -> Pipeline:
    """Fit a fresh pipeline on labelled training rows."""
    target = config.data.target_column
    labelled = training[training[target].notna()]
    if config.policy.performance_metric.is_regression:
        return _fit_regressor(config, labelled)
    classes = labelled[target].nunique()
    if classes < 2:
        raise ModelError(
            f"cannot train on {len(labelled)} labelled rows with {classes} class(es) of '{target}': "
            "widen windows.training or check the labels"
        )
    _check_features_not_empty(config, labelled)
    model = clone(build_model(config))
    try:
        model.fit(labelled[config.data.features], label_values(labelled[target]))
    except Exception as error:  # a user's estimator can fail in any way; name it and stop
        raise ModelError(
            f"{config.model.estimator} failed to train on {len(labelled)} rows: "
            f"{type(error).__name__}: {error} (check model.params, or choose another estimator)"
        ) from error
    logger.info("fitted %s on %d rows", config.model.estimator, len(labelled))
    return model


def _check_features_not_empty(config: Config, labelled: pd.DataFrame) -> None:
    """A feature column with no value in any labelled row cannot be learned from."""
    empty = [c for c in config.data.features if labelled[c].isna().all()]
    if empty:
        raise DataError(
            f"feature columns {empty} are empty in all {len(labelled)} labelled training rows: "
            "fix the data, or remove them from the features in the config"
        )


def _fit_regressor(config: Config, labelled: pd.DataFrame) -> Pipeline:
    """Fit a regressor on a numeric target with at least two distinct values."""
    target = config.data.target_column
    values = as_numbers(labelled[target].to_numpy(), f"target column '{target}'")
    if len(np.unique(values)) < 2:
        raise ModelError(
            f"cannot train a regressor on {len(labelled)} labelled rows whose '{target}' takes "
            "fewer than 2 values: widen windows.training or check the target"
        )
    _check_features_not_empty(config, labelled)
    model = clone(build_model(config))
    model.fit(labelled[config.data.features], values)
    logger.info("fitted %s on %d rows", config.model.estimator, len(labelled))
    return model


def predict_labels(model: Any, frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Predicted labels for every row of frame."""
    if len(frame) == 0:
        return np.array([])
    try:
        return np.asarray(model.predict(frame[features]))
    except Exception as error:  # a user's model can fail in any way; name it and stop
        raise ModelError(f"the model failed to predict: {type(error).__name__}: {error}") from error


def time_predictions(
    models: Sequence[Any], frame: pd.DataFrame, features: list[str], repeats: int = 5
) -> list[tuple[np.ndarray, float] | ModelError]:
    """Each model's predicted labels and the fastest of `repeats` prediction times, in ms per
    1,000 rows, or the ModelError it failed with (it then sits out the later runs).

    The minimum, as timeit reports it: other work on the machine only ever adds time, so the
    fastest run is the closest to the model's own cost and the least noisy to compare. The models
    take turns, run after run: a burst of other work then lands on the runs of every model alike,
    not on the five runs of one, and the ratio the latency guard judges compares like with like.
    """
    timings: list[list[float]] = [[] for _ in models]
    predictions: list[np.ndarray] = [np.array([]) for _ in models]
    failed: dict[int, ModelError] = {}
    for _ in range(repeats):
        for index, model in enumerate(models):
            if index in failed:
                continue
            started = time.perf_counter()
            try:
                predictions[index] = predict_labels(model, frame, features)
            except ModelError as error:
                failed[index] = error
                continue
            timings[index].append(time.perf_counter() - started)
    rows = max(len(frame), 1)
    return [
        failed.get(index) or (predictions[index], min(timings[index]) * 1000 / rows * 1000)
        for index in range(len(models))
    ]


def predict_true_class_probability(
    model: Any, frame: pd.DataFrame, features: list[str], y_true: list[Any]
) -> np.ndarray | None:
    """The probability the model gives each row's true class (0 for a class it never saw).

    None when the model has no predict_proba (log loss then cannot be computed).
    """
    if not hasattr(model, "predict_proba") or len(frame) == 0:
        return None
    classes, probabilities = _predict_proba(model, frame, features)
    positions = pd.Index(classes).get_indexer(pd.Index(y_true))
    known = positions >= 0
    result = np.zeros(len(y_true))
    result[known] = probabilities[np.flatnonzero(known), positions[known]]
    return result


def check_known_labels(model: Any, labels: pd.Series, model_name: str, where: str) -> list[str]:
    """Refuse labels that cannot be meant for the model; return the new classes among them.

    A few rows of a class the model never saw are concept drift (they count as misses in
    the metric). Labels of another type than the model's classes, or labels none of which
    it knows, are a broken log or a renamed label set: scoring them would be meaningless.
    """
    known = getattr(model, "classes_", None)
    present = labels.dropna()
    if known is None or present.empty:
        return []  # a model without classes_ cannot say which labels it knows
    known_set = set(np.asarray(known).tolist())
    unknown = {value for value in present if value not in known_set}
    if not unknown:
        return []
    new_classes = sorted(map(str, unknown))
    text_known = {isinstance(value, str) for value in known_set}
    text_unknown = {isinstance(value, str) for value in unknown}
    if text_known != text_unknown or len(unknown) == present.nunique():
        raise DataError(
            f"labels {new_classes} in the {where} are not among the classes {model_name} knows "
            f"({sorted(map(str, known_set))}), and none of the labels is. If the labels were "
            "renamed or changed type (1 is not '1'), fix the log; if the classes really changed, "
            "train a challenger on data that has them (flows/retrain.py, then flows/promote.py)"
        )
    logger.warning(
        "labels %s in the %s are new to %s: they count as misses in the performance metric",
        new_classes,
        where,
        model_name,
    )
    return new_classes


def predict_probabilities(
    model: Any, frame: pd.DataFrame, features: list[str]
) -> tuple[list[Any], np.ndarray] | None:
    """The model's classes and its probabilities for every row (one column per class, in the
    order of classes); None when the model has no predict_proba."""
    if not hasattr(model, "predict_proba") or not hasattr(model, "classes_"):
        return None
    return _predict_proba(model, frame, features)


def _predict_proba(
    model: Any, frame: pd.DataFrame, features: list[str]
) -> tuple[list[Any], np.ndarray]:
    """The model's classes and probabilities; any failure of a user's model as a ModelError."""
    try:
        probabilities = np.asarray(model.predict_proba(frame[features]), dtype=np.float64)
        classes = list(model.classes_)
    except Exception as error:  # a user's model can fail in any way; name it and stop
        raise ModelError(
            f"the model failed to predict probabilities: {type(error).__name__}: {error}"
        ) from error
    return classes, probabilities
