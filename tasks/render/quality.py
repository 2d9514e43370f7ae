"""A window's data-quality checks for people: the monitor artifact's section and the history's
marker (pure text; the rows and the verdict are worded once, in tasks.core.quality_view)."""

from __future__ import annotations

from tasks.core.quality import QualityReport
from tasks.core.quality_view import (
    ROW_COLUMNS,
    describe_failures,
    judged,
    quality_action,
    quality_rows,
)


def _cell(text: str) -> str:
    text = text.replace("|", "\\|")
    return "\\" + text if text.startswith((">", "<")) else text


def render_quality_markdown(report: QualityReport) -> str:
    """The data-quality section of the monitor's markdown artifact: the verdict, then a short
    table of the failing checks with their numbers and tolerances (a Prefect table cell does not
    wrap), then each failure in words, as a list that wraps. A report that passed is two lines."""
    made = [finding for finding in report.findings if judged(finding)]
    if not report.failed:
        checks = ", ".join(dict.fromkeys(finding.check for finding in made))
        return "\n".join(
            ["## Data quality: ok", "", f"All {len(made)} checks passed ({checks or 'none made'})."]
        )
    failing = [row for row in quality_rows(report) if row["result"] == "FAIL"]
    lines = [
        "## Data quality: FAILED",
        "",
        f"**The data looks broken, not the model**: {describe_failures(report)}. "
        + quality_action(report),
        "",
        "| " + " | ".join(ROW_COLUMNS) + " |",
        "|" + "---|" * len(ROW_COLUMNS),
    ]
    lines += ["| " + " | ".join(_cell(row[key]) for key in ROW_COLUMNS) + " |" for row in failing]
    lines += ["", *(f"- {finding.message}" for finding in report.failures)]
    passed = len(made) - len(failing)
    if passed:
        lines += ["", f"The other {passed} checks passed."]
    return "\n".join(lines)


def quality_marker(report: QualityReport | None) -> str:
    """A run's data quality in the history table: ok, FAIL, or - for a run that recorded none."""
    if report is None:
        return "-"
    return "FAIL" if report.failed else "ok"
