"""What monitoring measured: plain values, independent of the library that measured them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from tasks.core.quality import QualityReport

PredictionSource = Literal["logged", "champion", "logged, champion where missing"]
"""Where the window's predictions come from: the log, the champion, or both."""


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    method: str
    score: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class Performance:
    metric: str
    value: float
    labelled_rows: int
    prediction_source: PredictionSource
    labelled_start: str | None = None  # first and last timestamp of the labelled rows used
    labelled_end: str | None = None


@dataclass(frozen=True)
class EstimatedPerformance:
    """The champion's metric on the window estimated without labels, on every row, labelled or
    not; holdout_score is its realised metric on its holdout; basis, what the estimate is made
    of: a classifier's calibrated probabilities (CBPE), a regressor's expected errors (DLE)."""

    metric: str
    value: float
    rows: int
    holdout_score: float
    basis: str = "calibrated confidence"


@dataclass(frozen=True)
class Signals:
    """Signals of one monitoring run over the current window."""

    current_rows: int
    reference_rows: int
    drift_share: float
    columns: tuple[ColumnDrift, ...]
    performance: Performance | None
    report_paths: tuple[str, ...] = ()
    # Why the run has no HTML reports although it could have drawn them (reports.html), else "".
    reports_note: str = ""
    prediction_drift: ColumnDrift | None = None  # the champion's outputs: window vs reference
    # Regressors: the target of the labelled window rows vs the reference's (reported only).
    target_drift: ColumnDrift | None = None
    # Rows the drift tests used per side: fewer than current_rows/reference_rows when sampled.
    drift_rows_current: int | None = None
    drift_rows_reference: int | None = None
    sample_seed: int | None = None
    estimate: EstimatedPerformance | None = None
    # Why there is no estimate (a regressor, no predict_proba, no stored calibration), else None.
    estimate_note: str | None = None
    # The champion's realised metric on its own holdout, recorded at registration (None: a
    # version registered before it was kept, or without labelled holdout rows).
    holdout_score: float | None = None
    # Rows per side Evidently's HTML drift report was drawn on when the flags above used every
    # row against the reference profile (None: the report saw the rows the flags did).
    report_rows_current: int | None = None
    report_rows_reference: int | None = None
    # Feature columns that report shows (sampling.report_columns), None: all of them.
    report_columns: int | None = None
    # The window's data-quality checks against the champion's reference (None: off); the
    # columns that failed one are not drift-tested (columns and drift_share leave them out).
    quality: QualityReport | None = None

    @property
    def sampled(self) -> bool:
        return (self.drift_rows_current or 0) < self.current_rows or (
            self.drift_rows_reference or 0
        ) < self.reference_rows

    @property
    def report_sampled(self) -> bool:
        """Whether the HTML drift report shows a sample while the flags used every row."""
        if self.report_rows_current is None or self.report_rows_reference is None:
            return False
        return (
            self.report_rows_current < self.current_rows
            or self.report_rows_reference < self.reference_rows
        )

    @property
    def champion_holdout_score(self) -> float | None:
        """The champion's holdout score: the one recorded at registration, else the one its
        calibration keeps (None: neither)."""
        if self.holdout_score is not None:
            return self.holdout_score
        return self.estimate.holdout_score if self.estimate else None

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
