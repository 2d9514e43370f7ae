"""The checks of a window against the reference's profile, one finding per check and column."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

import pandas as pd

from tasks.config import CheckName
from tasks.core.duplicates import count_distinct, text_counts
from tasks.core.numbers import format_number
from tasks.core.quality._profile import (
    ColumnProfile,
    QualityProfile,
    _json_value,
    duplicate_share,
    type_family,
)
from tasks.core.quality._report import QualityFinding, QualityReport
from tasks.core.quality._rules import QualityRules

# A constant window of at most this many times the reference's longest run of one value is
# how the column moves (a poll carried forward between polls), not a stuck feed.
CONSTANT_RUN_FACTOR = 5


def _share(value: float) -> str:
    return format_number(value, "score")


def _number(value: float) -> str:
    return format_number(value, "general")


def _finding(
    check: CheckName,
    column: str | None,
    value: float | str | None,
    reference: float | str | None,
    tolerance: float | None,
    failed: bool,
    message: str,
) -> QualityFinding:
    return QualityFinding(check, column, value, reference, tolerance, failed, message)


def _not_judged(
    check: CheckName, column: str | None, tolerance: float | None, why: str
) -> QualityFinding:
    name = column or "window"
    return _finding(
        check, column, None, None, tolerance, False, f"{name} {check}: not judged, {why}"
    )


def _check_missing(
    profile: ColumnProfile, values: pd.Series, tolerance: float, rows: int, min_rows: int
) -> QualityFinding:
    if rows < min_rows:
        return _not_judged("missing", profile.name, tolerance, f"{rows} rows < {min_rows}")
    share = float(values.isna().mean())
    failed = share > profile.missing_share + tolerance
    return _finding(
        "missing",
        profile.name,
        share,
        profile.missing_share,
        tolerance,
        failed,
        f"{profile.name} missing share {_share(share)} (reference {_share(profile.missing_share)}"
        f" + {_share(tolerance)})",
    )


def _check_range(profile: ColumnProfile, values: pd.Series, tolerance: float) -> QualityFinding:
    scale = profile.scale
    present = pd.to_numeric(values.dropna(), errors="coerce").dropna()
    if scale is None or profile.minimum is None or profile.maximum is None:
        return _not_judged("range", profile.name, tolerance, "the reference has no values")
    if not len(present):
        return _not_judged("range", profile.name, tolerance, "no numeric values in the window")
    low = profile.minimum - tolerance * scale
    high = profile.maximum + tolerance * scale
    outside = (present < low) | (present > high)
    share = float(outside.mean())
    failed = bool(outside.any())
    window_range = f"{_number(float(present.min()))} to {_number(float(present.max()))}"
    return _finding(
        "range",
        profile.name,
        share,
        f"{_number(profile.minimum)} to {_number(profile.maximum)}",
        tolerance,
        failed,
        f"{profile.name} range {window_range}, {_share(share)} of values outside "
        f"{_number(low)} to {_number(high)} (reference {_number(profile.minimum)} to "
        f"{_number(profile.maximum)} + {_share(tolerance)} of its scale {_number(scale)})",
    )


def _check_categories(
    profile: ColumnProfile, values: pd.Series, tolerance: float, rows: int, min_rows: int
) -> QualityFinding:
    if rows < min_rows:
        return _not_judged("categories", profile.name, tolerance, f"{rows} rows < {min_rows}")
    known = set(profile.categories)
    counted = text_counts(values)  # text: each distinct value looked up once
    if counted is not None:
        distinct, counts = counted
        present_count = int(counts.sum())
        unseen = sorted(value for value in distinct if value not in known)
        unseen_count = sum(
            int(n) for value, n in zip(distinct, counts, strict=True) if value not in known
        )
    else:
        present = values.dropna().astype(str)
        unseen_mask = ~present.isin(known)
        present_count, unseen_count = len(present), int(unseen_mask.sum())
        unseen = sorted(set(present[unseen_mask]))
    if not present_count:
        return _not_judged("categories", profile.name, tolerance, "no values in the window")
    share = unseen_count / present_count
    failed = share > profile.other_share + tolerance
    shown = ", ".join(unseen[:5]) + (f" and {len(unseen) - 5} more" if len(unseen) > 5 else "")
    return _finding(
        "categories",
        profile.name,
        share,
        profile.other_share,
        tolerance,
        failed,
        f"{profile.name} unseen categories {_share(share)} of values"
        + (f" ({shown})" if unseen else "")
        + f" (reference {_share(profile.other_share)} + {_share(tolerance)})",
    )


def _check_constant(
    profile: ColumnProfile, values: pd.Series, tolerance: float, min_rows: int
) -> QualityFinding:
    counted = int(values.notna().sum())
    if counted < min_rows:
        return _not_judged("constant", profile.name, tolerance, f"{counted} values < {min_rows}")
    # The column itself, not a copy without its missing values: its sort is then the one the
    # drift tests reuse (tasks/core/sorted_numbers.py); count_distinct leaves missing ones out.
    distinct = count_distinct(values)
    if distinct > 1:
        return _finding(
            "constant",
            profile.name,
            float(distinct),
            float(profile.distinct),
            tolerance,
            False,
            f"{profile.name} {distinct} distinct values",
        )
    present = values.dropna()
    value = present.iloc[0]
    share = profile.value_share(value)
    longest = CONSTANT_RUN_FACTOR * profile.longest_run
    usual = len(present) <= longest
    failed = share < tolerance and not usual
    return _finding(
        "constant",
        profile.name,
        share,
        float(profile.distinct),
        tolerance,
        failed,
        f"{profile.name} constant at {_json_value(value)} on {len(present)} values, a value with "
        f"share {_share(share)} in the reference (constant allowed from {_share(tolerance)}, or "
        f"up to {longest} values: {CONSTANT_RUN_FACTOR} times the reference's longest run)",
    )


def _check_dtype(profile: ColumnProfile, window: pd.DataFrame, tolerance: float) -> QualityFinding:
    if profile.name not in window.columns:
        return _finding(
            "dtype",
            profile.name,
            "missing",
            profile.dtype,
            tolerance,
            True,
            f"{profile.name} type: the column is missing (reference {profile.dtype})",
        )
    values = window[profile.name]
    family = type_family(values.dtype)
    if values.isna().all():
        # An all-missing column has no type to judge: the missing check reports it.
        return _not_judged("dtype", profile.name, tolerance, "every value is missing")
    failed = family != profile.dtype
    return _finding(
        "dtype",
        profile.name,
        family,
        profile.dtype,
        tolerance,
        failed,
        f"{profile.name} type {family} (reference {profile.dtype})",
    )


def _check_duplicates(
    profile: QualityProfile, window: pd.DataFrame, tolerance: float, min_rows: int
) -> QualityFinding:
    rows = len(window)
    if rows < min_rows:
        return _not_judged("duplicates", None, tolerance, f"{rows} rows < {min_rows}")
    share = duplicate_share(window, profile.duplicate_columns)
    failed = share > profile.duplicate_share + tolerance
    return _finding(
        "duplicates",
        None,
        share,
        profile.duplicate_share,
        tolerance,
        failed,
        f"duplicated rows {_share(share)} (reference {_share(profile.duplicate_share)} + "
        f"{_share(tolerance)})",
    )


def _check_row_count(
    rows: int, recent_row_counts: Sequence[int], tolerance: float, min_recent: int
) -> QualityFinding:
    counts = [count for count in recent_row_counts if count > 0]
    if len(counts) < min_recent:
        return _not_judged(
            "row_count",
            None,
            tolerance,
            f"{len(counts)} recent window{'s' if len(counts) != 1 else ''} on record < {min_recent}",
        )
    typical = float(median(counts))
    ratio = rows / typical
    failed = ratio > 1 + tolerance or ratio < 1 / (1 + tolerance)
    return _finding(
        "row_count",
        None,
        float(rows),
        typical,
        tolerance,
        failed,
        f"rows {rows:,}, {_number(ratio)}x the median {_number(typical)} of the last "
        f"{len(counts)} windows (allowed {_number(1 / (1 + tolerance))}x to "
        f"{_number(1 + tolerance)}x)",
    )


def check_quality(
    profile: QualityProfile,
    window: pd.DataFrame,
    rules: QualityRules,
    recent_row_counts: Sequence[int] = (),
    *,
    notes: Sequence[str] = (),
) -> QualityReport:
    """Check window against the reference's profile under rules.

    recent_row_counts: the rows of the recent windows (the monitoring history), for the row
    count check; notes: what the report should say of how the profile came to be.
    """
    rows = len(window)
    findings: list[QualityFinding] = []
    for column in profile.columns:
        dtype_tolerance = rules.tolerance("dtype", column.name)
        if dtype_tolerance is not None:
            findings.append(_check_dtype(column, window, dtype_tolerance))
        if column.name not in window.columns:
            continue
        values = window[column.name]
        tolerance = rules.tolerance("missing", column.name)
        if tolerance is not None:
            findings.append(_check_missing(column, values, tolerance, rows, rules.min_rows))
        tolerance = rules.tolerance("range", column.name)
        if tolerance is not None and column.kind == "numeric":
            findings.append(_check_range(column, values, tolerance))
        tolerance = rules.tolerance("categories", column.name)
        if tolerance is not None and column.kind == "categorical":
            findings.append(_check_categories(column, values, tolerance, rows, rules.min_rows))
        tolerance = rules.tolerance("constant", column.name)
        if tolerance is not None:
            findings.append(_check_constant(column, values, tolerance, rules.min_rows))
    tolerance = rules.tolerance("duplicates")
    if tolerance is not None:
        findings.append(_check_duplicates(profile, window, tolerance, rules.min_rows))
    tolerance = rules.tolerance("row_count")
    if tolerance is not None:
        findings.append(
            _check_row_count(rows, recent_row_counts, tolerance, rules.min_recent_windows)
        )
    return QualityReport(
        rows=rows, findings=tuple(findings), notes=tuple(notes), action=rules.action
    )
