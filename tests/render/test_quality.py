"""A window's data quality in the monitor's artifact and the history's marker."""

from __future__ import annotations

from tasks.render.quality import quality_marker, render_quality_markdown
from tests.quality_reports import broken_wind, healthy


def test_a_failed_report_says_the_data_is_broken_and_shows_the_failing_checks_first():
    text = render_quality_markdown(broken_wind())
    lines = text.splitlines()

    assert lines[0] == "## Data quality: FAILED"
    assert lines[2] == (
        "**The data looks broken, not the model**: 1 of 4 checks failed (missing), on wind."
    )
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| check | column | value | reference | tolerance | result |"
    # Only the failing check in the table, with its numbers and tolerance.
    assert table[2:] == ["| missing | wind | 1 | 0.002 | 0.05 | FAIL |"]
    assert "- wind missing share 1.000 (reference 0.002 + 0.050)" in lines
    assert lines[-1] == "The other 3 checks passed."


def test_a_report_that_passed_is_two_lines():
    assert render_quality_markdown(healthy()) == (
        "## Data quality: ok\n\nAll 2 checks passed (missing, duplicates)."
    )


def test_the_history_marker():
    assert quality_marker(broken_wind()) == "FAIL"
    assert quality_marker(healthy()) == "ok"
    assert quality_marker(None) == "-"
