"""The gate (`promotion`): what a challenger must show, its guards, slices and approval."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from tasks.config._base import Strict, Timeout, section


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
        default=3.0,
        ge=1,
        description="Challenger pickled size <= this times the champion's, times the growth "
        "of its training rows when it trained on more (a forest's size grows with its rows).",
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
    timeout: Timeout = Field(
        default=timedelta(hours=24), description="No answer within it rejects."
    )


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
    guards: GuardsConfig = section(
        GuardsConfig, "Non-inferiority margins on point estimates; null turns a guard off."
    )
    slices: SlicesConfig = section(
        SlicesConfig, "Per-slice comparison of the primary metric, Holm-controlled."
    )
    approval: ApprovalConfig = section(
        ApprovalConfig, "Human approval of a promotion the gate allows."
    )
