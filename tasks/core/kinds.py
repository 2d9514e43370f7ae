"""The names the backtest chooses from: its retraining strategies and the kinds of broken feed.

Kept apart from tasks/core/faults.py and tasks/steps/backtest.py, which use them, so that the
backtest's option parser (tasks/cli/scripts.py) offers them without importing numpy, pandas or
the steps: `flows/backtest.py --help` answers in a tenth of a second.
"""

from __future__ import annotations

from typing import Literal

StrategyKind = Literal["never", "fixed", "every-window", "policy"]
STRATEGY_KINDS: tuple[StrategyKind, ...] = ("policy", "never", "fixed", "every-window")

FaultKind = Literal[
    "empty-column",
    "unit-x1000",
    "renamed-category",
    "duplicated-rows",
    "repeated-day",
    "half-rows-missing",
]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "empty-column",  # the column arrives with every value missing
    "unit-x1000",  # a unit changed (metres to millimetres): the column's values x1000
    "renamed-category",  # the window's most frequent category arrives under a new name
    "duplicated-rows",  # a join that duplicates: every row of the window twice
    "repeated-day",  # yesterday's file delivered again: the last day's rows replaced by a copy
    # of the day before (same rows, same timestamps)
    "half-rows-missing",  # a seeded half of the window's rows never arrives
)
