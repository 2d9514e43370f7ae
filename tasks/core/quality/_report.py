"""The report of a window's checks: its findings, its one-line summary and the reason it gives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tasks.config import CheckName
from tasks.core.reasons import Reason, ReasonCode


@dataclass(frozen=True)
class QualityFinding:
    """One check of one column (None: of the whole window), with its numbers."""

    check: CheckName
    column: str | None
    value: float | str | None  # what the window shows (a type family for dtype)
    reference: float | str | None  # what the reference (or the recent windows) showed
    tolerance: float | None
    failed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "column": self.column,
            "value": self.value,
            "reference": self.reference,
            "tolerance": self.tolerance,
            "failed": self.failed,
            "message": self.message,
        }

    @property
    def judged(self) -> bool:
        """Whether the check was made: one that could not be (too few rows, no recent windows)
        has no value and did not fail."""
        return self.failed or self.value is not None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityFinding:
        return cls(
            check=data["check"],
            column=data.get("column"),
            value=data.get("value"),
            reference=data.get("reference"),
            tolerance=data.get("tolerance"),
            failed=bool(data["failed"]),
            message=data["message"],
        )


@dataclass(frozen=True)
class QualityReport:
    """Every data-quality finding of one window; failed when any check failed."""

    rows: int
    findings: tuple[QualityFinding, ...]
    notes: tuple[str, ...] = ()
    # What a failure does (data_quality.action): block the window's retrain and promotion, or
    # warn only.
    action: Literal["block", "warn"] = "block"

    @property
    def failed(self) -> bool:
        return any(finding.failed for finding in self.findings)

    @property
    def blocks(self) -> bool:
        """Whether a check failed and data_quality.action is block."""
        return self.failed and self.action == "block"

    @property
    def failures(self) -> list[QualityFinding]:
        return [finding for finding in self.findings if finding.failed]

    @property
    def failing_columns(self) -> list[str]:
        """The columns with a failed check, in the profile's order, each once."""
        columns: list[str] = []
        for finding in self.failures:
            if finding.column is not None and finding.column not in columns:
                columns.append(finding.column)
        return columns

    def summary(self) -> str:
        """One line: the failing columns and checks with their numbers, or that all passed."""
        failures = self.failures
        if not failures:
            passed = sum(1 for finding in self.findings if finding.judged)
            unjudged = [finding.check for finding in self.findings if not finding.judged]
            line = f"data quality ok: {passed} checks passed on {self.rows:,} rows"
            if unjudged:
                line += f", {len(unjudged)} not judged ({', '.join(dict.fromkeys(unjudged))})"
            return line
        columns = self.failing_columns
        where = f" in {', '.join(columns)}" if columns else ""
        return f"data quality failed{where}: {'; '.join(f.message for f in failures)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "failed": self.failed,
            "failing_columns": self.failing_columns,
            "findings": [finding.to_dict() for finding in self.findings],
            "notes": list(self.notes),
            "action": self.action,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityReport:
        return cls(
            rows=int(data["rows"]),
            findings=tuple(QualityFinding.from_dict(finding) for finding in data["findings"]),
            notes=tuple(data.get("notes", ())),
            action=data.get("action", "block"),
        )


def quality_reason(report: QualityReport, code: ReasonCode | None = None) -> Reason:
    """The reason a failed report gives: the failing columns and checks with their numbers.

    code: the reason's code; by default data-quality-failed when the report blocks, else
    data-quality-warning.
    """
    if code is None:
        code = ReasonCode.DATA_QUALITY_FAILED if report.blocks else ReasonCode.DATA_QUALITY_WARNING
    return Reason(
        code,
        {
            "failing_columns": report.failing_columns,
            "failures": [
                {
                    "check": finding.check,
                    "column": finding.column,
                    "value": finding.value,
                    "reference": finding.reference,
                    "tolerance": finding.tolerance,
                }
                for finding in report.failures
            ],
            "summary": report.summary(),
            "rows": report.rows,
        },
    )
