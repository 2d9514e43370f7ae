"""A data-quality report in words and numbers, the same on every surface."""

from __future__ import annotations

import pytest

from tasks.core.quality import QualityFinding, QualityReport
from tasks.core.quality_view import (
    BROKEN,
    describe_failures,
    failed_share,
    failed_shares_by_check,
    format_quality_value,
    quality_cell,
    quality_rows,
    quality_verdict,
)
from tests.quality_reports import broken_wind, healthy


def test_failing_checks_come_first_with_their_numbers_and_tolerance():
    rows = quality_rows(broken_wind())

    assert rows[0] == {
        "check": "missing (share)",
        "column": "wind",
        "window": "1",
        "reference": "0.002",
        "tolerance": "0.05",
        "result": "FAIL",
    }
    # The rest keep the report's order; a check of the whole window names no column, and one
    # that could not be made says so rather than ok.
    assert [(row["check"], row["column"], row["result"]) for row in rows[1:]] == [
        ("missing (share)", "temp_max", "ok"),
        ("range (share outside)", "temp_max", "ok"),
        ("duplicates (share of rows)", "(window)", "ok"),
        ("row_count (rows)", "(window)", "not judged"),
    ]
    assert rows[2]["reference"] == "-1.6 to 35.6"
    assert rows[-1]["window"] == "-"


def test_the_verdict_names_the_failed_checks_where_and_what_it_means():
    assert describe_failures(broken_wind()) == "1 of 4 checks failed (missing), on wind"
    assert quality_verdict(broken_wind()) == (
        "FAILED: 1 of 4 checks failed (missing), on wind: the data looks broken, not the model"
    )
    assert BROKEN == "the data looks broken, not the model"
    assert quality_verdict(healthy()) == "ok: all 2 checks passed"


def test_a_failed_check_of_the_whole_window_is_named_as_the_window():
    doubled = QualityReport(
        rows=180,
        findings=(
            QualityFinding("duplicates", None, 0.5, 0.0, 0.01, True, "duplicated rows 0.500"),
            QualityFinding("missing", "wind", 0.6, 0.0, 0.05, True, "wind missing share 0.6"),
        ),
    )
    assert (
        describe_failures(doubled)
        == "2 of 2 checks failed (duplicates, missing), on (window), wind"
    )
    assert quality_cell(doubled) == "failed: (window), wind"


def test_the_cell_of_a_table_of_models():
    assert quality_cell(broken_wind()) == "failed: wind"
    assert quality_cell(healthy()) == "ok"
    assert quality_cell(None) is None


def test_the_shares_the_dashboard_plots_count_the_checks_made():
    assert failed_share(broken_wind()) == pytest.approx(0.25)  # 1 of 4 made
    assert failed_shares_by_check(broken_wind()) == pytest.approx(
        {"missing": 0.5, "range": 0.0, "duplicates": 0.0}
    )
    assert failed_share(healthy()) == 0.0
    assert failed_share(QualityReport(rows=0, findings=())) is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "-"),
        (90.0, "90"),
        (0.000012, "1.2e-05"),
        ("numeric", "numeric"),
        ("-1.6 to 35.6", "-1.6 to 35.6"),
    ],
)
def test_values_read_as_numbers_types_or_ranges(value, shown):
    assert format_quality_value(value) == shown
