"""A window's data quality in the monitor's artifact and the history's marker."""

from __future__ import annotations

import json
from dataclasses import replace

from tasks.render.history import HistoryView, render_monitoring_history
from tasks.render.quality import quality_marker, render_quality_markdown
from tests.quality_reports import broken_wind, healthy


def test_a_failed_report_says_the_data_is_broken_and_shows_the_failing_checks_first():
    text = render_quality_markdown(broken_wind())
    lines = text.splitlines()

    assert lines[0] == "## Data quality: FAILED"
    assert lines[2] == (
        "**The data looks broken, not the model**: 1 of 4 checks failed (missing), on wind. "
        "No retrain or promotion on this window (data_quality.action: block)."
    )
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| check | column | window | reference | tolerance | result |"
    # Only the failing check in the table, with its numbers and tolerance.
    assert table[2:] == ["| missing (share) | wind | 1 | 0.002 | 0.05 | FAIL |"]
    assert "- wind missing share 1.000 (reference 0.002 + 0.050)" in lines
    assert lines[-1] == "The other 3 checks passed."


def test_a_warning_says_the_window_was_judged_as_usual():
    warned = replace(broken_wind(), action="warn")
    assert (
        render_quality_markdown(warned)
        .splitlines()[2]
        .endswith(
            "on wind. A warning only: the window was judged as usual (data_quality.action: warn)."
        )
    )


def test_a_report_that_passed_is_two_lines():
    assert render_quality_markdown(healthy()) == (
        "## Data quality: ok\n\nAll 2 checks passed (missing, duplicates)."
    )


def test_the_history_marker():
    assert quality_marker(broken_wind()) == "FAIL"
    assert quality_marker(healthy()) == "ok"
    assert quality_marker(None) == "-"


def _history_row(day: str, details: dict, decision: str, status: str) -> dict:
    return {
        "as_of": f"2014-{day}T00:00:00",
        "champion": "v0001",
        "current_rows": 90,
        "labelled_rows": 89,
        "drift_share": 0.25,
        "drift_breach": 0,
        "performance": 0.61,
        "performance_breach": 0,
        "decision": decision,
        "status": status,
        "retrained": 0,
        "promoted": 0,
        "details": json.dumps(details),
    }


def test_history_show_marks_each_run_and_names_the_broken_window():
    rows = [
        _history_row("01-01", {"bootstrapped": False}, "none", "healthy"),
        _history_row("02-01", {"data_quality": healthy().to_dict()}, "none", "healthy"),
        _history_row(
            "03-01", {"data_quality": broken_wind().to_dict()}, "data-issue", "data-issue"
        ),
    ]

    text = render_monitoring_history(HistoryView("m", "f1 (macro)", 0.45, 0.5, rows))

    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("as of"))
    runs = [line for line in lines if line.startswith("2014-")]
    at = header.index("data")
    assert [line[at : at + 4].strip() for line in runs] == ["-", "ok", "FAIL"]
    assert runs[2].split()[-2:] == ["data-issue", "data-issue"]
    assert "data: the window's data-quality checks, ok or FAIL (- none recorded)" in lines
    failed = lines[lines.index("data quality failed:") + 1 :]
    assert failed == [
        "  2014-03-01 00:00  FAILED: 1 of 4 checks failed (missing), on wind: the data looks "
        "broken, not the model",
        "      wind missing share 1.000 (reference 0.002 + 0.050)",  # its numbers
    ]
