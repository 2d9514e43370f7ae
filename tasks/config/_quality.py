"""The data-quality gate (`data_quality`): the checks of every window and what a failure does.

The defaults of every tolerance live here, once: the config, the checks (tasks/core/quality/)
and the fault-injection backtest all take them from `DEFAULT_TOLERANCES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from tasks.config._base import Strict, section

CheckName = Literal[
    "missing", "range", "categories", "constant", "dtype", "duplicates", "row_count"
]

COLUMN_CHECKS: tuple[CheckName, ...] = ("missing", "range", "categories", "constant", "dtype")
WINDOW_CHECKS: tuple[CheckName, ...] = ("duplicates", "row_count")
CHECKS: tuple[CheckName, ...] = COLUMN_CHECKS + WINDOW_CHECKS
# Checks of one kind of column only: range of numeric ones, categories of categorical ones.
NUMERIC_CHECKS: frozenset[str] = frozenset({"range"})
CATEGORICAL_CHECKS: frozenset[str] = frozenset({"categories"})

# The default tolerance of every check, chosen so that windows of real logs without faults stay
# at or below 1 false alarm in 50 (measured by the fault-injection backtest, docs/data-quality.md).
DEFAULT_TOLERANCES: Mapping[CheckName, float] = {
    "missing": 0.10,
    "range": 1.0,
    "categories": 0.05,
    "constant": 0.20,
    "dtype": 0.0,
    "duplicates": 0.005,
    "row_count": 0.60,
}
# Fewer rows in a window: the share checks (missing, categories, constant, duplicates) are not
# judged, one odd value in three rows being no evidence of a broken feed.
DEFAULT_MIN_ROWS = 30
# Fewer recent windows on record: the row count is not judged.
DEFAULT_MIN_RECENT_WINDOWS = 3

_UPPER: Mapping[str, float | None] = {
    "missing": 1.0,
    "range": None,
    "categories": 1.0,
    "constant": 1.0,
    "dtype": 0.0,
    "duplicates": 1.0,
    "row_count": None,
}
_MEANING: Mapping[str, str] = {
    "missing": "the rise of the share of missing values above the reference's",
    "range": "the margin beyond the reference's min and max, as a share of its span",
    "categories": "the share of values in categories the reference never had",
    "constant": "a constant column fails when its value had a share below this in the reference",
    "dtype": "0: the type must be the reference's",
    "duplicates": "the rise of the share of duplicated rows above the reference's",
    "row_count": "the window's rows may be (1 + this) times the recent median, or 1/(1 + this)",
}


def _off_or_number(value: Any) -> Any:
    """null or false: the check is off; true is not a tolerance."""
    if value is False:
        return None
    if value is True:
        raise ValueError("true is not a tolerance: give a number, or null (or false) for off")
    return value


Tolerance = Annotated[Annotated[float, Field(ge=0)] | None, BeforeValidator(_off_or_number)]


def check_tolerance(check: str, value: float | None) -> float | None:
    """Raise ValueError when value is out of the check's range."""
    upper = _UPPER[check]
    if value is not None and upper is not None and value > upper:
        if check == "dtype":
            raise ValueError("dtype takes 0 (the type must be the reference's) or null (off)")
        raise ValueError(f"{check} is a share: at most {upper}, got {value}")
    return value


def _tolerance(check: CheckName) -> Any:
    return Field(
        default=DEFAULT_TOLERANCES[check],
        description=f"{_MEANING[check]}; null: off.",
    )


class TolerancesConfig(Strict):
    """The tolerance of every check on every column; null switches a check off."""

    missing: Tolerance = _tolerance("missing")
    range: Tolerance = _tolerance("range")
    categories: Tolerance = _tolerance("categories")
    constant: Tolerance = _tolerance("constant")
    dtype: Tolerance = _tolerance("dtype")
    duplicates: Tolerance = _tolerance("duplicates")
    row_count: Tolerance = _tolerance("row_count")

    @field_validator("*")
    @classmethod
    def _check_range(cls, value: float | None, info: Any) -> float | None:
        return check_tolerance(info.field_name, value)

    def as_mapping(self) -> dict[CheckName, float | None]:
        return {check: getattr(self, check) for check in CHECKS}


class DataQualityConfig(Strict):
    enabled: bool = Field(
        default=True,
        description="Check every monitored window (and the gate's holdout) against the "
        "champion's reference: missing values, ranges, categories, constant columns, types, "
        "duplicated rows, the row count.",
    )
    action: Literal["block", "warn"] = Field(
        default="block",
        description="What a failed check does: block (decision DATA-ISSUE, no retrain or "
        "promotion for that window, the gate refuses such a holdout) or warn (reported only).",
    )
    tolerances: TolerancesConfig = section(
        TolerancesConfig, "The default tolerance of each check (null: the check is off)."
    )
    columns: dict[str, dict[str, Tolerance]] = Field(
        default={},
        description="Tolerances per feature column, e.g. {wind: {range: 1.0, constant: null}}; "
        "checks: missing, range (numeric), categories (categorical), constant, dtype.",
    )
    min_rows: int = Field(
        default=DEFAULT_MIN_ROWS,
        ge=1,
        description="Fewer rows in a window: the share checks (missing, categories, constant, "
        "duplicates) are not judged.",
    )
    min_recent_windows: int = Field(
        default=DEFAULT_MIN_RECENT_WINDOWS,
        ge=1,
        description="Fewer recent windows in the monitoring history: the row count is not judged.",
    )

    @field_validator("columns")
    @classmethod
    def _check_column_checks(
        cls, value: dict[str, dict[str, float | None]]
    ) -> dict[str, dict[str, float | None]]:
        for column, checks in value.items():
            for check, tolerance in checks.items():
                if check in WINDOW_CHECKS:
                    raise PydanticCustomError(
                        "data_quality_check",
                        "{column}: {check} is a check of the whole window, not of a column: set "
                        "it in data_quality.tolerances",
                        {"column": column, "check": check},
                    )
                if check not in COLUMN_CHECKS:
                    raise PydanticCustomError(
                        "data_quality_check",
                        "{column}: unknown check '{check}': choose from {choices}",
                        {"column": column, "check": check, "choices": ", ".join(COLUMN_CHECKS)},
                    )
                try:
                    check_tolerance(check, tolerance)
                except ValueError as error:
                    raise PydanticCustomError(
                        "data_quality_check",
                        "{column}: {error}",
                        {"column": column, "error": str(error)},
                    ) from None
        return value
