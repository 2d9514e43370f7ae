"""Label-free performance estimation for regressors: direct loss estimation (DLE; pure, no I/O).

A regressor gives no confidence with its prediction, but its error is often predictable from
where a row lies: a model fitted on the champion's holdout, from the features and the
champion's prediction, to each row's absolute error (and another to its squared error) says
what error to expect on any row. Averaged over a window's rows, labelled or not, they give the
window's MAE (the mean of the expected absolute errors) and RMSE (the square root of the mean
of the expected squared errors). This is NannyML's DLE; NannyML fits LightGBM, this fits
scikit-learn's HistGradientBoostingRegressor (seeded, small, regularised: a holdout has a few
hundred rows), so the two agree statistically, not exactly (tests/core/test_loss_estimate_nannyml.py).

The estimate holds while the relation between features and target stays as it was on the
holdout (covariate shift: the rows move to where the champion errs more or less); it cannot see
concept drift, where the same features come with another target.

Only the mean of a per-row loss that needs nothing beyond the row can be estimated this way:
mae and rmse. mape needs the target itself in its denominator, pinball its sign, r2 the
window's variance of the target; those are refused (`check_supported`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from tasks.config import MetricConfig
from tasks.errors import DataError

SUPPORTED_METRICS = ("mae", "rmse")
Loss = Literal["absolute", "squared"]
LOSS_OF_METRIC: dict[str, Loss] = {"mae": "absolute", "rmse": "squared"}
# The champion's prediction as one more input of the loss model; a name no feature can have.
PREDICTION_INPUT = "(the model's prediction)"
# Below this many labelled holdout rows, the loss model is noise: no estimate.
MIN_ROWS = 30
# Small and regularised: a holdout has hundreds of rows, and a loss is noisier than a target.
LOSS_MODEL_PARAMS: dict[str, Any] = {
    "max_iter": 100,
    "learning_rate": 0.1,
    "max_leaf_nodes": 7,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "early_stopping": False,
}
# HistGradientBoosting takes at most 255 levels per categorical column: rarer ones are merged.
MAX_CATEGORIES = 250
PAYLOAD_FORMAT = 1
Values = Sequence[Any] | np.ndarray | pd.Series


def check_supported(metric: MetricConfig) -> None:
    """Refuse a metric direct loss estimation cannot estimate, naming the ones it can."""
    if metric.name not in SUPPORTED_METRICS:
        raise DataError(
            f"the label-free estimate of a regressor supports {' and '.join(SUPPORTED_METRICS)}, "
            f"not {metric.name} (it needs the target itself): set "
            "policy.performance_metric.name to mae or rmse, or "
            "policy.estimated_performance.enabled to false"
        )


@dataclass(frozen=True)
class LossEstimator:
    """A champion's loss models, fitted on its holdout at registration and kept with it.

    features: the model's features in order, categorical among them; models: per loss
    ("absolute", "squared"), a fitted pipeline from the features and the prediction to the
    expected loss of a row; holdout_scores: the realised mae and rmse on the holdout rows.
    """

    features: tuple[str, ...]
    categorical: tuple[str, ...]
    models: Mapping[str, Any]
    holdout_scores: Mapping[str, float]
    holdout_rows: int
    seed: int = 0

    def describe(self) -> str:
        return (
            f"direct loss estimation fitted on {self.holdout_rows} holdout rows "
            f"(holdout mae {self.holdout_scores['mae']:.4g}, rmse {self.holdout_scores['rmse']:.4g})"
        )

    def to_payload(self) -> dict[str, Any]:
        """Plain values and the fitted scikit-learn pipelines (the steps pickle it)."""
        return {
            "format": PAYLOAD_FORMAT,
            "features": list(self.features),
            "categorical": list(self.categorical),
            "models": dict(self.models),
            "holdout_scores": dict(self.holdout_scores),
            "holdout_rows": self.holdout_rows,
            "seed": self.seed,
        }

    @classmethod
    def from_payload(cls, payload: Any) -> LossEstimator:
        """The estimator back from its stored payload; DataError when it is not one."""
        if not isinstance(payload, dict) or payload.get("format") != PAYLOAD_FORMAT:
            found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            raise DataError(
                f"the stored loss estimator is not of format {PAYLOAD_FORMAT} (found {found!r})"
            )
        try:
            models = dict(payload["models"])
            estimator = cls(
                features=tuple(str(c) for c in payload["features"]),
                categorical=tuple(str(c) for c in payload["categorical"]),
                models=models,
                holdout_scores={k: float(v) for k, v in payload["holdout_scores"].items()},
                holdout_rows=int(payload["holdout_rows"]),
                seed=int(payload["seed"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise DataError(f"the stored loss estimator is malformed: {error!r}") from None
        missing = [
            loss for loss in LOSS_OF_METRIC.values() if not isinstance(models.get(loss), Pipeline)
        ]
        if missing or set(estimator.holdout_scores) != set(SUPPORTED_METRICS):
            raise DataError(
                f"the stored loss estimator is malformed: no fitted model of the {missing} loss"
                if missing
                else f"the stored loss estimator has holdout scores of "
                f"{sorted(estimator.holdout_scores)}, not {list(SUPPORTED_METRICS)}"
            )
        return estimator


def _inputs(
    frame: pd.DataFrame,
    features: Sequence[str],
    categorical: Sequence[str],
    predictions: Values,
) -> pd.DataFrame:
    """The loss models' inputs: the features (categorical ones as text, missing kept missing)
    and the prediction, as one frame."""
    absent = [column for column in features if column not in frame.columns]
    if absent:
        raise DataError(f"the rows lack the features {absent} the loss estimator was fitted on")
    predicted = np.asarray(predictions, dtype=np.float64)
    if len(predicted) != len(frame):
        raise DataError(f"{len(predicted)} predictions for {len(frame)} rows")
    if not np.isfinite(predicted).all():
        raise DataError("the model's predictions have missing or infinite values")
    columns: dict[str, Any] = {}
    for column in features:
        values = frame[column]
        if column in categorical:
            text = values.astype(object).map(str)
            columns[column] = text.where(values.notna(), np.nan).to_numpy(dtype=object)
        else:
            try:
                columns[column] = pd.to_numeric(values).astype(np.float64).to_numpy()
            except (TypeError, ValueError):
                raise DataError(f"feature {column!r} is not numeric") from None
    columns[PREDICTION_INPUT] = predicted
    return pd.DataFrame(columns, index=frame.index)


def _loss_model(features: Sequence[str], categorical: Sequence[str], seed: int) -> Pipeline:
    numeric = [column for column in features if column not in categorical]
    categories = [column for column in features if column in categorical]
    encode = ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                    max_categories=MAX_CATEGORIES,
                ),
                categories,
            ),
            ("numerical", "passthrough", [*numeric, PREDICTION_INPUT]),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    mask = [True] * len(categories) + [False] * (len(numeric) + 1)
    regressor = HistGradientBoostingRegressor(
        categorical_features=mask if categories else None, random_state=seed, **LOSS_MODEL_PARAMS
    )
    return Pipeline([("encode", encode), ("loss", regressor)])


def _losses(truth: np.ndarray, predicted: np.ndarray) -> dict[Loss, np.ndarray]:
    error = truth - predicted
    return {"absolute": np.abs(error), "squared": error**2}


def fit_loss_estimator(
    frame: pd.DataFrame,
    features: Sequence[str],
    categorical: Sequence[str],
    predictions: Values,
    y_true: Values,
    *,
    seed: int = 0,
) -> LossEstimator:
    """Fit the loss models on labelled rows (the champion's holdout): from the features and
    the model's predictions to each row's absolute and squared error."""
    inputs = _inputs(frame, features, categorical, predictions)
    try:
        truth = np.asarray(y_true, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("the target is not numeric: the loss estimate is for regressors") from None
    if len(truth) != len(inputs):
        raise DataError(f"{len(truth)} targets for {len(inputs)} rows: they must be the same rows")
    if not np.isfinite(truth).all():
        raise DataError("the target has missing or infinite values: fit on labelled rows only")
    if len(truth) < MIN_ROWS:
        raise DataError(
            f"cannot fit the loss estimator on {len(truth)} labelled rows: it needs {MIN_ROWS} "
            "(widen windows.holdout)"
        )
    predicted = inputs[PREDICTION_INPUT].to_numpy()
    losses = _losses(truth, predicted)
    models: dict[str, Any] = {}
    for loss, values in losses.items():
        model = _loss_model(features, categorical, seed)
        model.fit(inputs, values)
        models[loss] = model
    return LossEstimator(
        features=tuple(features),
        categorical=tuple(c for c in features if c in categorical),
        models=models,
        holdout_scores={
            "mae": float(losses["absolute"].mean()),
            "rmse": float(np.sqrt(losses["squared"].mean())),
        },
        holdout_rows=len(truth),
        seed=seed,
    )


def expected_losses(
    estimator: LossEstimator,
    loss: Loss,
    frame: pd.DataFrame,
    predictions: Values,
) -> np.ndarray:
    """Each row's expected loss (never below 0: a loss is not negative)."""
    inputs = _inputs(frame, estimator.features, estimator.categorical, predictions)
    return np.clip(np.asarray(estimator.models[loss].predict(inputs), dtype=np.float64), 0.0, None)


def estimate_loss_metric(
    metric: MetricConfig,
    estimator: LossEstimator,
    frame: pd.DataFrame,
    predictions: Values,
) -> float:
    """The metric (mae or rmse) expected on these rows and predictions, no labels needed."""
    check_supported(metric)
    if len(frame) == 0:
        raise DataError("cannot estimate performance on zero rows")
    loss = LOSS_OF_METRIC[metric.name]
    expected = expected_losses(estimator, loss, frame, predictions)
    return float(expected.mean() if loss == "absolute" else np.sqrt(expected.mean()))
