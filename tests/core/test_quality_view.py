"""A data-quality report in words and numbers, the same on every surface."""

from __future__ import annotations

import pytest

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
        "check": "missing",
        "column": "wind",
        "value": "1",
        "reference": "0.002",
        "tolerance": "0.05",
        "result": "FAIL",
    }
    assert [row["result"] for row in rows] == ["FAIL", "ok", "ok", "ok"]
    # The rest keep the report's order; a check of the whole window names no column.
    assert [(row["check"], row["column"]) for row in rows[1:]] == [
        ("missing", "temp_max"),
        ("range", "temp_max"),
        ("rows", "(all rows)"),
    ]
    assert rows[-1]["value"] == "90"


def test_the_verdict_names_the_failed_checks_columns_and_what_it_means():
    assert quality_verdict(broken_wind()) == (
        f"FAILED: 1 of 4 checks failed (missing), on wind: {BROKEN}"
    )
    assert describe_failures(broken_wind()) == "1 of 4 checks failed (missing), on wind"
    assert BROKEN == "the data looks broken, not the model"
    assert quality_verdict(healthy()) == "ok: all 2 checks passed"


def test_the_cell_of_a_table_of_runs():
    assert quality_cell(broken_wind()) == "failed: wind"
    assert quality_cell(healthy()) == "ok"
    assert quality_cell(None) == ""


def test_the_shares_the_dashboard_plots():
    assert failed_share(broken_wind()) == pytest.approx(0.25)
    assert failed_shares_by_check(broken_wind()) == pytest.approx(
        {"missing": 0.5, "range": 0.0, "rows": 0.0}
    )
    assert failed_share(healthy()) == 0.0


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "-"),
        (True, "yes"),
        (12345, "12,345"),
        (0.000012, "1.2e-05"),
        (["Sun", "Rain"], "Sun, Rain"),
        (list("abcdefg"), "a, b, c, d, e (+2 more)"),
        ("float64", "float64"),
    ],
)
def test_values_read_as_numbers_categories_or_types(value, shown):
    assert format_quality_value(value) == shown
