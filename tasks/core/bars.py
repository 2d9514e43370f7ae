"""Bars that follow the data: the score performance_drop measures a champion's drop from.

The champion's holdout score is one window, chosen by the calendar: when it happened to be
unusually hard (a heatwave for a demand model) every bar derived from it is lax for the
champion's whole life; unusually easy, and the bar is strict. The reference here is the median
of the holdout score and the champion's own first monitored windows (each with enough labelled
rows), so one odd window, holdout or not, cannot set the bar alone, and each new champion
starts its own. Short of the bar, a warning level (a share of it) marks windows that move
toward it: such a window of the champion counts toward confirming a later breach. Pure: the
monitoring history's runs of the champion come in as the policy's PastRun values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any, Protocol, TypeVar


class JudgedRun(Protocol):
    """What the reference reads of an earlier monitor run (a PastRun of the policy)."""

    @property
    def performance(self) -> float | None: ...

    @property
    def labelled_rows(self) -> int: ...


@dataclass(frozen=True)
class DropReference:
    """The score performance_drop is measured from, and what it is the median of."""

    value: float
    holdout_score: float
    windows: tuple[float, ...]  # the champion's first monitored windows' metric, oldest first
    wanted: int  # policy.drop_reference.windows
    median: float | None = None  # the median of the holdout score and the windows (None: none)

    @property
    def rule(self) -> str:
        """Where the value comes from, in words."""
        if not self.windows:
            return "the champion's holdout score" + (
                f" (none of its first {self.wanted} monitored windows yet)" if self.wanted else ""
            )
        seen = ", ".join(f"{value:.3f}" for value in self.windows)
        median = (
            f"the median of the champion's holdout score {self.holdout_score:.3f} and its first "
            f"{len(self.windows)} monitored windows ({seen})"
        )
        if self.median is not None and self.value != self.median:
            return (
                f"the champion's holdout score {self.holdout_score:.3f}, stricter than {median}, "
                f"{self.median:.3f}: the first windows only tighten the bar"
            )
        return median

    def params(self) -> dict[str, Any]:
        """What a reason records of it (JSON values)."""
        return {
            "reference": self.value,
            "reference_windows": list(self.windows),
            "reference_rule": self.rule,
        }


def first_windows(
    champion_runs: Sequence[JudgedRun], count: int, min_labelled_rows: int
) -> tuple[float, ...]:
    """The metric of the champion's first `count` monitored windows with at least
    min_labelled_rows labelled rows, oldest first (champion_runs: oldest first, one per window)."""
    values: list[float] = []
    for run in champion_runs:
        if len(values) >= count:
            break
        if run.performance is not None and run.labelled_rows >= min_labelled_rows:
            values.append(run.performance)
    return tuple(values)


def drop_reference(
    holdout_score: float | None,
    champion_runs: Sequence[JudgedRun],
    windows: int,
    min_labelled_rows: int,
    *,
    higher_is_better: bool,
    relax: bool = False,
) -> DropReference | None:
    """The median of the holdout score and the first `windows` judged windows of the champion
    (None: no holdout score on record, so performance_drop is not judged, as before).

    Without relax, the windows only tighten the bar: when the median is worse than the holdout
    score (the champion already did worse on its first windows than on its holdout, which is
    the drop the rule is there to see), the holdout score stays the reference, so the bar is
    never laxer than the holdout score alone would set it."""
    if holdout_score is None:
        return None
    seen = first_windows(champion_runs, windows, min_labelled_rows) if windows else ()
    middle = float(median((holdout_score, *seen)))
    value = middle
    if not relax:
        value = max(middle, holdout_score) if higher_is_better else min(middle, holdout_score)
    return DropReference(value, holdout_score, seen, windows, middle)


def warning_limit(
    reference: float | None,
    performance_drop: float | None,
    warning: float | None,
    *,
    higher_is_better: bool,
) -> float | None:
    """The warning level: the worst metric within `warning` x performance_drop of the
    reference (None: no reference, performance_drop or warning off, or a reference of 0)."""
    if reference is None or performance_drop is None or warning is None or reference == 0:
        return None
    change = warning * performance_drop * abs(reference)
    return reference - change if higher_is_better else reference + change


Run = TypeVar("Run", bound=JudgedRun)


def warnings(
    champion_runs: Sequence[Run],
    limit: float | None,
    warm_up: int,
    min_labelled_rows: int,
    *,
    higher_is_better: bool,
) -> list[Run]:
    """The champion's runs (oldest first, one per window) whose realised metric, on at least
    min_labelled_rows labelled rows, was worse than the warning limit, after its first
    `warm_up` such runs (those set the reference: they are its warm-up, never a warning)."""
    if limit is None:
        return []
    judged = [
        run
        for run in champion_runs
        if run.performance is not None and run.labelled_rows >= min_labelled_rows
    ]
    return [
        run
        for run in judged[warm_up:]
        if run.performance is not None
        and (run.performance < limit if higher_is_better else run.performance > limit)
    ]
