"""Is the window's data broken? Checks of a window against the numbers of the champion's reference.

A `QualityProfile` holds what the checks need of the reference (kept with a version as
`quality.json`); `check_quality` compares a window with it under `QualityRules` and returns a
`QualityReport` of one `QualityFinding` per check and column. Pure: no I/O, no Prefect.

The checks (each default tolerance is in `DEFAULT_TOLERANCES` of tasks/config/_quality.py, the
one place the defaults live):

- `missing`: the column's share of missing values may exceed the reference's by the tolerance;
- `range` (numeric): values beyond the reference's min and max by more than the tolerance times
  the reference's scale (the larger of its span, max - min, and its largest absolute value: a
  unit change multiplies, and a narrow reference span is no bar for a moving quantity) fail;
- `categories` (categorical): the share of values the reference never had may exceed the
  reference's own share outside its kept categories by the tolerance;
- `constant`: a column with one value on the whole window fails when that value had a share
  below the tolerance in the reference (a feed stuck on a value, not a dry month of rain), and
  the window holds more values than CONSTANT_RUN_FACTOR times the longest run of one value in
  the reference (a value carried forward for weeks, as a poll is, is how that column moves);
- `dtype`: the column's type family (numeric, boolean, text, datetime) must be the reference's
  (the tolerance is 0; null switches it off like any check);
- `duplicates` (the window): the share of duplicated rows may exceed the reference's by the
  tolerance;
- `row_count` (the window): its rows may differ from the median of the recent windows by the
  factor 1 + tolerance either way (a feed that stopped or doubled).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Literal, cast

import pandas as pd

from tasks.config import (
    CHECKS,
    COLUMN_CHECKS,
    DEFAULT_MIN_RECENT_WINDOWS,
    DEFAULT_MIN_ROWS,
    DEFAULT_TOLERANCES,
    WINDOW_CHECKS,
    CheckName,
    DataQualityConfig,
)
from tasks.core.duplicates import count_distinct, count_duplicates, text_counts
from tasks.core.numbers import format_number
from tasks.core.reasons import Reason, ReasonCode

__all__ = [
    "CHECKS",
    "COLUMN_CHECKS",
    "DEFAULT_TOLERANCES",
    "WINDOW_CHECKS",
    "CheckName",
    "ColumnProfile",
    "QualityFinding",
    "QualityProfile",
    "QualityReport",
    "QualityRules",
    "check_quality",
    "profile_reference",
    "quality_reason",
    "quality_rules",
]

ColumnKind = Literal["numeric", "categorical"]

# A categorical column keeps its most frequent categories up to this many; the share of the
# reference outside them is kept too, so the check stays exact on what was kept.
MAX_CATEGORIES = 1000
# A constant window of at most this many times the reference's longest run of one value is
# how the column moves (a poll carried forward between polls), not a stuck feed.
CONSTANT_RUN_FACTOR = 5
# The most frequent values of a column kept for the constant check, with their shares.
MAX_TOP_VALUES = 20

JsonValue = str | int | float | bool


def type_family(dtype: Any) -> str:
    """The family of a pandas dtype the dtype check compares: numeric, boolean, text, datetime."""
    if isinstance(dtype, pd.CategoricalDtype):
        return type_family(dtype.categories.dtype)
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "datetime"
    return "text"


def _json_value(value: Any) -> JsonValue:
    """A scalar of a frame as a JSON value (numpy scalars to Python, anything else to str)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def _finite_or_none(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class ColumnProfile:
    """What the checks need of one feature column of the reference."""

    name: str
    kind: ColumnKind
    dtype: str  # the type family: numeric, boolean, text, datetime
    missing_share: float
    minimum: float | None = None  # numeric columns; None when every value is missing
    maximum: float | None = None
    # Categorical columns: the categories seen (as text), the most frequent MAX_CATEGORIES, and
    # the reference's share of values outside them (0 when every category was kept).
    categories: tuple[str, ...] = ()
    other_share: float = 0.0
    # The most frequent values with their shares of the non-missing values (MAX_TOP_VALUES).
    top_values: tuple[tuple[JsonValue, float], ...] = ()
    distinct: int = 0
    constant: bool = False
    # The longest run of one value among consecutive non-missing values of the reference.
    longest_run: int = 0

    @property
    def span(self) -> float | None:
        if self.minimum is None or self.maximum is None:
            return None
        return self.maximum - self.minimum

    @property
    def scale(self) -> float | None:
        """What the range margin is a share of: the larger of the span and the largest absolute
        value of the reference."""
        if self.minimum is None or self.maximum is None:
            return None
        return max(self.maximum - self.minimum, abs(self.minimum), abs(self.maximum))

    def value_share(self, value: Any) -> float:
        """The reference's share of value among its non-missing values (an upper bound when it
        is not among the kept top values: the smallest kept share)."""
        wanted = _json_value(value)
        for kept, share in self.top_values:
            if kept == wanted or str(kept) == str(wanted):
                return share
        if len(self.top_values) >= self.distinct:
            return 0.0
        return min((share for _, share in self.top_values), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "dtype": self.dtype,
            "missing_share": self.missing_share,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "categories": list(self.categories),
            "other_share": self.other_share,
            "top_values": [[value, share] for value, share in self.top_values],
            "distinct": self.distinct,
            "constant": self.constant,
            "longest_run": self.longest_run,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProfile:
        return cls(
            name=data["name"],
            kind=data["kind"],
            dtype=data["dtype"],
            missing_share=float(data["missing_share"]),
            minimum=data.get("minimum"),
            maximum=data.get("maximum"),
            categories=tuple(data.get("categories", ())),
            other_share=float(data.get("other_share", 0.0)),
            top_values=tuple((value, float(share)) for value, share in data.get("top_values", ())),
            distinct=int(data.get("distinct", 0)),
            constant=bool(data.get("constant", False)),
            longest_run=int(data.get("longest_run", 0)),
        )


@dataclass(frozen=True)
class QualityProfile:
    """The numbers of the reference the data-quality checks compare a window with."""

    rows: int
    columns: tuple[ColumnProfile, ...]
    duplicate_share: float
    duplicate_columns: tuple[str, ...]  # the columns a duplicated row repeats
    version: int = 1

    def column(self, name: str) -> ColumnProfile | None:
        return next((column for column in self.columns if column.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "rows": self.rows,
            "duplicate_share": self.duplicate_share,
            "duplicate_columns": list(self.duplicate_columns),
            "columns": [column.to_dict() for column in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityProfile:
        return cls(
            rows=int(data["rows"]),
            columns=tuple(ColumnProfile.from_dict(column) for column in data["columns"]),
            duplicate_share=float(data["duplicate_share"]),
            duplicate_columns=tuple(data["duplicate_columns"]),
            version=int(data.get("version", 1)),
        )


def _top_values(values: pd.Series) -> tuple[tuple[JsonValue, float], ...]:
    counts = values.value_counts(dropna=True)
    total = int(counts.sum())
    if total == 0:
        return ()
    return tuple(
        (_json_value(value), int(count) / total)
        for value, count in counts.head(MAX_TOP_VALUES).items()
    )


def profile_column(values: pd.Series, kind: ColumnKind) -> ColumnProfile:
    """The profile of one reference column."""
    rows = len(values)
    present = values.dropna()
    distinct = int(present.nunique())
    minimum = maximum = None
    categories: tuple[str, ...] = ()
    other_share = 0.0
    if kind == "numeric" and len(present) and pd.api.types.is_numeric_dtype(present.dtype):
        minimum = _finite_or_none(present.min())
        maximum = _finite_or_none(present.max())
    if kind == "categorical" and len(present):
        counts = present.astype(str).value_counts()
        kept = counts.head(MAX_CATEGORIES)
        categories = tuple(sorted(str(category) for category in kept.index))
        other_share = 1.0 - int(kept.sum()) / len(present)
    return ColumnProfile(
        name=str(values.name),
        kind=kind,
        dtype=type_family(values.dtype),
        missing_share=(rows - len(present)) / rows if rows else 0.0,
        minimum=minimum,
        maximum=maximum,
        categories=categories,
        other_share=other_share,
        top_values=_top_values(present),
        distinct=distinct,
        constant=distinct <= 1,
        longest_run=_longest_run(present),
    )


def _longest_run(values: pd.Series) -> int:
    """The longest run of one value among consecutive values (in the frame's order)."""
    if not len(values):
        return 0
    runs = (values != values.shift()).cumsum()
    return int(runs.value_counts().max())


def duplicate_share(frame: pd.DataFrame, columns: Sequence[str]) -> float:
    """The share of rows that repeat an earlier row on columns (0 for an empty frame)."""
    present = [column for column in columns if column in frame.columns]
    if not len(frame) or not present:
        return 0.0
    return count_duplicates(frame, present) / len(frame)


def profile_reference(
    reference: pd.DataFrame,
    numerical: Sequence[str],
    categorical: Sequence[str],
    duplicate_columns: Sequence[str],
) -> QualityProfile:
    """The quality profile of a reference frame: its feature columns and its duplicated rows.

    duplicate_columns: the columns a duplicated row repeats (the timestamp and the features:
    a join that doubles rows or a day delivered twice repeats them all).
    """
    columns = [profile_column(reference[name], "numeric") for name in numerical]
    columns += [profile_column(reference[name], "categorical") for name in categorical]
    return QualityProfile(
        rows=len(reference),
        columns=tuple(columns),
        duplicate_share=duplicate_share(reference, duplicate_columns),
        duplicate_columns=tuple(duplicate_columns),
    )


@dataclass(frozen=True)
class QualityRules:
    """What fails a check: the tolerance of each check, per column where the config overrides it.

    A tolerance of None switches that check off (for the window, or for one column).
    """

    tolerances: Mapping[CheckName, float | None] = field(
        default_factory=lambda: dict(DEFAULT_TOLERANCES)
    )
    columns: Mapping[str, Mapping[CheckName, float | None]] = field(default_factory=dict)
    min_rows: int = DEFAULT_MIN_ROWS
    min_recent_windows: int = DEFAULT_MIN_RECENT_WINDOWS
    action: Literal["block", "warn"] = "block"

    def tolerance(self, check: CheckName, column: str | None = None) -> float | None:
        """The tolerance of check (for column when given); None: the check is off."""
        if column is not None and check in self.columns.get(column, {}):
            return self.columns[column][check]
        return self.tolerances.get(check, DEFAULT_TOLERANCES[check])


def quality_rules(config: DataQualityConfig) -> QualityRules:
    """The rules of the data_quality section of the config."""
    return QualityRules(
        tolerances=config.tolerances.as_mapping(),
        columns={
            column: {cast(CheckName, check): tolerance for check, tolerance in checks.items()}
            for column, checks in config.columns.items()
        },
        min_rows=config.min_rows,
        min_recent_windows=config.min_recent_windows,
        action=config.action,
    )


@dataclass(frozen=True)
class QualityFinding:
    """One check of one column (None: of the whole window), with its numbers."""

    check: CheckName
    column: str | None
    value: float | str | None  # what the window shows (a type family for dtype)
    reference: float | str | None  # what the reference (or the recent windows) showed
    tolerance: float | None
    failed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "column": self.column,
            "value": self.value,
            "reference": self.reference,
            "tolerance": self.tolerance,
            "failed": self.failed,
            "message": self.message,
        }

    @property
    def judged(self) -> bool:
        """Whether the check was made: one that could not be (too few rows, no recent windows)
        has no value and did not fail."""
        return self.failed or self.value is not None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityFinding:
        return cls(
            check=data["check"],
            column=data.get("column"),
            value=data.get("value"),
            reference=data.get("reference"),
            tolerance=data.get("tolerance"),
            failed=bool(data["failed"]),
            message=data["message"],
        )


@dataclass(frozen=True)
class QualityReport:
    """Every data-quality finding of one window; failed when any check failed."""

    rows: int
    findings: tuple[QualityFinding, ...]
    notes: tuple[str, ...] = ()
    # What a failure does (data_quality.action): block the window's retrain and promotion, or
    # warn only.
    action: Literal["block", "warn"] = "block"

    @property
    def failed(self) -> bool:
        return any(finding.failed for finding in self.findings)

    @property
    def blocks(self) -> bool:
        """Whether a check failed and data_quality.action is block."""
        return self.failed and self.action == "block"

    @property
    def failures(self) -> list[QualityFinding]:
        return [finding for finding in self.findings if finding.failed]

    @property
    def failing_columns(self) -> list[str]:
        """The columns with a failed check, in the profile's order, each once."""
        columns: list[str] = []
        for finding in self.failures:
            if finding.column is not None and finding.column not in columns:
                columns.append(finding.column)
        return columns

    def summary(self) -> str:
        """One line: the failing columns and checks with their numbers, or that all passed."""
        failures = self.failures
        if not failures:
            passed = sum(1 for finding in self.findings if finding.judged)
            unjudged = [finding.check for finding in self.findings if not finding.judged]
            line = f"data quality ok: {passed} checks passed on {self.rows:,} rows"
            if unjudged:
                line += f", {len(unjudged)} not judged ({', '.join(dict.fromkeys(unjudged))})"
            return line
        columns = self.failing_columns
        where = f" in {', '.join(columns)}" if columns else ""
        return f"data quality failed{where}: {'; '.join(f.message for f in failures)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "failed": self.failed,
            "failing_columns": self.failing_columns,
            "findings": [finding.to_dict() for finding in self.findings],
            "notes": list(self.notes),
            "action": self.action,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityReport:
        return cls(
            rows=int(data["rows"]),
            findings=tuple(QualityFinding.from_dict(finding) for finding in data["findings"]),
            notes=tuple(data.get("notes", ())),
            action=data.get("action", "block"),
        )


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


def quality_reason(report: QualityReport, code: ReasonCode | None = None) -> Reason:
    """The reason a failed report gives: the failing columns and checks with their numbers.

    code: the reason's code; by default data-quality-failed when the report blocks, else
    data-quality-warning.
    """
    if code is None:
        code = ReasonCode.DATA_QUALITY_FAILED if report.blocks else ReasonCode.DATA_QUALITY_WARNING
    return Reason(
        code,
        {
            "failing_columns": report.failing_columns,
            "failures": [
                {
                    "check": finding.check,
                    "column": finding.column,
                    "value": finding.value,
                    "reference": finding.reference,
                    "tolerance": finding.tolerance,
                }
                for finding in report.failures
            ],
            "summary": report.summary(),
            "rows": report.rows,
        },
    )
