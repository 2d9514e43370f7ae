"""The one validated configuration: `config.yaml` loaded into pydantic models."""

from __future__ import annotations

import importlib
import inspect
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tasks.errors import ConfigError
from tasks.secrets import BlockReader, SecretValue, mask_url_password, read_secret_blocks
from tasks.yaml_files import (
    anchor_sqlite_url,
    format_validation_error,
    read_yaml_file,
    resolve_path,
)

_DURATION = re.compile(r"^\s*(\d+)\s*(s|min|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: Any) -> Any:
    """Turn '90d', '12h', '2w' or '30min' into a timedelta; leave other values to pydantic."""
    if isinstance(value, str) and not value.strip().upper().startswith("P"):  # P...: ISO 8601
        match = _DURATION.match(value)
        if not match:
            raise ValueError(
                f"'{value}' is not a duration: write it like 90d, 12h, 2w, 30min or 45s"
            )
        return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSourceConfig(Strict):
    kind: Literal["files"] = Field(
        default="files", description="files: a directory of Parquet or CSV files."
    )
    path: Path = Field(description="Directory of Parquet or CSV files, relative to config.yaml.")
    format: Literal["parquet", "csv"] = Field(
        default="parquet", description="File format of every file in the directory."
    )


class SqlSourceConfig(Strict):
    kind: Literal["sql"] = Field(
        description="sql: a table behind any SQLAlchemy URL (tested on SQLite and PostgreSQL); "
        "its timestamp column holds timestamps, ISO 8601 text (an offset such as +01:00 "
        "optional, UTC without) or Unix seconds."
    )
    url: SecretValue = Field(
        description="SQLAlchemy URL; a relative sqlite path is relative to config.yaml. A URL "
        "with a password is given as ${ENV_VAR} (expanded when the config loads; $$ is a "
        "literal $) or as {secret: block-name} (a Prefect Secret block read at run time), "
        "never in plain text; it is masked in every log, message and artifact."
    )
    table: str = Field(description="Table holding the production log.")

    @field_validator("url")
    @classmethod
    def _no_plain_text_password(cls, value: SecretValue) -> SecretValue:
        if not value.from_reference and value.holds_url_password():
            raise ValueError(
                "holds a password in plain text, and config.yaml is committed and deployed: "
                "give the URL as ${VARIABLE} (an environment variable) or as "
                "{secret: block-name} (a Prefect Secret block)"
            )
        return value


class ReadRetryConfig(Strict):
    """Retries of transient read errors (a dropped connection, a busy file system)."""

    attempts: int = Field(default=3, ge=1, le=10, description="1 means no retry.")
    backoff_seconds: float = Field(
        default=1.0, ge=0, le=60, description="Wait before the 2nd attempt; doubles each time."
    )


class DataConfig(Strict):
    source: FileSourceConfig | SqlSourceConfig = Field(
        discriminator="kind",
        description="Where the production log is read from: {kind: files, path, format} or "
        "{kind: sql, url, table}.",
    )
    read_retries: ReadRetryConfig = Field(
        default=ReadRetryConfig(),
        description="Transient read errors (dropped connection, locked database, I/O error) "
        "are retried, waiting backoff_seconds, then twice that, and so on.",
    )
    timestamp_column: str = Field(description="Time of each row.")
    target_column: str = Field(
        description="The label; null until it arrives (such rows count for drift only)."
    )
    numerical_features: list[str] = Field(
        default=[],
        description="Numeric feature columns: median imputation and scaling, numeric drift tests.",
    )
    categorical_features: list[str] = Field(
        default=[],
        description="Categorical feature columns: constant imputation and one-hot encoding "
        "(unknown categories ignored), categorical drift tests.",
    )
    prediction_column: str | None = Field(
        default=None, description="Logged prediction of the serving model, if the log has one."
    )

    @model_validator(mode="after")
    def _check_columns(self) -> DataConfig:
        features = self.numerical_features + self.categorical_features
        if not features:
            raise ValueError(
                "list at least one column in numerical_features or categorical_features"
            )
        duplicated = sorted({c for c in features if features.count(c) > 1})
        if duplicated:
            raise ValueError(f"columns listed twice among the features: {duplicated}")
        special = {self.timestamp_column, self.target_column, self.prediction_column or ""}
        overlap = sorted(special.intersection(features))
        if overlap:
            raise ValueError(
                f"{overlap} cannot be both a feature and the timestamp, target or prediction column"
            )
        return self

    @property
    def features(self) -> list[str]:
        return self.numerical_features + self.categorical_features


# Modules whose classifiers model.estimator may name; model.allowed_modules adds to them.
# Importing a module runs its code, so nothing outside this list is imported from the config.
SKLEARN_ESTIMATOR_MODULES = (
    "sklearn.calibration",
    "sklearn.discriminant_analysis",
    "sklearn.dummy",
    "sklearn.ensemble",
    "sklearn.gaussian_process",
    "sklearn.linear_model",
    "sklearn.multiclass",
    "sklearn.naive_bayes",
    "sklearn.neighbors",
    "sklearn.neural_network",
    "sklearn.semi_supervised",
    "sklearn.svm",
    "sklearn.tree",
)


def _module_allowed(module_name: str, allowed: list[str]) -> bool:
    return any(module_name == a or module_name.startswith(f"{a}.") for a in allowed)


class ModelConfig(Strict):
    allowed_modules: list[str] = Field(
        default=[],
        description="Modules (and their submodules) trusted for model.estimator, in addition "
        "to scikit-learn's estimator modules, e.g. [xgboost, lightgbm].",
    )
    estimator: str = Field(
        description="Import path of a scikit-learn style classifier or regressor; a regressor "
        "needs a regression metric in policy.performance_metric (mae, rmse, mape, r2, pinball)."
    )
    params: dict[str, Any] = Field(
        default={},
        description="Keyword arguments of the estimator, e.g. {n_estimators: 100}; checked "
        "against the estimator when the config loads.",
    )

    @field_validator("allowed_modules")
    @classmethod
    def _check_module_names(cls, value: list[str]) -> list[str]:
        bad = [name for name in value if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", name)]
        if bad:
            raise ValueError(f"{bad} are not module names like xgboost or lightgbm.sklearn")
        return value

    @field_validator("estimator")
    @classmethod
    def _check_importable(cls, value: str, info: ValidationInfo) -> str:
        module_name, _, class_name = value.rpartition(".")
        if not module_name:
            raise ValueError(
                f"'{value}' is not an import path like sklearn.linear_model.LogisticRegression"
            )
        allowed = [*SKLEARN_ESTIMATOR_MODULES, *info.data.get("allowed_modules", [])]
        if not _module_allowed(module_name, allowed):
            raise ValueError(
                f"module '{module_name}' is not allowed: estimators may come from scikit-learn's "
                "estimator modules (sklearn.ensemble, sklearn.linear_model, ...) or a module listed "
                "in model.allowed_modules; add it there if you trust its code"
            )
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ValueError(f"cannot import module '{module_name}': {error}") from None
        if not hasattr(module, class_name):
            raise ValueError(f"module '{module_name}' has no '{class_name}'")
        if estimator_kind(getattr(module, class_name)) is None:
            raise ValueError(
                f"'{value}' is not a scikit-learn style classifier or regressor class "
                "(a subclass of sklearn.base.ClassifierMixin or RegressorMixin)"
            )
        return value

    @property
    def kind(self) -> Literal["classifier", "regressor"]:
        """Whether model.estimator predicts classes or numbers."""
        module_name, _, class_name = self.estimator.rpartition(".")
        kind = estimator_kind(getattr(importlib.import_module(module_name), class_name))
        return kind or "classifier"

    @field_validator("params")
    @classmethod
    def _check_params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "estimator" in info.data:  # else the estimator's own error is reported
            _check_estimator_params(info.data["estimator"], value)
        return value


# "The 'n_estimators' parameter of RandomForestClassifier must be ... Got 'many' instead."
_SKLEARN_PARAM_ERROR = re.compile(
    r"^The '(?P<name>[^']+)' parameter of (?P<owner>\S+) must be (?P<allowed>.*)\. "
    r"Got (?P<value>.*) instead\.$",
    re.DOTALL,
)


def _param_error(name: str | None, message: str) -> PydanticCustomError:
    """An error located at model.params.<name> (model.params when no single name is to blame)."""
    return PydanticCustomError("model_param", "{message}", {"param": name, "message": message})


def _check_estimator_params(estimator: str, params: dict[str, Any]) -> None:
    """Construct the estimator with params and let it validate them, as fit would, without data."""
    module_name, _, class_name = estimator.rpartition(".")
    estimator_class = getattr(importlib.import_module(module_name), class_name)
    accepted = inspect.signature(estimator_class).parameters.values()
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted):
        names = sorted(p.name for p in accepted)
        for name in params:
            if name not in names:
                raise _param_error(
                    name, f"not a parameter of {class_name} (it takes: {', '.join(names)})"
                )
    required = [
        p.name
        for p in accepted
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in params
    ]
    if required:
        raise _param_error(
            required[0],
            f"{class_name} requires it (no default); an estimator object cannot be written in "
            "config.yaml: choose another estimator, or a class of yours that builds it, listed "
            "in model.allowed_modules",
        )
    try:
        instance = estimator_class(**params)
    except Exception as error:  # a constructor can fail in any way; name it and stop
        raise _param_error(None, f"{class_name}({_call_text(params)}) fails: {error}") from None
    if not hasattr(instance, "_parameter_constraints"):
        return  # an estimator without scikit-learn's declared constraints checks them in fit
    try:
        instance._validate_params()  # what scikit-learn's fit runs first
    except (ValueError, TypeError) as error:
        match = _SKLEARN_PARAM_ERROR.match(str(error))
        if match is None:
            raise _param_error(None, str(error)) from None
        raise _param_error(
            match.group("name"),
            f"must be {match.group('allowed')} for {match.group('owner')}, "
            f"got {match.group('value')}",
        ) from None


def _call_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in params.items())


def estimator_kind(candidate: Any) -> Literal["classifier", "regressor"] | None:
    """'classifier' or 'regressor' for a scikit-learn style estimator class; None otherwise."""
    from sklearn.base import ClassifierMixin, RegressorMixin

    if not isinstance(candidate, type):
        return None
    if issubclass(candidate, ClassifierMixin):
        return "classifier"
    if issubclass(candidate, RegressorMixin):
        return "regressor"
    return None


MetricName = Literal[
    "f1", "precision", "recall", "accuracy", "mae", "rmse", "mape", "r2", "pinball"
]
CLASSIFICATION_METRICS = ("f1", "precision", "recall", "accuracy")
REGRESSION_METRICS = ("mae", "rmse", "mape", "r2", "pinball")
# Error metrics: lower is better, zero is perfect. Every other metric is better when higher.
ERROR_METRICS = ("mae", "rmse", "mape", "pinball")


class MetricConfig(Strict):
    name: MetricName = Field(
        default="f1",
        description="Classifiers: f1, precision, recall, accuracy (higher is better). "
        "Regressors: mae, rmse, mape, pinball (errors: lower is better) and r2 (higher is "
        "better, at most 1). performance_threshold is always the worst acceptable value.",
    )
    average: Literal["binary", "macro"] = Field(
        default="macro",
        description="Classifiers: binary scores pos_label; macro is the unweighted mean over "
        "classes. Not used by regression metrics.",
    )
    pos_label: str | int | bool | None = Field(
        default=None, description="The positive class; required with average binary, else null."
    )
    floor: float | None = Field(
        default=None,
        gt=0,
        description="mape only (required there): the smallest |target| used as a row's "
        "denominator, in the target's units, so near-zero targets do not blow the error up. "
        "A row's error is |y - prediction| / max(|y|, floor); mape is a fraction (0.1 = 10%).",
    )
    quantile: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="pinball only (required there): the quantile the model predicts, e.g. 0.9.",
    )

    @model_validator(mode="after")
    def _check_average(self) -> MetricConfig:
        if self.is_regression:
            if self.average != "macro" or self.pos_label is not None:
                raise ValueError(f"average and pos_label are for classifiers, not {self.name}")
            if (self.name == "mape") != (self.floor is not None):
                raise ValueError(
                    "mape needs floor (the smallest |target| used as denominator, e.g. 1.0)"
                    if self.name == "mape"
                    else "floor is only used with mape"
                )
            if (self.name == "pinball") != (self.quantile is not None):
                raise ValueError(
                    "pinball needs quantile (the quantile the model predicts, e.g. 0.9)"
                    if self.name == "pinball"
                    else "quantile is only used with pinball"
                )
            return self
        if self.floor is not None or self.quantile is not None:
            raise ValueError(f"floor and quantile are for regression metrics, not {self.name}")
        if self.average == "binary" and self.pos_label is None:
            raise ValueError("average 'binary' needs pos_label (the positive class)")
        if self.average == "macro" and self.pos_label is not None:
            raise ValueError("pos_label is only used with average 'binary'")
        return self

    @property
    def is_regression(self) -> bool:
        return self.name in REGRESSION_METRICS

    @property
    def higher_is_better(self) -> bool:
        """False for error metrics (mae, rmse, mape, pinball): lower is better."""
        return self.name not in ERROR_METRICS

    @property
    def direction(self) -> str:
        """Which way is better, in words: 'higher is better' or 'lower is better'."""
        return "higher is better" if self.higher_is_better else "lower is better"

    def describe(self) -> str:
        if self.name == "accuracy":
            return "accuracy"
        if self.name == "mape":
            return f"mape (floor {self.floor:g})"
        if self.name == "pinball":
            return f"pinball (quantile {self.quantile:g})"
        if self.is_regression:
            return self.name
        if self.average == "binary":
            return f"{self.name} (class {self.pos_label!r})"
        return f"{self.name} (macro)"

    def worse(self, value: float, threshold: float) -> bool:
        """Whether value is worse than threshold, in this metric's direction."""
        return value < threshold if self.higher_is_better else value > threshold


class ColumnDriftConfig(Strict):
    method: str | None = Field(default=None, description="Evidently drift method, e.g. ks, psi.")
    threshold: float | None = Field(
        default=None, description="Threshold of that method; null: Evidently's default."
    )


def _non_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("must be a duration of zero or more")
    return value


class ConfirmationConfig(Strict):
    """A breach counts only when it was seen in at least `breaches` of the last `runs` monitor
    runs of the same champion, this run included."""

    breaches: int = Field(default=1, ge=1, description="M: breached runs needed.")
    runs: int = Field(default=1, ge=1, description="N: most recent runs looked at.")

    @model_validator(mode="after")
    def _check_m_of_n(self) -> ConfirmationConfig:
        if self.breaches > self.runs:
            raise ValueError(
                f"breaches ({self.breaches}) cannot exceed runs ({self.runs}): "
                "it is M of the last N runs"
            )
        return self


class ConfirmationsConfig(Strict):
    drift: ConfirmationConfig = Field(
        default=ConfirmationConfig(breaches=2, runs=3),
        description="M of the last N runs for a data drift breach.",
    )
    prediction_drift: ConfirmationConfig = Field(
        default=ConfirmationConfig(breaches=2, runs=3),
        description="M of the last N runs for a prediction drift breach.",
    )
    performance: ConfirmationConfig = Field(
        default=ConfirmationConfig(breaches=2, runs=3),
        description="M of the last N runs for a performance breach.",
    )
    estimated_performance: ConfirmationConfig = Field(
        default=ConfirmationConfig(breaches=2, runs=3),
        description="M of the last N runs for an estimated performance breach.",
    )
    min_spacing: Annotated[Duration, AfterValidator(_non_negative)] = Field(
        default=timedelta(0),
        description="Only earlier runs at least this far apart (in as_of time) count: with "
        "windows longer than the schedule's step, set it to the window so that confirming "
        "runs look at different rows. 0: every run counts.",
    )


class PredictionDriftConfig(Strict):
    """Drift of the champion's predictions on the window vs on its own reference data."""

    enabled: bool = Field(
        default=True, description="Test the drift of the champion's predicted labels."
    )
    method: str | None = Field(default=None, description="None: Evidently's default choice.")
    threshold: float | None = Field(
        default=None, description="Threshold of that method; null: Evidently's default."
    )
    retrain: bool = Field(default=False, description="Whether prediction drift alone retrains.")


class EstimatedPerformanceConfig(Strict):
    """The champion's performance estimated without labels (CBPE) from its probabilities,
    calibrated on its holdout when it was registered. Classifiers with predict_proba only."""

    enabled: bool = Field(
        default=True,
        description="Estimate the metric on every window, labelled or not, and report it next "
        "to the realised one.",
    )
    retrain: bool = Field(
        default=True,
        description="Whether a confirmed estimated performance breach (the estimate worse than "
        "performance_threshold, on a window not every row of which is labelled) alone retrains.",
    )


class PolicyConfig(Strict):
    performance_metric: MetricConfig = Field(
        default=MetricConfig(),
        description="The metric scored on labelled rows, by monitor and gate alike.",
    )
    performance_threshold: float = Field(
        description="The worst acceptable value of the metric: retrain when a score falls "
        "below it (f1, precision, recall, accuracy, r2: higher is better) or rises above it "
        "(mae, rmse, mape, pinball: errors, lower is better). Also the challenger's floor."
    )
    severe_performance_threshold: float | None = Field(
        default=None,
        description="A second, worse value (below performance_threshold; above it for error "
        "metrics): a breach beyond it skips confirmation and cooldown.",
    )
    performance_drop: float | None = Field(
        default=0.25,
        gt=0,
        description="Also a performance breach when the metric on the labelled rows is worse "
        "than the champion's own holdout score by more than this share of it (0.25: an error "
        "1.25x the holdout's, a score 0.75x of it), so the bar follows each champion rather "
        "than only the fixed performance_threshold; null: off. Not judged for a champion without a holdout "
        "score on record or with a holdout score of 0.",
    )
    drift_threshold: float = Field(
        gt=0, le=1, description="Dataset drift when the share of drifted columns reaches it."
    )
    drift_method: str | None = Field(default=None, description="None: Evidently's default choice.")
    column_drift: dict[str, ColumnDriftConfig] = Field(
        default={},
        description="Drift method and threshold per column, e.g. "
        "{wind: {method: psi, threshold: 0.2}}; columns must be features.",
    )
    retrain_on_drift: bool | Literal["when-harmful"] = Field(
        default="when-harmful",
        description="Whether confirmed data drift alone retrains: when-harmful (only when the "
        "champion's metric has dropped more than harm_margin below its holdout score, or breaches "
        "performance_threshold: the realised metric judges from min_labelled_rows labelled rows "
        "on, the label-free estimate while fewer labels have arrived), true, or false.",
    )
    harm_drop: float = Field(
        default=0.10,
        ge=0,
        description="with retrain_on_drift: when-harmful, the drop of the metric (estimated or "
        "realised) from the champion's holdout score that makes drift harmful, as a share of "
        "that score (0.10: a score 10% below it, an error 10% above it), so the bar is in the "
        "metric's own units for any model: f1, an MAE in minutes or in gigawatts. Not used when "
        "harm_margin is set.",
    )
    harm_margin: float | None = Field(
        default=None,
        ge=0,
        description="with retrain_on_drift: when-harmful, the same drop as a fixed amount in "
        "the metric's units instead of harm_drop (0.05 of an f1; for an error metric, in its "
        "units: minutes, gigawatts); null: harm_drop decides.",
    )
    estimated_performance: EstimatedPerformanceConfig = Field(
        default=EstimatedPerformanceConfig(),
        description="Label-free performance estimate (CBPE) and its breach signal.",
    )
    prediction_drift: PredictionDriftConfig = Field(
        default=PredictionDriftConfig(),
        description="Drift test of the champion's predicted labels (window vs its reference).",
    )
    min_labelled_rows: int = Field(
        default=30,
        ge=1,
        description="Fewer labelled rows in the window: performance is insufficient data, "
        "not a breach.",
    )
    min_current_rows: int = Field(
        default=30,
        ge=1,
        description="Fewer rows in the window: drift is insufficient data, not a breach.",
    )
    confirmation: ConfirmationsConfig = Field(
        default=ConfirmationsConfig(),
        description="How many recent monitor runs of the same champion must show a breach "
        "before it counts.",
    )
    cooldown: Annotated[Duration, AfterValidator(_non_negative)] = Field(
        default=timedelta(days=30),
        description="No retrain within this time after the last retrain or promotion.",
    )

    @field_validator("performance_threshold", "severe_performance_threshold")
    @classmethod
    def _check_threshold_range(cls, value: float | None, info: ValidationInfo) -> float | None:
        metric = info.data.get("performance_metric")
        if value is None or metric is None:
            return value
        if metric.name != "r2" and value < 0:
            raise ValueError(f"Input should be greater than or equal to 0 for {metric.name}")
        if metric.higher_is_better and value > 1:
            raise ValueError(f"Input should be less than or equal to 1 for {metric.name}")
        return value

    @model_validator(mode="after")
    def _check_severe(self) -> PolicyConfig:
        severe = self.severe_performance_threshold
        metric = self.performance_metric
        if severe is not None and not metric.worse(severe, self.performance_threshold):
            side = "below" if metric.higher_is_better else "above"
            raise ValueError(
                f"severe_performance_threshold ({severe}) must be {side} performance_threshold "
                f"({self.performance_threshold}): it is the second, worse threshold for "
                f"{metric.describe()} ({metric.direction})"
            )
        return self

    @model_validator(mode="after")
    def _check_one_harm_rule(self) -> PolicyConfig:
        if self.harm_margin is not None and "harm_drop" in self.model_fields_set:
            raise ValueError(
                f"set harm_drop ({self.harm_drop}, a share of the champion's holdout score) or "
                f"harm_margin ({self.harm_margin}, in the metric's units), not both: one rule "
                "says when drift is harmful"
            )
        return self

    @field_validator("retrain_on_drift", mode="before")
    @classmethod
    def _check_retrain_on_drift(cls, value: Any) -> Any:
        if value is True or value is False or value == "when-harmful":
            return value
        raise PydanticCustomError(
            "retrain_on_drift",
            "must be true, false or when-harmful, got {value}",
            {"value": repr(value)},
        )

    @property
    def history_runs(self) -> int:
        """How many recent monitor runs the confirmation rules look at."""
        confirmation = self.confirmation
        return max(
            confirmation.drift.runs,
            confirmation.prediction_drift.runs,
            confirmation.performance.runs,
            confirmation.estimated_performance.runs,
        )


class WindowsConfig(Strict):
    as_of: datetime | None = Field(
        default=None, description="End of the monitored window; None means now (UTC)."
    )
    current: Duration = Field(description="Monitored window: [as_of - current, as_of).")
    training: Duration = Field(
        description="A challenger trains on the span right before the holdout."
    )
    holdout: Duration = Field(
        description="Most recent span, scored by both models, trained on by neither."
    )

    @field_validator("current", "training", "holdout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value


class GuardsConfig(Strict):
    """Non-inferiority margins: the challenger may be worse than the champion by at most these.

    null turns a guard off. A guard that is on but cannot be computed rejects (fail closed).
    """

    recall: float | None = Field(
        default=0.05, ge=0, le=1, description="Largest drop of recall (macro, or of pos_label)."
    )
    per_class_f1: float | None = Field(
        default=0.10, ge=0, le=1, description="Largest drop of any class's F1."
    )
    min_class_rows: int = Field(
        default=30, ge=1, description="Classes with fewer true rows are not judged per class."
    )
    log_loss: float | None = Field(
        default=0.25, ge=0, description="Largest increase of log loss (needs predict_proba)."
    )
    latency_ratio: float | None = Field(
        default=3.0, ge=1, description="Challenger ms per 1k rows <= this times the champion's."
    )
    model_size_ratio: float | None = Field(
        default=3.0, ge=1, description="Challenger pickled size <= this times the champion's."
    )
    # Regressors only (the classification guards above are not applied to regressors).
    second_error: float | None = Field(
        default=0.05,
        ge=0,
        description="Regressors: largest relative rise of a second error metric (rmse when "
        "the primary metric is not rmse, mae when it is): challenger <= champion x (1 + this).",
    )
    bias: float | None = Field(
        default=0.10,
        ge=0,
        description="Regressors: the challenger's |mean error| (prediction - target) may "
        "exceed the champion's by at most this fraction of the champion's MAE.",
    )
    tail_error: float | None = Field(
        default=0.10,
        ge=0,
        description="Regressors: largest relative rise of the tail_quantile of absolute "
        "error: challenger <= champion x (1 + this).",
    )
    tail_quantile: float = Field(
        default=0.9,
        gt=0,
        lt=1,
        description="Regressors: the quantile of |error| tail_error checks.",
    )


class SlicesConfig(Strict):
    """Per value of these categorical columns, no slice may regress beyond margin."""

    columns: list[str] = Field(
        default=[],
        description="Categorical features to slice by (listed in data.categorical_features); "
        "asked for but none judged rejects.",
    )
    min_rows: int = Field(default=30, ge=1, description="Smaller slices are listed, not judged.")
    margin: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="A slice blocks when its drop beyond this is significant (Holm-adjusted).",
    )


class ApprovalConfig(Strict):
    """A person approves or rejects each promotion the gate allows, in the Prefect UI."""

    required: bool = Field(
        default=False, description="A person approves in the Prefect UI before the swap."
    )
    bootstrap: bool = Field(
        default=False,
        description=(
            "Also ask before the first champion, when the registry has none. Off by default: "
            "that promotion replaces no model, its comparison has no champion to read, and the "
            "first model was already chosen in `bootstrap`; the gate's floor still applies and "
            "the alias history says no approval was asked."
        ),
    )
    timeout: Duration = Field(
        default=timedelta(hours=24), description="No answer within it rejects."
    )

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
        return value


class PromotionConfig(Strict):
    min_improvement: float = Field(
        default=0.0,
        ge=0,
        description="The improvement the interval's lower bound must reach, in the metric's "
        "own units, measured in its better direction: for f1 0.02 means +0.02 f1; for mae 0.5 "
        "means 0.5 lower MAE (target units). At most 1 for classification metrics and r2.",
    )
    min_relative_improvement: float | None = Field(
        default=None,
        ge=0,
        lt=1,
        description="Also (or instead) a relative improvement: the lower bound must reach this "
        "fraction of the champion's value, e.g. 0.02 = 2% lower MAE. null: off. When both are "
        "given, both must be reached.",
    )
    min_holdout_rows: int = Field(
        default=30,
        ge=1,
        description="Fewer labelled holdout rows: verdict insufficient-evidence.",
    )
    confidence: float = Field(
        default=0.95, gt=0.5, lt=1, description="Level of the paired bootstrap interval."
    )
    resamples: int = Field(
        default=2000,
        ge=100,
        le=100_000,
        description="Bootstrap resamples, also the permutations of the paired test.",
    )
    seed: int = Field(default=0, ge=0, description="Seed of bootstrap and permutations.")
    guards: GuardsConfig = Field(
        default=GuardsConfig(),
        description="Non-inferiority margins on point estimates; null turns a guard off.",
    )
    slices: SlicesConfig = Field(
        default=SlicesConfig(),
        description="Per-slice comparison of the primary metric, Holm-controlled.",
    )
    approval: ApprovalConfig = Field(
        default=ApprovalConfig(), description="Human approval of a promotion the gate allows."
    )


class BootstrapConfig(Strict):
    """How the first champion comes to be when the registry has none."""

    training_start: datetime | None = Field(
        default=None, description="Start of the first champion's training span."
    )
    training_end: datetime | None = Field(
        default=None,
        description="End of that span; the holdout that validates it follows right after.",
    )
    model_path: Path | None = Field(
        default=None, description="An existing pickled model to adopt instead of training one."
    )

    @model_validator(mode="after")
    def _check_window(self) -> BootstrapConfig:
        if (self.training_start is None) != (self.training_end is None):
            raise ValueError("give both training_start and training_end, or neither")
        if self.model_path is not None and self.training_start is None:
            raise ValueError(
                "an adopted model_path needs training_start/training_end: its reference data"
            )
        if self.training_start and self.training_end and self.training_start >= self.training_end:
            raise ValueError("training_start must be before training_end")
        return self


class OrchestrationConfig(Strict):
    """How the loop's steps reach each other, and what a second concurrent request does."""

    mode: Literal["auto", "inline", "events"] = Field(
        default="auto",
        description="inline: retrain and promote run as subflows of monitor; events: monitor "
        "emits autoretrain.retrain.requested and deployment triggers run them; auto: events "
        "when monitor runs from a deployment, inline otherwise.",
    )
    on_busy: Literal["queue", "drop"] = Field(
        default="queue",
        description="A retrain or promotion requested while one runs for the same model: "
        "wait for it (queue) or end at once with status 'dropped' (drop).",
    )
    queue_timeout: Duration = Field(
        default=timedelta(hours=1), description="How long a queued request waits before failing."
    )
    slot_lease: Duration = Field(
        default=timedelta(seconds=60),
        description="The lease on a held retrain/promotion slot; a running step renews it, so "
        "it only bounds how long a killed run's slot stays taken (Prefect: 60 s to 1 day).",
    )

    @field_validator("slot_lease")
    @classmethod
    def _lease_in_prefect_range(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=60) <= value <= timedelta(days=1):
            raise ValueError(f"must be between 60s and 1d (Prefect's bounds), not {value}")
        return value


class SamplingConfig(Strict):
    """Evidently's drift tests on large windows run on a seeded random sample of each side."""

    drift_rows: int | None = Field(
        default=50_000,
        ge=1_000,
        description="Drift is tested on at most this many rows per side (null: all rows). "
        "Performance is always scored on every labelled row.",
    )
    seed: int = Field(default=0, description="Seed of the drift samples.")


# The tracking URI schemes whose servers have a model registry (MLflow's file store has none).
MLFLOW_SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "databricks")


class RegistryConfig(Strict):
    kind: Literal["local", "mlflow"] = Field(
        default="local",
        description="local: a directory on a file system that supports flock; mlflow: the "
        "model registry of an MLflow tracking server (install with `pip install .[mlflow]`).",
    )
    path: Path = Field(
        description="Where versions, aliases, comparisons and history go (kind local); with "
        "kind mlflow, where the monitoring history (unless history.url names a database) and "
        "the lock file that serialises this machine's writers go (unless history.url is "
        "PostgreSQL: then an advisory lock there serialises every machine's)."
    )
    tracking_uri: str | None = Field(
        default=None,
        description="kind mlflow: the MLflow tracking URI, like http://127.0.0.1:5000 "
        "(http, https, or a database URI such as sqlite:///mlflow.db or postgresql://...); "
        "the model registry is the tracking server's.",
    )

    @model_validator(mode="after")
    def _tracking_uri_for_mlflow(self) -> RegistryConfig:
        if self.kind == "mlflow" and not self.tracking_uri:
            raise ValueError(
                "kind mlflow needs tracking_uri, the MLflow tracking server's URI, like "
                "http://127.0.0.1:5000"
            )
        scheme = self.tracking_uri.split(":", 1)[0].split("+")[0] if self.tracking_uri else ""
        if self.kind == "mlflow" and scheme not in MLFLOW_SCHEMES:
            raise ValueError(
                f"tracking_uri {mask_url_password(self.tracking_uri or '')!r} is not an MLflow "
                "tracking URI with a model "
                f"registry: use one of the schemes {', '.join(MLFLOW_SCHEMES)}, like "
                "http://127.0.0.1:5000"
            )
        if self.kind == "local" and self.tracking_uri:
            raise ValueError(
                "tracking_uri is only for kind mlflow: set kind: mlflow or remove tracking_uri"
            )
        return self


# The history's databases: the same code serves both (tested on each).
HISTORY_DIALECTS = ("sqlite", "postgresql")


class HistoryConfig(Strict):
    url: SecretValue | None = Field(
        default=None,
        description="SQLAlchemy URL of the monitoring history's database, shared by every "
        "machine that monitors the model: postgresql+psycopg://user@host/db (or sqlite:///"
        "path; a relative path is relative to config.yaml). null: the SQLite file "
        "history.sqlite under registry.path, this machine's. A URL with a password is given "
        "as ${ENV_VAR} or {secret: block-name} (a Prefect Secret block read at run time), "
        "never in plain text; it is masked in every message. The project creates and "
        "migrates its table.",
    )

    @field_validator("url")
    @classmethod
    def _history_url(cls, value: SecretValue | None) -> SecretValue | None:
        if value is None:
            return value
        if not value.from_reference and value.holds_url_password():
            raise ValueError(
                "holds a password in plain text, and config.yaml is committed and deployed: "
                "give the URL as ${VARIABLE} (an environment variable) or as "
                "{secret: block-name} (a Prefect Secret block)"
            )
        if value.resolved:
            check_history_url(value)
        return value


def check_history_url(url: SecretValue) -> None:
    """Raise ValueError unless url (read) is a SQLAlchemy URL of a database the history runs on."""
    text = url.reveal()
    scheme, separator, _ = text.partition("://")
    if not separator or not re.match(r"^[a-z0-9]+(\+[a-z0-9_]+)?$", scheme):
        raise ValueError(
            f"the value from {url.origin} is not a SQLAlchemy URL like "
            "postgresql+psycopg://user@host/db or sqlite:///history.sqlite"
        )
    dialect = scheme.split("+", 1)[0]
    if dialect not in HISTORY_DIALECTS:
        raise ValueError(
            f"the value from {url.origin} is a {dialect} URL: the history runs on "
            f"{' or '.join(HISTORY_DIALECTS)}, like postgresql+psycopg://user@host/db"
        )


def _parse_keep(value: Any) -> Any:
    """A number keeps that many runs; a duration like 30d keeps the runs that young."""
    if isinstance(value, bool):
        raise ValueError("write a number of runs like 30 or a duration like 30d")
    return value if isinstance(value, int) else parse_duration(value)


class WorkspaceRetryConfig(Strict):
    """Retries of a snapshot upload to an Evidently UI service that is down or failing."""

    attempts: int = Field(
        default=4,
        ge=1,
        le=10,
        description="Attempts in all; 1 means no retry. A refusal (a wrong secret, HTTP 4xx) "
        "is not retried.",
    )
    backoff_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="Wait before the 2nd attempt; doubles each time (4 attempts from 2 s wait "
        "2 + 4 + 8 = 14 s in all).",
    )


def is_service_url(workspace: str) -> bool:
    """Whether reports.workspace names an `evidently ui` service (a URL), not a directory."""
    return "://" in workspace


def _check_service_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"'{mask_url_password(url)}' is neither a directory nor the http(s) URL of an "
            "`evidently ui` service, like http://evidently.internal:8000"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"'{mask_url_password(url)}' carries a user or password: give the URL as "
            "scheme://host:port and the service's --secret in reports.workspace_secret"
        )
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError(
            f"'{url}' has a path, query or fragment: Evidently's client calls /api/... at the "
            "root of the host, so give only scheme://host:port"
        )
    try:
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError as error:
        raise ValueError(f"'{url}': {error}") from None
    return f"{parts.scheme}://{parts.netloc}"


class ReportsConfig(Strict):
    path: Path = Field(
        description="Where the Evidently HTML reports go. With registry.kind mlflow they are "
        "written here, then logged as the artifacts of a monitoring run of the model's "
        "experiment and deleted here; they stay here only when the upload fails."
    )
    keep: Annotated[int | timedelta | None, BeforeValidator(_parse_keep)] = Field(
        default=None,
        description="Retention of the monitor's HTML reports (about 7 MB a run), applied after "
        "each monitor run to this model's run directories under path (and, with registry.kind "
        "mlflow, to its monitoring runs on the tracking server): a number keeps the "
        "newest that many runs, a duration like 30d keeps the runs started within it; null "
        "keeps everything.",
    )
    workspace: str | None = Field(
        default=None,
        description="Where each monitor run adds its snapshot for Evidently's UI (one project "
        "per model): a directory, relative to config.yaml (null: <path>/workspace), or the "
        "http(s) URL of a running `evidently ui` service, like http://evidently.internal:8000, "
        "so that every machine adds to the same project. A service that is down never fails "
        "a run: the summary says the dashboard was not updated.",
    )
    workspace_secret: SecretValue | None = Field(
        default=None,
        description="With a service URL in workspace: the service's --secret, which it needs "
        "for writes, given as ${ENV_VAR} or as {secret: block-name} (a Prefect Secret block), "
        "never in plain text; it is masked in every log, message and artifact.",
    )
    workspace_retries: WorkspaceRetryConfig = Field(
        default=WorkspaceRetryConfig(),
        description="With a service URL in workspace: how often an upload that fails to "
        "connect, times out (10 s a request) or gets an HTTP 5xx is tried, waiting "
        "backoff_seconds, then twice that, and so on.",
    )

    @field_validator("keep")
    @classmethod
    def _keep_positive(cls, value: int | timedelta | None) -> int | timedelta | None:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"must keep at least 1 run, not {value}")
        if isinstance(value, timedelta) and value < timedelta(days=1):
            raise ValueError(f"must keep at least 1d of runs, not {value}")
        return value

    @field_validator("workspace")
    @classmethod
    def _workspace_path_or_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("is empty: give a directory or an `evidently ui` URL, or remove it")
        return _check_service_url(value) if is_service_url(value) else value

    @field_validator("workspace_secret")
    @classmethod
    def _secret_by_reference(cls, value: SecretValue | None) -> SecretValue | None:
        if value is not None and not value.from_reference:
            raise ValueError(
                "is in plain text, and config.yaml is committed and deployed: give it as "
                "${VARIABLE} (an environment variable) or as {secret: block-name} (a Prefect "
                "Secret block)"
            )
        return value

    @model_validator(mode="after")
    def _secret_needs_a_service(self) -> ReportsConfig:
        if self.workspace_secret is not None and self.workspace_url is None:
            raise ValueError(
                "workspace_secret is only for an `evidently ui` service: set workspace to "
                "its URL, or remove workspace_secret"
            )
        return self

    @property
    def workspace_url(self) -> str | None:
        """The `evidently ui` service the snapshots go to, if workspace is a URL."""
        return self.workspace if self.workspace and is_service_url(self.workspace) else None

    @property
    def workspace_dir(self) -> Path:
        """The local workspace directory (when workspace is not a URL): <path>/workspace by
        default."""
        if self.workspace is None or is_service_url(self.workspace):
            return self.path / "workspace"
        return Path(self.workspace)


class TrainingConfig(Strict):
    """Which rows a challenger trains on when a confirmed breach starts its retrain."""

    change_aware: bool = Field(
        default=True,
        description="After a confirmed breach, train on the labelled rows since the estimated "
        "start of the change (from the breach streak in the monitoring history) when there are "
        "at least min_rows; else on windows.training. The choice is recorded in the lineage.",
    )
    min_rows: int = Field(
        default=100,
        ge=1,
        description="Fewest labelled rows since the change to train on them instead of the "
        "configured span.",
    )


class CardConfig(Strict):
    """What the model card says of the model's use, which no record of the loop knows."""

    owner: str | None = Field(
        default=None, description="Who answers for the model (a team or a person)."
    )
    contact: str | None = Field(
        default=None, description="How to reach the owner (an e-mail address, a channel)."
    )
    intended_use: str | None = Field(
        default=None, description="What the model's predictions are for."
    )
    out_of_scope: str | None = Field(default=None, description="Uses the model is not meant for.")
    limitations: str | None = Field(
        default=None, description="Known limitations: data it never saw, groups it serves worse."
    )


class Config(Strict):
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        max_length=100,
        description="Model name, kebab-case; the registry keeps each model under models/<name>/.",
    )
    data: DataConfig = Field(description="The production log: where it is and its columns.")
    model: ModelConfig = Field(description="The estimator a challenger is trained with.")
    policy: PolicyConfig = Field(description="When monitoring says to retrain.")
    windows: WindowsConfig = Field(description="The monitored, holdout and training spans.")
    training: TrainingConfig = Field(
        default=TrainingConfig(),
        description="Change-aware training windows: what a breach-started retrain trains on.",
    )
    promotion: PromotionConfig = Field(
        default=PromotionConfig(),
        description="The gate: champion and challenger on the same holdout rows.",
    )
    bootstrap: BootstrapConfig = Field(
        default=BootstrapConfig(),
        description="How the first champion comes to be when the registry has none.",
    )
    sampling: SamplingConfig = Field(
        default=SamplingConfig(), description="Bounds on the rows Evidently's drift tests see."
    )
    orchestration: OrchestrationConfig = Field(
        default=OrchestrationConfig(),
        description="How retrain and promote run, and what a concurrent request does.",
    )
    registry: RegistryConfig = Field(description="The model registry.")
    history: HistoryConfig = Field(
        default=HistoryConfig(),
        description="The monitoring history: one record per monitored window, the policy's "
        "memory of breach streaks and cooldowns.",
    )
    reports: ReportsConfig = Field(
        description="The Evidently HTML reports, and the workspace of the dashboards."
    )
    card: CardConfig = Field(
        default=CardConfig(),
        description="The model card written at every promotion, bootstrap and rollback: its "
        'owner and intended use (each "not stated" on the card when absent).',
    )

    @model_validator(mode="after")
    def _check_metric_fits_estimator(self) -> Config:
        metric = self.policy.performance_metric
        kind = self.model.kind
        if kind == "regressor" and not metric.is_regression:
            raise ValueError(
                f"policy.performance_metric.name: '{metric.name}' is a classification metric, but "
                f"model.estimator {self.model.estimator} is a regressor: use one of "
                f"{', '.join(REGRESSION_METRICS)}"
            )
        if kind == "classifier" and metric.is_regression:
            raise ValueError(
                f"policy.performance_metric.name: '{metric.name}' is a regression metric, but "
                f"model.estimator {self.model.estimator} is a classifier: use one of "
                f"{', '.join(CLASSIFICATION_METRICS)}"
            )
        bounded = not metric.is_regression or metric.name == "r2"
        if bounded and self.promotion.min_improvement > 1:
            raise ValueError(
                f"promotion.min_improvement: {self.promotion.min_improvement} is above 1, the "
                f"most {metric.describe()} can improve"
            )
        return self

    @model_validator(mode="after")
    def _check_drift_columns(self) -> Config:
        unknown = sorted(set(self.policy.column_drift) - set(self.data.features))
        if unknown:
            raise ValueError(f"policy.column_drift names columns that are not features: {unknown}")
        not_categorical = sorted(
            set(self.promotion.slices.columns) - set(self.data.categorical_features)
        )
        if not_categorical:
            raise ValueError(
                "promotion.slices.columns must be listed in data.categorical_features: "
                f"{not_categorical}"
            )
        return self


def _resolve_reports(reports: ReportsConfig, base: Path) -> ReportsConfig:
    update: dict[str, Any] = {"path": resolve_path(base, reports.path)}
    if reports.workspace is not None and reports.workspace_url is None:
        update["workspace"] = str(resolve_path(base, Path(reports.workspace).expanduser()))
    return reports.model_copy(update=update)


def _resolve_paths(config: Config, base: Path) -> Config:
    source = config.data.source
    if isinstance(source, FileSourceConfig):
        source = source.model_copy(update={"path": resolve_path(base, source.path)})
    elif source.url.resolved:
        url = source.url.reveal()
        anchored = anchor_sqlite_url(url, base)
        if anchored != url:
            source = source.model_copy(update={"url": source.url.with_value(anchored)})
    history = config.history
    if history.url is not None and history.url.resolved:
        url = history.url.reveal()
        anchored = anchor_sqlite_url(url, base)
        if anchored != url:
            history = history.model_copy(update={"url": history.url.with_value(anchored)})
    bootstrap = config.bootstrap
    if bootstrap.model_path is not None:
        bootstrap = bootstrap.model_copy(
            update={"model_path": resolve_path(base, bootstrap.model_path)}
        )
    return config.model_copy(
        update={
            "data": config.data.model_copy(update={"source": source}),
            "bootstrap": bootstrap,
            "registry": config.registry.model_copy(
                update={"path": resolve_path(base, config.registry.path)}
            ),
            "reports": _resolve_reports(config.reports, base),
            "history": history,
        }
    )


def parse_config(
    raw: Any,
    base_dir: Path,
    origin: Path | None = None,
    read_secret_block: BlockReader | None = None,
) -> Config:
    """Validate a parsed YAML mapping; relative paths are taken from base_dir.

    ${VARIABLE} references are expanded from the environment here; {secret: name} references
    are read with read_secret_block (the flows pass Prefect's), or left unread without it.
    """
    origin = origin or base_dir / "config.yaml"
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{origin}: expected a mapping of keys at the top level, got {type(raw).__name__}"
        )
    try:
        config = Config.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(
            format_validation_error(error, origin, "configuration", "docs/configuration.md")
        ) from None
    if read_secret_block is not None:
        config = read_secret_blocks(config, read_secret_block, str(origin))
    return _resolve_paths(config, base_dir)


def load_config(path: str | Path, read_secret_block: BlockReader | None = None) -> Config:
    """Read and validate config.yaml; raise ConfigError naming the key path on any problem.

    read_secret_block reads the Prefect Secret blocks the config names (see parse_config).
    """
    path = Path(path).expanduser().resolve()
    raw = read_yaml_file(path, "config file", " (pass --config PATH or create it)")
    return parse_config(raw, path.parent, path, read_secret_block)
