"""The data-quality checks on tiny frames: each check, its tolerance and per-column overrides."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tasks.config import DEFAULT_TOLERANCES, DataQualityConfig
from tasks.core.quality import (
    MAX_CATEGORIES,
    QualityFinding,
    QualityProfile,
    QualityReport,
    QualityRules,
    check_quality,
    profile_reference,
    quality_rules,
)

ROWS = 40


def _reference() -> pd.DataFrame:
    """40 rows: wind 0..39 (numeric), rain 0 on 21 days, city in three categories."""
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=ROWS, freq="D"),
            "wind": np.arange(ROWS, dtype=float),
            "rain": [0.0 if i % 2 else float(i) for i in range(ROWS)],
            "city": ["oslo", "rome", "lima", "oslo"] * (ROWS // 4),
        }
    )


def _profile(reference: pd.DataFrame | None = None) -> QualityProfile:
    return profile_reference(
        _reference() if reference is None else reference,
        numerical=["wind", "rain"],
        categorical=["city"],
        duplicate_columns=["timestamp", "wind", "rain", "city"],
    )


def _window(**columns: Any) -> pd.DataFrame:
    window = _reference()
    window["timestamp"] = pd.date_range("2024-03-01", periods=ROWS, freq="D")
    for name, values in columns.items():
        window[name] = values
    return window


def _finding(report: QualityReport, check: str, column: str | None) -> QualityFinding:
    matches = [f for f in report.findings if f.check == check and f.column == column]
    assert len(matches) == 1, report.findings
    return matches[0]


def _rules(**tolerances: float | None) -> QualityRules:
    """The default rules with some tolerances changed (via the config, as a run builds them)."""
    merged: dict[str, float | None] = {str(k): v for k, v in DEFAULT_TOLERANCES.items()}
    merged.update(tolerances)
    return quality_rules(DataQualityConfig.model_validate({"tolerances": merged}))


def test_a_window_like_its_reference_passes_every_check() -> None:
    report = check_quality(_profile(), _window(), _rules(), recent_row_counts=[ROWS] * 3)
    assert not report.failed
    assert report.failing_columns == []
    checks = {(f.check, f.column) for f in report.findings}
    assert ("range", "wind") in checks and ("categories", "city") in checks
    assert ("range", "city") not in checks and ("categories", "wind") not in checks
    assert ("duplicates", None) in checks and ("row_count", None) in checks
    assert report.summary().startswith("data quality ok: ")


def test_an_empty_column_fails_the_missing_check_with_its_numbers() -> None:
    report = check_quality(_profile(), _window(wind=np.nan), _rules())
    finding = _finding(report, "missing", "wind")
    assert finding.failed
    assert finding.value == pytest.approx(1.0)
    assert finding.reference == pytest.approx(0.0)
    assert finding.tolerance == pytest.approx(0.10)
    assert report.failing_columns == ["wind"]
    assert "wind missing share 1.000 (reference 0.000 + 0.100)" in report.summary()


@pytest.mark.parametrize(
    ("missing_rows", "tolerance", "failed"), [(4, 0.10, False), (5, 0.10, True), (5, 0.2, False)]
)
def test_the_missing_tolerance_is_the_rise_allowed_over_the_reference(
    missing_rows: int, tolerance: float, failed: bool
) -> None:
    wind = np.arange(ROWS, dtype=float)
    wind[:missing_rows] = np.nan
    report = check_quality(_profile(), _window(wind=wind), _rules(missing=tolerance))
    assert _finding(report, "missing", "wind").failed is failed


def test_the_missing_check_counts_from_the_reference_share() -> None:
    reference = _reference()
    reference.loc[:9, "wind"] = np.nan  # a quarter missing in the reference
    wind = np.arange(ROWS, dtype=float)
    wind[:13] = np.nan  # 0.325: within 0.25 + 0.10
    report = check_quality(_profile(reference), _window(wind=wind), _rules())
    finding = _finding(report, "missing", "wind")
    assert not finding.failed
    assert finding.reference == pytest.approx(0.25)


def test_a_unit_change_fails_the_range_check() -> None:
    report = check_quality(_profile(), _window(wind=np.arange(ROWS) * 1000.0), _rules())
    finding = _finding(report, "range", "wind")
    assert finding.failed
    assert finding.value == pytest.approx(39 / 40)  # all but the 0
    assert finding.reference == "0 to 39"
    assert "outside -39 to 78" in finding.message


@pytest.mark.parametrize(
    ("top", "margin", "failed"), [(58.0, 0.5, False), (59.0, 0.5, True), (59.0, 1.0, False)]
)
def test_the_range_margin_is_a_share_of_the_reference_span(
    top: float, margin: float, failed: bool
) -> None:
    wind = np.arange(ROWS, dtype=float)
    wind[-1] = top
    report = check_quality(_profile(), _window(wind=wind), _rules(range=margin))
    assert _finding(report, "range", "wind").failed is failed


def test_a_renamed_category_fails_the_categories_check() -> None:
    city = ["oslo", "roma", "lima", "oslo"] * (ROWS // 4)  # rome renamed
    report = check_quality(_profile(), _window(city=city), _rules())
    finding = _finding(report, "categories", "city")
    assert finding.failed
    assert finding.value == pytest.approx(0.25)
    assert "(roma)" in finding.message


def test_unseen_categories_within_the_tolerance_pass() -> None:
    city = ["oslo", "rome", "lima", "oslo"] * (ROWS // 4)
    city[0] = "bern"  # 1 of 40: 0.025
    report = check_quality(_profile(), _window(city=city), _rules())
    assert not _finding(report, "categories", "city").failed
    report = check_quality(_profile(), _window(city=city), _rules(categories=0.01))
    assert _finding(report, "categories", "city").failed


def test_categories_beyond_the_cap_count_from_the_share_left_out() -> None:
    rows = MAX_CATEGORIES + 200
    reference = pd.DataFrame({"code": [f"c{i}" for i in range(rows)]})
    profile = profile_reference(reference, [], ["code"], ["code"])
    column = profile.columns[0]
    assert len(column.categories) == MAX_CATEGORIES
    assert column.other_share == pytest.approx(200 / rows)
    kept = set(column.categories)
    left_out = [f"c{i}" for i in range(rows) if f"c{i}" not in kept]
    # A window with as many left-out categories as the reference had passes; more fails.
    window = pd.DataFrame({"code": [*sorted(kept)[:80], *left_out[:20]]})
    assert not _finding(check_quality(profile, window, _rules()), "categories", "code").failed
    window = pd.DataFrame({"code": [*sorted(kept)[:70], *left_out[:30]]})
    finding = _finding(check_quality(profile, window, _rules()), "categories", "code")
    assert finding.failed
    assert finding.value == pytest.approx(0.30)


def test_a_column_stuck_on_a_rare_value_fails_the_constant_check() -> None:
    report = check_quality(_profile(), _window(wind=7.0), _rules())
    finding = _finding(report, "constant", "wind")
    assert finding.failed
    assert finding.value == pytest.approx(1 / ROWS)
    assert "wind constant at 7.0" in finding.message


def test_a_column_constant_on_a_common_value_passes() -> None:
    # rain is 0 on half of the reference's rows: a dry window is weather, not a broken feed.
    report = check_quality(_profile(), _window(rain=0.0), _rules())
    finding = _finding(report, "constant", "rain")
    assert not finding.failed
    assert finding.value == pytest.approx(21 / ROWS)  # the odd days and day 0
    report = check_quality(_profile(), _window(rain=0.0), _rules(constant=0.6))
    assert _finding(report, "constant", "rain").failed


def test_a_changed_type_fails_the_dtype_check() -> None:
    wind = [str(value) for value in range(ROWS)]  # numbers delivered as text
    report = check_quality(_profile(), _window(wind=wind), _rules())
    finding = _finding(report, "dtype", "wind")
    assert finding.failed
    assert (finding.value, finding.reference) == ("text", "numeric")


def test_a_missing_column_fails_the_dtype_check() -> None:
    window = _window().drop(columns=["wind"])
    report = check_quality(_profile(), window, _rules())
    assert _finding(report, "dtype", "wind").failed
    assert report.failing_columns == ["wind"]


def test_integers_where_the_reference_had_floats_keep_the_type() -> None:
    report = check_quality(_profile(), _window(wind=np.arange(ROWS)), _rules())
    assert not _finding(report, "dtype", "wind").failed


def test_duplicated_rows_fail_the_duplicates_check() -> None:
    window = _window()
    doubled = pd.concat([window, window.head(10)], ignore_index=True)  # a join doubling rows
    report = check_quality(_profile(), doubled, _rules())
    finding = _finding(report, "duplicates", None)
    assert finding.failed
    assert finding.value == pytest.approx(10 / 50)
    assert "duplicated rows 0.200" in report.summary()
    assert not check_quality(_profile(), doubled, _rules(duplicates=0.25)).failed


@pytest.mark.parametrize(
    ("recent", "failed"),
    [([40, 42, 38], False), ([80, 80, 82], True), ([20, 19, 21], True), ([40, 40], False)],
)
def test_the_row_count_is_judged_against_the_recent_windows(
    recent: list[int], failed: bool
) -> None:
    report = check_quality(_profile(), _window(), _rules(), recent_row_counts=recent)
    finding = _finding(report, "row_count", None)
    assert finding.failed is failed
    if len(recent) < 3:
        assert finding.value is None and "not judged" in finding.message


def test_share_checks_wait_for_enough_rows() -> None:
    window = _window(wind=np.nan).head(5)
    report = check_quality(_profile(), window, _rules())
    finding = _finding(report, "missing", "wind")
    assert not finding.failed
    assert "not judged, 5 rows < 30" in finding.message


def test_a_per_column_override_changes_one_column_only() -> None:
    window = _window(wind=np.arange(ROWS) * 10.0, rain=np.arange(ROWS) * 10.0)
    rules = quality_rules(DataQualityConfig(columns={"wind": {"range": 20.0}}))
    report = check_quality(_profile(), window, rules)
    assert not _finding(report, "range", "wind").failed
    assert _finding(report, "range", "rain").failed
    assert report.failing_columns == ["rain"]


def test_a_check_switched_off_for_a_column_reports_nothing_of_it() -> None:
    rules = quality_rules(DataQualityConfig(columns={"wind": {"missing": None}}))
    report = check_quality(_profile(), _window(wind=np.nan), rules)
    assert not [f for f in report.findings if f.check == "missing" and f.column == "wind"]
    assert not report.failed


def test_a_check_switched_off_everywhere() -> None:
    rules = _rules(range=None)
    report = check_quality(_profile(), _window(wind=np.arange(ROWS) * 1000.0), rules)
    assert not report.failed
    assert not [f for f in report.findings if f.check == "range"]


def test_the_summary_names_every_failing_column_and_number() -> None:
    city = ["oslo", "roma", "lima", "oslo"] * (ROWS // 4)
    report = check_quality(_profile(), _window(wind=np.nan, city=city), _rules())
    assert report.failing_columns == ["wind", "city"]
    summary = report.summary()
    assert summary.startswith("data quality failed in wind, city: wind missing share 1.000")
    assert "wind missing share 1.000" in summary and "city unseen categories 0.250" in summary


def test_profile_and_report_round_trip_through_json() -> None:
    profile = _profile()
    assert QualityProfile.from_dict(json.loads(json.dumps(profile.to_dict()))) == profile
    report = check_quality(profile, _window(wind=np.nan), _rules(), [40, 40, 40], notes=["n"])
    again = QualityReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report
    assert again.failed and again.notes == ("n",)


def test_the_profile_keeps_what_the_checks_need() -> None:
    profile = _profile()
    wind = profile.column("wind")
    city = profile.column("city")
    assert wind is not None and city is not None
    assert (wind.kind, wind.dtype, wind.minimum, wind.maximum) == ("numeric", "numeric", 0, 39)
    assert (city.kind, city.dtype, city.categories) == (
        "categorical",
        "text",
        ("lima", "oslo", "rome"),
    )
    assert profile.rows == ROWS and profile.duplicate_share == 0
    assert not wind.constant and wind.distinct == ROWS


def test_a_value_carried_forward_as_long_as_in_the_reference_is_not_stuck() -> None:
    # A poll: each value held for 8 days in the reference; a window holding one for 40 passes
    # (5 times the longest run), one holding it for 41 days fails.
    reference = pd.DataFrame({"poll": np.repeat(np.arange(40.0, 55.0), 8)})
    profile = profile_reference(reference, ["poll"], [], ["poll"])
    column = profile.column("poll")
    assert column is not None and column.longest_run == 8
    held = check_quality(profile, pd.DataFrame({"poll": [47.0] * 40}), _rules())
    assert not _finding(held, "constant", "poll").failed
    stuck = check_quality(profile, pd.DataFrame({"poll": [47.0] * 41}), _rules())
    assert _finding(stuck, "constant", "poll").failed
    assert "up to 40 values: 5 times the reference's longest run" in stuck.summary()


def test_the_range_margin_follows_the_magnitude_of_a_narrow_reference() -> None:
    # Approval between 38 and 44 in the reference: 34 a month later is a moving quantity, 440
    # (a unit change) is not.
    reference = pd.DataFrame({"approval": np.linspace(38.0, 44.0, 60)})
    profile = profile_reference(reference, ["approval"], [], ["approval"])
    window = pd.DataFrame({"approval": np.linspace(34.0, 40.0, 60)})
    assert not _finding(check_quality(profile, window, _rules()), "range", "approval").failed
    report = check_quality(profile, window * 10, _rules())
    finding = _finding(report, "range", "approval")
    assert finding.failed
    assert "of its scale 44)" in finding.message


def test_the_summary_counts_only_the_checks_made() -> None:
    # 14 checks: dtype, missing, range or categories, constant of 3 columns; duplicates, rows.
    # With no recent windows on record the row count cannot be judged.
    report = check_quality(_profile(), _window(), _rules())
    assert not report.failed and len(report.findings) == 14
    assert report.summary() == (
        "data quality ok: 13 checks passed on 40 rows, 1 not judged (row_count)"
    )
    # Ten rows: the share checks (missing, categories, constant, duplicates) are not judged.
    short = check_quality(_profile(), _window().head(10), _rules(), recent_row_counts=[10] * 3)
    assert short.summary() == (
        "data quality ok: 6 checks passed on 10 rows, "
        "8 not judged (missing, constant, categories, duplicates)"
    )
    every = check_quality(_profile(), _window(), _rules(), recent_row_counts=[ROWS] * 3)
    assert every.summary() == "data quality ok: 14 checks passed on 40 rows"


@pytest.mark.parametrize("dtype", [object, "str", "category"], ids=["object", "str", "category"])
def test_unseen_categories_with_missing_values_whatever_the_text_type(dtype: Any) -> None:
    """Counted once per distinct value (text) or value by value: the same share and message."""
    city = ["oslo", "roma", None, "oslo"] * (ROWS // 4)  # 10 missing, 10 of 30 present unseen
    city[1] = "bern"
    report = check_quality(_profile(), _window(city=pd.Series(city, dtype=dtype)), _rules())
    finding = _finding(report, "categories", "city")
    assert finding.value == pytest.approx(10 / 30)
    assert finding.failed
    assert "(bern, roma)" in finding.message


def test_unseen_categories_among_values_that_are_not_text() -> None:
    """1 and 1.0 are one value to pandas but '1' and '1.0' as text: counted value by value."""
    reference = pd.DataFrame({"code": ["1", "2"] * 20})
    profile = profile_reference(reference, [], ["code"], ["code"])
    window = pd.DataFrame({"code": pd.Series([1, 1.0, "2", None] * 10, dtype=object)})
    finding = _finding(check_quality(profile, window, _rules()), "categories", "code")
    assert finding.value == pytest.approx(10 / 30)
    assert "(1.0)" in finding.message
