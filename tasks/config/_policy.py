"""When monitoring says to retrain (`policy`): drift, performance, confirmation, cooldown."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from tasks.config._adaptive import BackoffConfig, DropReferenceConfig, FollowUpConfig
from tasks.config._base import Duration, Strict, section
from tasks.config._metric import MetricConfig


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


def _two_of_three(breach: str) -> Any:
    """The field of one signal's confirmation rule: by default 2 of the last 3 runs."""
    return Field(
        default=ConfirmationConfig(breaches=2, runs=3),
        description=f"M of the last N runs for {breach} breach.",
    )


class ConfirmationsConfig(Strict):
    drift: ConfirmationConfig = _two_of_three("a data drift")
    prediction_drift: ConfirmationConfig = _two_of_three("a prediction drift")
    performance: ConfirmationConfig = _two_of_three("a performance")
    estimated_performance: ConfirmationConfig = _two_of_three("an estimated performance")
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
    """The champion's performance estimated without labels, from what was fitted on its holdout
    when it was registered: a classifier's calibrated probabilities (CBPE, with predict_proba),
    a regressor's expected errors (direct loss estimation; mae and rmse only)."""

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


class WatchConfig(Strict):
    """After a promotion, the monitor also scores the champion it replaced on the labelled rows
    that came after the gate's holdout, paired, and rolls back when that one is better."""

    windows: int = Field(
        default=3,
        ge=0,
        description="How many monitor runs after a promotion watch it: each scores the previous "
        "champion beside the promoted one on the window's labelled rows after the promotion's "
        "holdout, and rolls back (as `autoretrain rollback`, promotion.approval respected) when "
        "the previous champion's advantage, by the gate's paired interval, clears "
        "promotion.min_improvement. 0: off.",
    )


class PolicyConfig(Strict):
    performance_metric: MetricConfig = section(
        MetricConfig, "The metric scored on labelled rows, by monitor and gate alike."
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
    estimated_performance: EstimatedPerformanceConfig = section(
        EstimatedPerformanceConfig,
        "Label-free performance estimate (CBPE, DLE) and its breach signal.",
    )
    prediction_drift: PredictionDriftConfig = section(
        PredictionDriftConfig,
        "Drift test of the champion's predicted labels (window vs its reference).",
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
    confirmation: ConfirmationsConfig = section(
        ConfirmationsConfig,
        "How many recent monitor runs of the same champion must show a breach before it counts.",
    )
    cooldown: Annotated[Duration, AfterValidator(_non_negative)] = Field(
        default=timedelta(days=30),
        description="No retrain within this time after the last retrain or promotion.",
    )
    watch: WatchConfig = section(
        WatchConfig, "Watch a promotion over the next monitor runs; roll back on evidence."
    )
    drop_reference: DropReferenceConfig = section(
        DropReferenceConfig, "What performance_drop measures the drop from."
    )
    follow_up: FollowUpConfig = section(
        FollowUpConfig, "One retrain without a breach after a change-aware promotion."
    )
    backoff: BackoffConfig = section(
        BackoffConfig, "Longer cooldowns while the gate keeps rejecting challengers."
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
