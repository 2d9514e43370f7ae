"""The policy's bars that follow the data (`policy.drop_reference`), the follow-up retrain after
an abrupt change (`policy.follow_up`) and the back-off after rejected challengers
(`policy.backoff`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from tasks.config._base import Duration, Strict


class DropReferenceConfig(Strict):
    """What performance_drop measures the drop from: the median of the champion's holdout score
    and its own first monitored windows, so that a holdout that happened to be unusually hard
    (or easy) does not set the bar for the champion's whole life."""

    windows: int = Field(
        default=2,
        ge=0,
        description="How many of the champion's first monitored windows (each with at least "
        "min_labelled_rows labelled rows) join its holdout score in the median the drop is "
        "measured from; 0: the holdout score alone.",
    )
    relax: bool = Field(
        default=False,
        description="Whether the first windows may also loosen the bar. Off: they only tighten "
        "it (a median worse than the holdout score leaves the holdout score as the reference: "
        "a champion already worse on its first windows than on its holdout has dropped, and a "
        "laxer bar would hide it).",
    )
    warning: float | None = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="The warning level, as a share of performance_drop (as the warning level "
        "of Gama et al.'s drift detection method): a window of the champion whose realised "
        "metric moved from the reference the wrong way by more than this share of the drop "
        "bar (0.5: half of it) counts toward confirming a later performance breach, as a "
        "breach would. null: only breaches confirm.",
    )


class FollowUpConfig(Strict):
    """One retrain without a breach after a change-aware promotion that had few rows."""

    enabled: bool = Field(
        default=True,
        description="After a champion trained on a split of the few rows since an estimated "
        "change (since-change-split), retrain once more, without a breach, as soon as "
        "training.min_rows more labelled rows have arrived since that change; the gate judges "
        "it like any other challenger.",
    )


class BackoffConfig(Strict):
    """Longer cooldowns while challengers keep failing the gate on the same breach."""

    enabled: bool = Field(
        default=True,
        description="After `after` rejected challengers in a row, multiply the cooldown by "
        "`factor` per rejection; reset by a promotion, a new kind of breach (a confirmed "
        "signal none of the rejected retrains breached) or a change in the data (a confirmed "
        "data drift; a retrain started while the data drifted is not counted). Only a verdict "
        "counts: a retrain still waiting for its promotion (events mode) or dropped does not.",
    )
    after: int = Field(
        default=2,
        ge=1,
        description="Rejected challengers in a row before the cooldown grows: the cooldown is "
        "cooldown x factor^(rejected - after + 1) from then on (1: from the first rejection).",
    )
    factor: float = Field(
        default=2.0, ge=1, description="The cooldown's multiplier per rejected challenger in a row."
    )
    max_cooldown: Duration | None = Field(
        default=timedelta(days=365),
        description="The longest cooldown the back-off reaches; null: no limit.",
    )
    unreachable_after: int = Field(
        default=2,
        ge=1,
        description="After this many rejected challengers in a row, the decision says (once) "
        "that the performance bar looks unreachable with the measured numbers, and the monitor "
        "emits autoretrain.threshold.unreachable.",
    )

    @model_validator(mode="after")
    def _check_positive(self) -> BackoffConfig:
        if self.max_cooldown is not None and self.max_cooldown <= timedelta(0):
            raise ValueError("max_cooldown must be a positive duration like 180d, or null")
        return self
