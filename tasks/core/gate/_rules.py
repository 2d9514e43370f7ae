"""The gate's rules: what a challenger must show, mapped from the config's policy and promotion."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from tasks.config import Config, MetricConfig
from tasks.core.reasons import describe_required
from tasks.core.statistics import BootstrapInterval

TOLERANCE = 1e-9


@dataclass(frozen=True)
class GuardRules:
    """Non-inferiority margins; None turns a guard off."""

    recall: float | None = None
    per_class_f1: float | None = None
    min_class_rows: int = 30
    log_loss: float | None = None
    latency_ratio: float | None = None
    model_size_ratio: float | None = None
    second_error: float | None = None  # regressors: relative rise of rmse (mae for rmse)
    bias: float | None = None  # regressors: |bias| rise, as a fraction of the champion's mae
    tail_error: float | None = None  # regressors: relative rise of the tail of |error|
    tail_quantile: float = 0.9


@dataclass(frozen=True)
class SliceRules:
    columns: tuple[str, ...] = ()
    min_rows: int = 30
    margin: float = 0.05


@dataclass(frozen=True)
class GateRules:
    metric: str  # as people read it, e.g. "f1 (macro)"
    performance_threshold: float
    min_improvement: float
    min_holdout_rows: int
    metric_name: str = "f1"
    average: str = "macro"
    pos_label: str | int | bool | None = None
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0
    guards: GuardRules = GuardRules()
    slices: SliceRules = SliceRules()
    approval_required: bool = False
    approval_bootstrap: bool = False  # ask for the first champion too (no champion compared)
    approval_timeout_seconds: int = 86400
    higher_is_better: bool = True  # False for error metrics (mae, rmse, mape, pinball)
    min_relative_improvement: float | None = None
    floor: float | None = None  # mape
    quantile: float | None = None  # pinball

    @property
    def regression(self) -> bool:
        return self.metric_config().is_regression

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    @property
    def interval_name(self) -> str:
        """What the interval measures: the difference challenger - champion where higher is
        better, else the improvement champion - challenger."""
        return "difference" if self.higher_is_better else "improvement"

    @classmethod
    def from_config(cls, config: Config) -> GateRules:
        metric, promotion = config.policy.performance_metric, config.promotion
        return cls(
            metric=metric.describe(),
            performance_threshold=config.policy.performance_threshold,
            min_improvement=promotion.min_improvement,
            min_holdout_rows=promotion.min_holdout_rows,
            metric_name=metric.name,
            average=metric.average,
            pos_label=metric.pos_label,
            confidence=promotion.confidence,
            resamples=promotion.resamples,
            seed=promotion.seed,
            guards=GuardRules(**_same_names(GuardRules, promotion.guards)),
            slices=SliceRules(
                **{
                    **_same_names(SliceRules, promotion.slices),
                    "columns": tuple(promotion.slices.columns),
                }
            ),
            approval_required=promotion.approval.required,
            approval_bootstrap=promotion.approval.bootstrap,
            approval_timeout_seconds=int(promotion.approval.timeout.total_seconds()),
            higher_is_better=metric.higher_is_better,
            min_relative_improvement=promotion.min_relative_improvement,
            floor=metric.floor,
            quantile=metric.quantile,
        )

    def metric_config(self, name: str | None = None) -> MetricConfig:
        name = name or self.metric_name
        if name in ("mae", "rmse", "mape", "r2", "pinball"):
            return MetricConfig.model_validate(
                {
                    "name": name,
                    "floor": self.floor if name == "mape" else None,
                    "quantile": self.quantile if name == "pinball" else None,
                }
            )
        return MetricConfig.model_validate(
            {"name": name, "average": self.average, "pos_label": self.pos_label}
        )

    def required_improvement(self, champion_score: float | None) -> float:
        """The improvement the interval's lower bound must reach: min_improvement, and
        min_relative_improvement times the champion's value when that is set."""
        required = self.min_improvement
        if self.min_relative_improvement is not None and champion_score is not None:
            required = max(required, self.min_relative_improvement * abs(champion_score))
        return required

    def describe_required(self, champion_score: float | None) -> str:
        """The required improvement with where it comes from, in words."""
        return describe_required(
            self.min_improvement, self.min_relative_improvement, champion_score
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateRules:
        values = dict(data)
        # Saved before approval.bootstrap existed: those asked for the first champion too.
        values.setdefault("approval_bootstrap", True)
        values["guards"] = GuardRules(**values.get("guards", {}))
        slices = values.get("slices", {})
        values["slices"] = SliceRules(**{**slices, "columns": tuple(slices.get("columns", ()))})
        return cls(**values)


def _same_names(kind: type, section: Any) -> dict[str, Any]:
    """The config section's values of the rules record's fields (the same names in both)."""
    return {name.name: getattr(section, name.name) for name in fields(kind)}


def improvement_shown(interval: BootstrapInterval, min_improvement: float) -> bool:
    """The gate's primary rule: the interval's lower bound clears min_improvement and 0."""
    return interval.lower > 0 and interval.lower >= min_improvement - TOLERANCE
