"""The whole configuration: its sections and the checks across them."""

from __future__ import annotations

from pydantic import Field, model_validator

from tasks.config._base import Strict, section
from tasks.config._card import CardConfig
from tasks.config._data import DataConfig
from tasks.config._estimators import ModelConfig
from tasks.config._metric import CLASSIFICATION_METRICS, REGRESSION_METRICS
from tasks.config._policy import PolicyConfig
from tasks.config._promotion import PromotionConfig
from tasks.config._quality import CATEGORICAL_CHECKS, NUMERIC_CHECKS, DataQualityConfig
from tasks.config._runs import (
    BootstrapConfig,
    OrchestrationConfig,
    SamplingConfig,
    TrainingConfig,
    WindowsConfig,
)
from tasks.config._stores import HistoryConfig, RegistryConfig, ReportsConfig


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
    training: TrainingConfig = section(
        TrainingConfig, "Change-aware training windows: what a breach-started retrain trains on."
    )
    promotion: PromotionConfig = section(
        PromotionConfig, "The gate: champion and challenger on the same holdout rows."
    )
    bootstrap: BootstrapConfig = section(
        BootstrapConfig, "How the first champion comes to be when the registry has none."
    )
    sampling: SamplingConfig = section(
        SamplingConfig, "Bounds on the rows Evidently's drift tests see."
    )
    orchestration: OrchestrationConfig = section(
        OrchestrationConfig, "How retrain and promote run, and what a concurrent request does."
    )
    registry: RegistryConfig = Field(description="The model registry.")
    history: HistoryConfig = section(
        HistoryConfig,
        "The monitoring history: one record per monitored window, the policy's "
        "memory of breach streaks and cooldowns.",
    )
    reports: ReportsConfig = Field(
        description="The Evidently HTML reports, and the workspace of the dashboards."
    )
    card: CardConfig = section(
        CardConfig,
        "The model card written at every promotion, bootstrap and rollback: its owner and "
        'intended use (each "not stated" on the card when absent).',
    )
    data_quality: DataQualityConfig = section(
        DataQualityConfig,
        "The data-quality gate: every window checked against the champion's reference; a "
        "failure is decision DATA-ISSUE, not drift.",
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

    @model_validator(mode="after")
    def _check_quality_columns(self) -> Config:
        columns = self.data_quality.columns
        features = self.data.features
        unknown = sorted(set(columns) - set(features))
        if unknown:
            raise ValueError(
                f"data_quality.columns names columns that are not features: {unknown}; the "
                f"features are {', '.join(features)}"
            )
        for column, checks in columns.items():
            numeric = column in self.data.numerical_features
            wrong = NUMERIC_CHECKS if not numeric else CATEGORICAL_CHECKS
            for check in sorted(set(checks) & wrong):
                kind = "numerical" if numeric else "categorical"
                raise ValueError(
                    f"data_quality.columns.{column}.{check}: {column} is a {kind} feature, and "
                    f"{check} checks only {'categorical' if numeric else 'numerical'} ones"
                )
        return self
