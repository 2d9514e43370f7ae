"""The performance metric monitor and gate score (`policy.performance_metric`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tasks.config._base import Strict

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
