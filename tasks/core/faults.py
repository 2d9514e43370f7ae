"""Broken feeds on purpose: a log's chosen windows broken the ways production feeds break.

The fault-injection backtest (`benchmarks/backtest.py --faults`, `flows/backtest.py --faults`)
replays a real log with some windows broken by `inject_faults` and checks that the data-quality
checks flag each broken window and that no retrain or promotion is decided on one. Every fault
changes only its window's rows (and, for a column fault, only its column); everything else of
the frame is returned as it was. Seeded: the same frame, plan and seed give the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeGuard

import numpy as np
import pandas as pd

from tasks.core.kinds import FAULT_KINDS, FaultKind
from tasks.core.windows import Window
from tasks.errors import ConfigError

COLUMN_FAULTS: frozenset[str] = frozenset({"empty-column", "unit-x1000", "renamed-category"})
RENAMED_SUFFIX = " (renamed)"


def _is_fault_kind(name: str) -> TypeGuard[FaultKind]:
    return name in FAULT_KINDS


@dataclass(frozen=True)
class Fault:
    """One broken window: its index among the replayed windows, how it breaks, which column."""

    window: int
    kind: FaultKind
    column: str | None = None  # the broken column of a column fault; None for a row fault

    def __post_init__(self) -> None:
        if self.window < 0:
            raise ConfigError(f"fault {self}: the window index must be 0 or more")
        if self.kind in COLUMN_FAULTS and not self.column:
            raise ConfigError(
                f"fault '{self.kind}' in window {self.window} needs a column: write "
                f"{self.window}:{self.kind}:COLUMN"
            )
        if self.kind not in COLUMN_FAULTS and self.column is not None:
            raise ConfigError(
                f"fault '{self.kind}' breaks whole rows, not a column: write "
                f"{self.window}:{self.kind} without ':{self.column}'"
            )

    @classmethod
    def parse(cls, text: str) -> Fault:
        """A fault written as WINDOW:KIND or WINDOW:KIND:COLUMN, like 3:unit-x1000:temp_max."""
        parts = text.strip().split(":", 2)
        if len(parts) < 2 or not parts[0].strip().isdigit():
            raise ConfigError(
                f"fault '{text}' is not WINDOW:KIND[:COLUMN] (like 3:unit-x1000:temp_max or "
                "5:duplicated-rows; WINDOW counts the replayed windows from 0)"
            )
        kind = parts[1].strip()
        if not _is_fault_kind(kind):
            raise ConfigError(
                f"unknown fault kind '{kind}' in '{text}': choose from {', '.join(FAULT_KINDS)}"
            )
        column = parts[2].strip() if len(parts) == 3 else None
        return cls(int(parts[0]), kind, column or None)

    def __str__(self) -> str:
        return f"{self.window}:{self.kind}" + (f":{self.column}" if self.column else "")


def parse_fault_plan(text: str) -> tuple[Fault, ...]:
    """Faults written comma-separated, like "3:unit-x1000:temp_max,7:duplicated-rows"."""
    faults = tuple(Fault.parse(part) for part in text.split(",") if part.strip())
    if not faults:
        raise ConfigError(f"the fault plan '{text}' names no fault: write WINDOW:KIND[:COLUMN],...")
    return faults


def spread_faults(
    windows: int,
    numerical: Sequence[str],
    categorical: Sequence[str],
    spacing: int,
    first: int = 1,
) -> tuple[Fault, ...]:
    """One fault of each kind, `spacing` windows apart from window `first` on, as many as fit.

    The column faults break the numerical columns in turn (the renamed category: the first
    categorical one; left out when there is none). spacing: more than the replayed windows one
    monitored window (or holdout) spans, so that no monitor run or holdout sees two faults.
    """
    if spacing < 1:
        raise ConfigError(f"faults need a spacing of at least 1 window, got {spacing}")
    faults: list[Fault] = []
    index = first
    for kind in FAULT_KINDS:
        if index >= windows:
            break
        column: str | None = None
        if kind == "renamed-category":
            if not categorical:
                continue
            column = categorical[0]
        elif kind in COLUMN_FAULTS:
            if not numerical:
                continue
            column = numerical[sum(f.kind in COLUMN_FAULTS for f in faults) % len(numerical)]
        faults.append(Fault(index, kind, column))
        index += spacing
    return tuple(faults)


def inject_faults(
    frame: pd.DataFrame,
    timestamp_column: str,
    windows: Sequence[Window],
    faults: Sequence[Fault],
    seed: int = 0,
) -> pd.DataFrame:
    """The frame with each fault's window broken its way; every other row and column as it was.

    windows: the replayed windows the faults' indices count (half-open [start, end), naive UTC
    like the loop's). Rows keep their order; a copied row follows its original. Faults apply
    in the plan's order, each to the window's rows as the faults before it left them.
    """
    if timestamp_column not in frame.columns:
        raise ConfigError(
            f"the timestamp column '{timestamp_column}' is not in the log; it has "
            f"{sorted(map(str, frame.columns))}"
        )
    result = frame.reset_index(drop=True)
    # The position a row sorts at: its own, and a copy's that of the row it copies.
    order = pd.Series(np.arange(len(result), dtype=np.float64))
    for fault in faults:
        if fault.window >= len(windows):
            raise ConfigError(
                f"fault {fault}: there are only {len(windows)} windows to break (0 to "
                f"{len(windows) - 1})"
            )
        window = windows[fault.window]
        stamps = _naive_utc(result[timestamp_column])
        inside = ((stamps >= window.start) & (stamps < window.end)).to_numpy()
        if not inside.any():
            raise ConfigError(f"fault {fault}: window {window} has no rows to break")
        rng = np.random.default_rng([seed, fault.window, FAULT_KINDS.index(fault.kind)])
        part = result[inside]
        part_order = order[inside]
        broken, broken_order = _break(fault, part, part_order, stamps[inside], window, rng)
        result = pd.concat([result[~inside], broken])
        order = pd.concat([order[~inside], broken_order])
        ranks = np.argsort(order.to_numpy(), kind="stable")
        result = result.iloc[ranks].reset_index(drop=True)
        order = order.iloc[ranks].reset_index(drop=True)
    return result


def _naive_utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).dt.tz_localize(None)


def _break(
    fault: Fault,
    part: pd.DataFrame,
    order: pd.Series,
    stamps: pd.Series,
    window: Window,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.Series]:
    """The window's rows broken by fault, and the sort position of each."""
    if fault.kind in COLUMN_FAULTS:
        return _break_column(fault, part), order
    if fault.kind == "duplicated-rows":
        return pd.concat([part, part]), pd.concat([order, order])
    if fault.kind == "half-rows-missing":
        keep = np.ones(len(part), dtype=bool)
        keep[rng.choice(len(part), size=len(part) // 2, replace=False)] = False
        return part[keep], order[keep]
    # repeated-day: the last day of the window is yesterday's rows again
    last_day = stamps.max().floor("D")
    yesterday = (stamps >= last_day - timedelta(days=1)) & (stamps < last_day)
    if not yesterday.any():
        raise ConfigError(
            f"fault {fault}: window {window} has no rows on {last_day - timedelta(days=1):%Y-%m-%d}, "
            "the day before its last, to deliver again"
        )
    earlier = (stamps < last_day).to_numpy()
    repeated = yesterday.to_numpy()
    # The copy arrives as one block after the window's other rows (and before the next's).
    count = int(repeated.sum())
    copied = pd.Series(
        order[earlier].max() + (np.arange(count) + 1) / (count + 1), index=order[repeated].index
    )
    return pd.concat([part[earlier], part[repeated]]), pd.concat([order[earlier], copied])


def _break_column(fault: Fault, part: pd.DataFrame) -> pd.DataFrame:
    column = str(fault.column)
    if column not in part.columns:
        raise ConfigError(
            f"fault {fault}: the log has no column '{column}'; it has "
            f"{sorted(map(str, part.columns))}"
        )
    values = part[column]
    broken = part.copy()
    if fault.kind == "empty-column":
        # All missing in the column's own dtype (integers become floats: they have no NaN).
        broken[column] = values.where(pd.Series(False, index=values.index))
    elif fault.kind == "unit-x1000":
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise ConfigError(
                f"fault {fault}: a unit change needs a numerical column; '{column}' holds "
                f"{values.dtype}"
            )
        broken[column] = values * 1000
    else:  # renamed-category
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise ConfigError(
                f"fault {fault}: a renamed category needs a categorical (text) column; "
                f"'{column}' holds {values.dtype}"
            )
        present = values.dropna()
        if present.empty:
            raise ConfigError(f"fault {fault}: '{column}' has no value in the window to rename")
        counts = present.astype(str).value_counts()
        top = counts[counts == counts.max()].index.sort_values()[0]
        renamed = values.copy()
        renamed[(values.astype(str) == top) & values.notna()] = top + RENAMED_SUFFIX
        broken[column] = renamed
    return broken


def broken_windows(windows: Sequence[Window], faults: Sequence[Fault]) -> tuple[Window, ...]:
    """The replayed windows some fault breaks, in order, each once."""
    return tuple(windows[i] for i in sorted({fault.window for fault in faults}))


def touches_fault(broken: Sequence[Window], *looked_at: Window) -> bool:
    """Whether a decision that looked at these spans saw a broken window's rows."""
    return any(span.overlaps(window) for span in looked_at for window in broken)
