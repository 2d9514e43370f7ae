"""The model pipeline with every commonly used classifier, on numerical + categorical columns."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.discovery import all_estimators

from tasks.adapters.modeling import fit_model, predict_labels, predict_true_class_probability
from tasks.config import SKLEARN_ESTIMATOR_MODULES
from tasks.core.frames import fingerprint_frame
from tasks.errors import AutoretrainError, ConfigError, ModelError
from tasks.stores.registry import LocalRegistry
from tests.helpers import make_lineage, repo_config

NUMERICAL = ["temperature", "wind"]
CATEGORICAL = ["region", "weekday"]
# Enough levels that the one-hot block is mostly zeros: ColumnTransformer then returns a sparse
# matrix (density below its sparse_threshold of 0.3) unless the encoder's output is dense.
REGIONS = ["north", "south", "east", "west", "coast", "hills", "city", "plains"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

# (estimator, params): the allow-list's common classifiers, small and seeded for speed.
COMMON_CLASSIFIERS: list[tuple[str, dict[str, Any]]] = [
    ("sklearn.linear_model.LogisticRegression", {"max_iter": 500}),
    ("sklearn.ensemble.RandomForestClassifier", {"n_estimators": 10, "random_state": 0}),
    ("sklearn.ensemble.ExtraTreesClassifier", {"n_estimators": 10, "random_state": 0}),
    ("sklearn.ensemble.GradientBoostingClassifier", {"n_estimators": 10, "random_state": 0}),
    ("sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": 10, "random_state": 0}),
    ("sklearn.linear_model.SGDClassifier", {"loss": "log_loss", "random_state": 0}),
    ("sklearn.neighbors.KNeighborsClassifier", {"n_neighbors": 3}),
    ("sklearn.naive_bayes.GaussianNB", {}),
    ("sklearn.neural_network.MLPClassifier", {"max_iter": 50, "random_state": 0}),
    ("sklearn.tree.DecisionTreeClassifier", {"random_state": 0}),
    ("sklearn.discriminant_analysis.LinearDiscriminantAnalysis", {}),
    ("sklearn.calibration.CalibratedClassifierCV", {}),
    ("sklearn.svm.SVC", {"random_state": 0}),  # no predict_proba
    ("sklearn.svm.LinearSVC", {"random_state": 0}),  # no predict_proba
    ("sklearn.linear_model.RidgeClassifier", {}),  # no predict_proba
]


def _frame(rows: int = 60) -> pd.DataFrame:
    generator = np.random.default_rng(0)
    temperature = generator.normal(15, 8, rows)
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=rows, freq="D"),
            "temperature": temperature,
            "wind": generator.gamma(2, 2, rows),
            "region": generator.choice(REGIONS, rows),
            "weekday": generator.choice(WEEKDAYS, rows),
            "label": np.where(temperature > 15, "warm", "cold"),
        }
    )
    frame.loc[3, "region"] = None  # a missing category is imputed, not a crash
    frame.loc[5, "wind"] = np.nan
    return frame


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # few rows, few steps
@pytest.mark.parametrize(
    ("estimator", "params"),
    COMMON_CLASSIFIERS,
    ids=[e.rsplit(".", 1)[1] for e, _ in COMMON_CLASSIFIERS],
)
def test_common_classifier_fits_predicts_and_round_trips_with_categorical_columns(
    estimator: str, params: dict[str, Any], tmp_path: Path
) -> None:
    config = repo_config(
        {
            "model.estimator": estimator,
            "model.params": params,
            "data.target_column": "label",
            "data.numerical_features": NUMERICAL,
            "data.categorical_features": CATEGORICAL,
        }
    )
    training = _frame()
    unseen = _frame(10).assign(region="mountains")  # a category the model never saw

    model = fit_model(config, training)
    predicted = predict_labels(model, unseen, config.data.features)
    registry = LocalRegistry(tmp_path / "registry", "categorical")
    record = registry.register(
        model,
        training,
        make_lineage(
            estimator=estimator,
            params=params,
            training_window={"start": "2024-01-01T00:00:00", "end": "2024-03-01T00:00:00"},
            training_rows=len(training),
            data_fingerprint=fingerprint_frame(training),
            source="trained",
            features=config.data.features,
        ),
    )
    loaded = registry.load_model(record.version)

    assert set(predicted) <= {"warm", "cold"}
    assert len(predicted) == len(unseen)
    assert list(predict_labels(loaded, unseen, config.data.features)) == list(predicted)
    probabilities = predict_true_class_probability(
        loaded, unseen, config.data.features, list(unseen["label"])
    )
    if hasattr(loaded, "predict_proba"):
        assert probabilities is not None and np.all((probabilities >= 0) & (probabilities <= 1))
    else:
        assert probabilities is None


def test_one_hot_output_is_dense_so_dense_only_estimators_work() -> None:
    # HistGradientBoosting, GaussianNB, LDA and others refuse sparse input; categorical columns
    # have few levels, so a dense one-hot block is small.
    config = repo_config(
        {
            "data.target_column": "label",
            "data.numerical_features": NUMERICAL,
            "data.categorical_features": CATEGORICAL,
            "model.params": {"n_estimators": 5, "random_state": 0},
        }
    )
    model = fit_model(config, _frame())

    transformed = model.named_steps["preprocess"].transform(_frame(10)[config.data.features])

    assert isinstance(transformed, np.ndarray)
    assert transformed.shape == (10, len(NUMERICAL) + len(REGIONS) + 1 + len(WEEKDAYS))


def _allowed_sklearn_classifiers() -> list[str]:
    paths = []
    for name, estimator_class in all_estimators(type_filter="classifier"):
        public_module = estimator_class.__module__.split("._")[0]  # sklearn.ensemble._forest
        if public_module in SKLEARN_ESTIMATOR_MODULES:
            paths.append(f"{public_module}.{name}")
    return sorted(paths)


# Allowed classifiers that cannot run from a config alone, and the error that says so.
NOT_FROM_A_CONFIG_ALONE: dict[str, tuple[type[AutoretrainError], str]] = {
    # meta-estimators: their inner estimator is an object, which YAML cannot hold
    "sklearn.ensemble.StackingClassifier": (ConfigError, "model.params.estimators: "),
    "sklearn.ensemble.VotingClassifier": (ConfigError, "model.params.estimators: "),
    "sklearn.multiclass.OneVsOneClassifier": (ConfigError, "model.params.estimator: "),
    "sklearn.multiclass.OneVsRestClassifier": (ConfigError, "model.params.estimator: "),
    "sklearn.multiclass.OutputCodeClassifier": (ConfigError, "model.params.estimator: "),
    "sklearn.semi_supervised.SelfTrainingClassifier": (ConfigError, "model.params.estimator: "),
    # data-dependent: one-hot columns are collinear (needs reg_param); no neighbour in radius
    "sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis": (ModelError, "failed to train"),
    "sklearn.neighbors.RadiusNeighborsClassifier": (ModelError, "failed to predict"),
}


def test_the_allow_list_sweep_finds_the_common_classifiers() -> None:
    found = _allowed_sklearn_classifiers()

    assert {estimator for estimator, _ in COMMON_CLASSIFIERS} <= set(found)
    assert set(NOT_FROM_A_CONFIG_ALONE) <= set(found)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")  # e.g. LDA's "Variables are collinear"
@pytest.mark.filterwarnings("ignore::FutureWarning")  # deprecated classes and defaults
@pytest.mark.parametrize("estimator", _allowed_sklearn_classifiers())
def test_every_allowed_classifier_trains_on_mixed_columns_or_says_why_not(estimator: str) -> None:
    changes = {
        "model.estimator": estimator,
        "model.params": {},
        "data.target_column": "label",
        "data.numerical_features": NUMERICAL,
        "data.categorical_features": CATEGORICAL,
    }
    expected = NOT_FROM_A_CONFIG_ALONE.get(estimator)
    if expected is None:
        config = repo_config(changes)
        predicted = predict_labels(fit_model(config, _frame()), _frame(10), config.data.features)
        assert set(predicted) <= {"warm", "cold"}
        return

    error, fragment = expected
    with pytest.raises(error, match=re.escape(fragment)):
        config = repo_config(changes)
        predict_labels(fit_model(config, _frame()), _frame(10), config.data.features)


def test_an_estimator_whose_module_went_after_the_config_loaded_is_a_model_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The config checked the import path when it loaded; a run in another environment (a worker
    # without the module) finds it gone: one clear ModelError, through the config's one resolver.
    config = repo_config(
        {
            "model.estimator": "tests.helpers.TrustedClassifier",
            "model.params": {},
            "model.allowed_modules": ["tests"],
            "data.target_column": "label",
            "data.numerical_features": NUMERICAL,
            "data.categorical_features": CATEGORICAL,
        }
    )
    monkeypatch.setitem(sys.modules, "tests.helpers", None)  # import now raises ImportError

    with pytest.raises(ModelError) as raised:
        fit_model(config, _frame())

    assert str(raised.value).startswith(
        "cannot import model.estimator 'tests.helpers.TrustedClassifier': cannot import module "
        "'tests.helpers'"
    )
