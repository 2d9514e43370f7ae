"""Tiny data-quality reports for the tests of what people see of them."""

from __future__ import annotations

from tasks.core.quality import QualityFinding, QualityReport


def broken_wind() -> QualityReport:
    """wind arrived empty; temp_max is fine; the row count could not be judged."""
    return QualityReport(
        rows=90,
        findings=(
            QualityFinding("missing", "temp_max", 0.0, 0.0, 0.05, False, "temp_max missing 0"),
            QualityFinding(
                "missing",
                "wind",
                1.0,
                0.002,
                0.05,
                True,
                "wind missing share 1.000 (reference 0.002 + 0.050)",
            ),
            QualityFinding(
                "range", "temp_max", 0.0, "-1.6 to 35.6", 0.1, False, "temp_max range ok"
            ),
            QualityFinding("duplicates", None, 0.0, 0.0, 0.01, False, "duplicated rows 0"),
            QualityFinding(
                "row_count",
                None,
                None,
                None,
                0.5,
                False,
                "window row_count: not judged, 0 recent windows on record < 3",
            ),
        ),
    )


def healthy() -> QualityReport:
    return QualityReport(
        rows=90,
        findings=(
            QualityFinding("missing", "wind", 0.0, 0.0, 0.05, False, "wind missing 0"),
            QualityFinding("duplicates", None, 0.0, 0.0, 0.01, False, "duplicated rows 0"),
        ),
    )
