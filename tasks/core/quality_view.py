"""A data-quality report as people read it, the same on every surface (the HTML report's
header, the monitor's artifact, the fleet table, the monitoring history): its checks as rows of
words and numbers, failing checks first, and its verdict in one line. Pure text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tasks.core.numbers import format_number

BROKEN = "the data looks broken, not the model"
ROW_COLUMNS = ("check", "column", "value", "reference", "tolerance", "result")


class Finding(Protocol):
    """One check of one column (or of the whole window) and its numbers."""

    @property
    def check(self) -> str: ...
    @property
    def column(self) -> str | None: ...
    @property
    def value(self) -> Any: ...
    @property
    def reference(self) -> Any: ...
    @property
    def tolerance(self) -> Any: ...
    @property
    def failed(self) -> bool: ...
    @property
    def message(self) -> str: ...


class Report(Protocol):
    """A window's data-quality checks against the champion's reference."""

    @property
    def findings(self) -> Sequence[Finding]: ...
    @property
    def failed(self) -> bool: ...


def format_quality_value(value: Any) -> str:
    """A finding's number (or category list, or type) as a table cell: numbers through the one
    formatter, whole numbers with separators, a list as its first few items."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return format_number(value, "general")
    if isinstance(value, Mapping):
        return ", ".join(f"{key} {format_quality_value(item)}" for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        shown = ", ".join(str(item) for item in items[:5])
        return shown + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")
    return str(value)


def ordered_findings(report: Report) -> list[Finding]:
    """The report's findings, failing ones first, each group in the report's order."""
    findings = list(report.findings)
    return [f for f in findings if f.failed] + [f for f in findings if not f.failed]


def finding_row(finding: Finding) -> dict[str, str]:
    """One finding as a row of ROW_COLUMNS: what was checked, its number, the reference's, the
    tolerance, FAIL or ok."""
    return {
        "check": finding.check,
        "column": finding.column or "(all rows)",
        "value": format_quality_value(finding.value),
        "reference": format_quality_value(finding.reference),
        "tolerance": format_quality_value(finding.tolerance),
        "result": "FAIL" if finding.failed else "ok",
    }


def quality_rows(report: Report) -> list[dict[str, str]]:
    """Every finding as a row, failing checks first."""
    return [finding_row(finding) for finding in ordered_findings(report)]


def failing_columns(report: Report) -> list[str]:
    """The columns (or "(all rows)") with a failed check, in the report's order, once each."""
    columns: list[str] = []
    for finding in report.findings:
        name = finding.column or "(all rows)"
        if finding.failed and name not in columns:
            columns.append(name)
    return columns


def describe_failures(report: Report) -> str:
    """Which checks failed on which columns, in one clause: "1 of 4 checks failed (missing), on
    wind"."""
    findings = list(report.findings)
    failed = [finding for finding in findings if finding.failed]
    checks = ", ".join(dict.fromkeys(finding.check for finding in failed))
    return (
        f"{len(failed)} of {len(findings)} checks failed ({checks}), on "
        f"{', '.join(failing_columns(report))}"
    )


def quality_verdict(report: Report) -> str:
    """The report in one line: which checks failed on which columns and what that means, or
    that every check passed."""
    if not report.failed:
        return f"ok: all {len(list(report.findings))} checks passed"
    return f"FAILED: {describe_failures(report)}: {BROKEN}"


def quality_cell(report: Report | None) -> str:
    """A short cell for a table of runs or models: ok, failed: its columns, or empty when the
    run did not check its data."""
    if report is None:
        return ""
    if not report.failed:
        return "ok"
    return f"failed: {', '.join(failing_columns(report))}"


def check_names(report: Report) -> list[str]:
    """The report's checks, once each, in its order."""
    return list(dict.fromkeys(finding.check for finding in report.findings))


def failed_share(report: Report) -> float | None:
    """The share of the report's checks that failed (None: it made none)."""
    findings = list(report.findings)
    if not findings:
        return None
    return sum(finding.failed for finding in findings) / len(findings)


def failed_shares_by_check(report: Report) -> dict[str, float]:
    """Per check, the share of its findings (one per column it checks) that failed."""
    shares: dict[str, float] = {}
    for check in check_names(report):
        findings = [finding for finding in report.findings if finding.check == check]
        shares[check] = sum(finding.failed for finding in findings) / len(findings)
    return shares
