"""A data-quality report as people read it, the same on every surface (the HTML report's
header, the monitor's artifact, the fleet table, the monitoring history, the dashboard): its
checks as rows of words and numbers, failing checks first, and its verdict in one line. Pure."""

from __future__ import annotations

from tasks.core.numbers import format_number
from tasks.core.quality import QualityFinding, QualityReport

BROKEN = "the data looks broken, not the model"
ROW_COLUMNS = ("check", "column", "window", "reference", "tolerance", "result")
WINDOW = "(window)"  # the place of a check of the whole window (duplicates, row count)
# What each check's numbers measure, after its name (the name is the config's key).
MEASURES = {
    "missing": "share",
    "range": "share outside",
    "categories": "share unseen",
    "constant": "share of its value",
    "dtype": "type",
    "duplicates": "share of rows",
    "row_count": "rows",
}


def format_quality_value(value: float | str | None) -> str:
    """A finding's number (or type, or range) as a table cell: numbers through the one
    formatter, "-" for none."""
    if value is None:
        return "-"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return format_number(float(value), "general")
    return str(value)


def judged(finding: QualityFinding) -> bool:
    """Whether the check was made: one that could not be (too few rows, no recent windows)
    has no value and did not fail."""
    return finding.judged


def ordered_findings(report: QualityReport) -> list[QualityFinding]:
    """The report's findings, failing ones first, each group in the report's order."""
    return [*report.failures, *(finding for finding in report.findings if not finding.failed)]


def finding_row(finding: QualityFinding) -> dict[str, str]:
    """One finding as a row of ROW_COLUMNS: what was checked, the window's number, the
    reference's, the tolerance, and FAIL, ok or not judged."""
    measure = MEASURES.get(finding.check)
    if finding.check == "constant" and not finding.failed:
        measure = "distinct values"
    return {
        "check": f"{finding.check} ({measure})" if measure else finding.check,
        "column": finding.column or WINDOW,
        "window": format_quality_value(finding.value),
        "reference": format_quality_value(finding.reference),
        "tolerance": format_quality_value(finding.tolerance),
        "result": "FAIL" if finding.failed else "ok" if judged(finding) else "not judged",
    }


def quality_rows(report: QualityReport) -> list[dict[str, str]]:
    """Every finding as a row, failing checks first."""
    return [finding_row(finding) for finding in ordered_findings(report)]


def failing_places(report: QualityReport) -> list[str]:
    """The columns with a failed check, and "(window)" for a failed check of the whole window
    (duplicated rows, the row count), in the report's order, once each."""
    return list(dict.fromkeys(finding.column or WINDOW for finding in report.failures))


def describe_failures(report: QualityReport) -> str:
    """Which checks failed where, in one clause: "1 of 4 checks failed (missing), on wind"."""
    checks = ", ".join(dict.fromkeys(finding.check for finding in report.failures))
    made = sum(judged(finding) for finding in report.findings)
    return (
        f"{len(report.failures)} of {made} checks failed ({checks}), on "
        f"{', '.join(failing_places(report))}"
    )


def quality_verdict(report: QualityReport) -> str:
    """The report in one line: which checks failed where and what that means, or that every
    check passed."""
    if not report.failed:
        made = sum(judged(finding) for finding in report.findings)
        return f"ok: all {made} checks passed"
    return f"FAILED: {describe_failures(report)}: {BROKEN}"


def quality_cell(report: QualityReport | None) -> str | None:
    """A short cell for a table of models: ok, "failed: <columns>", or None when the run did
    not check its data."""
    if report is None:
        return None
    if not report.failed:
        return "ok"
    return f"failed: {', '.join(failing_places(report))}"


def failed_share(report: QualityReport) -> float | None:
    """The share of the checks made that failed (None: none could be made)."""
    made = [finding for finding in report.findings if judged(finding)]
    if not made:
        return None
    return sum(finding.failed for finding in made) / len(made)


def failed_shares_by_check(report: QualityReport) -> dict[str, float]:
    """Per check made, the share of its findings (one per column it checks) that failed."""
    shares: dict[str, float] = {}
    for check in dict.fromkeys(finding.check for finding in report.findings):
        made = [f for f in report.findings if f.check == check and judged(f)]
        if made:
            shares[check] = sum(finding.failed for finding in made) / len(made)
    return shares


def quality_action(report: QualityReport) -> str:
    """What a failed report did to the window (data_quality.action), in one sentence."""
    if report.blocks:
        return "No retrain or promotion on this window (data_quality.action: block)."
    return "A warning only: the window was judged as usual (data_quality.action: warn)."
