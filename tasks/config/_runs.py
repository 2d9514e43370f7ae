"""Which rows a run looks at and how it runs: `windows`, `training`, `bootstrap`,
`orchestration`, `sampling`."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from tasks.config._base import Duration, Strict


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
    task_runs: Literal["auto", "steps", "none"] = Field(
        default="auto",
        description="steps: each step of monitor, retrain and promote is a Prefect task run "
        "(its state and duration in the run's graph); none: the steps run inside their flow "
        "run, whose logs, artifacts and events are the same, and the server records three state "
        "events fewer a step (half its CPU a model); auto: none for the models of a fleet on "
        "Dask (flows/fleet.py), steps otherwise.",
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
    """How many rows drift tests and Evidently's HTML reports look at."""

    drift_rows: int | None = Field(
        default=None,
        ge=1_000,
        description="null: drift is tested on every row of the window against the champion's "
        "reference profile, with Evidently's methods and thresholds. A number: Evidently tests "
        "drift on a seeded sample of at most this many rows per side instead. Performance is "
        "always scored on every labelled row.",
    )
    report_rows: int = Field(
        default=10_000,
        ge=1_000,
        description="Evidently's HTML drift and performance reports are drawn on a seeded "
        "sample of at most this many rows per side (their header says so); the drift flags "
        "and the metric use every row.",
    )
    report_columns: int | None = Field(
        default=100,
        ge=1,
        description="With drift tested on every row, the HTML drift report shows at most this "
        "many feature columns (the drifted ones first, then the others in config order; its "
        "header says so); every column is still tested. null: all.",
    )
    seed: int = Field(default=0, description="Seed of the samples.")


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
