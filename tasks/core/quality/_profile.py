"""The reference's profile: what the checks need of its feature columns and duplicated rows."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from tasks.core.duplicates import count_duplicates

ColumnKind = Literal["numeric", "categorical"]

# A categorical column keeps its most frequent categories up to this many; the share of the
# reference outside them is kept too, so the check stays exact on what was kept.
MAX_CATEGORIES = 1000
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
