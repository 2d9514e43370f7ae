"""Tiny data-quality reports for the tests of what people see of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Finding:
    check: str
    column: str | None
    value: Any
    reference: Any
    tolerance: Any
    failed: bool
    message: str


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]

    @property
    def failed(self) -> bool:
        return any(finding.failed for finding in self.findings)


def broken_wind() -> Report:
    """wind arrived empty; temp_max and the row count are fine."""
    return Report(
        (
            Finding("missing", "temp_max", 0.0, 0.0, 0.05, False, "temp_max: 0% missing"),
            Finding(
                "missing",
                "wind",
                1.0,
                0.002,
                0.05,
                True,
                "wind: 100% of values missing (reference 0.2%, tolerance +5 points)",
            ),
            Finding("range", "temp_max", 0.0, 0.0, 0.01, False, "temp_max: in range"),
            Finding("rows", None, 90, 91, 0.5, False, "90 rows (recent windows 91)"),
        )
    )


def healthy() -> Report:
    return Report(
        (
            Finding("missing", "wind", 0.0, 0.0, 0.05, False, "wind: 0% missing"),
            Finding("rows", None, 90, 91, 0.5, False, "90 rows"),
        )
    )
