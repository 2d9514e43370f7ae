"""Stop paying for retrains that cannot help: the cooldown grows while the gate keeps rejecting.

When a breach persists but every challenger fails the gate (a threshold the data cannot meet, a
target the features cannot predict), retraining each time the cooldown allows buys nothing.
From `after` rejected challengers in a row on, each multiplies the cooldown by `factor` (up to
`max_cooldown`); the streak ends with a promotion (a new champion starts its own runs) or a new
kind of breach (a confirmed signal, or a severe breach, that none of the rejected retrains had),
or a change in the data: a retrain started while the data drifted is not counted and starts the
streak again (the next challenger trains on rows that one never saw, so its rejection says
nothing about whether the bar can be met; on the seat-belt log, a real abrupt change, counting
them held back the retrain that recovered), and a confirmed data drift now resets a streak. Only
a verdict counts: a retrain whose promotion has not recorded one yet (events mode: pending), or
was dropped, neither adds to the streak nor ends it. Once the streak reaches `unreachable_after`,
the decision says, on that one run, that the bar looks unreachable, with the numbers measured.
Pure: the champion's earlier monitor runs come in as the policy's PastRun values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from tasks.config import BackoffConfig

# The breach kinds a run can show: the policy's signals, and a severe performance breach.
SEVERE = "severe"
KINDS = ("drift", "prediction_drift", "performance", "estimated_performance", SEVERE)


class RetrainRun(Protocol):
    """What the back-off reads of an earlier monitor run (a PastRun of the policy)."""

    @property
    def as_of(self) -> datetime: ...

    @property
    def retrained(self) -> bool: ...

    @property
    def promoted(self) -> bool: ...

    @property
    def performance(self) -> float | None: ...

    @property
    def severe(self) -> bool: ...

    @property
    def drift_breach(self) -> bool | None: ...

    @property
    def status(self) -> str | None: ...


# The statuses of a retrained run that are a gate's rejection (None: a run recorded without its
# status, as PastRun values built by hand are: its retrain counts as rejected, as before).
REJECTED = (None, "rejected")


def rejected(run: RetrainRun) -> bool:
    """Whether the run's retrain was judged and rejected (not promoted, not pending, not
    dropped)."""
    return run.retrained and not run.promoted and run.status in REJECTED


def data_changed(run: RetrainRun) -> bool:
    """Whether the run's retrain started while the data drifted (its data drift breach)."""
    return bool(run.drift_breach)


def run_kinds(run: RetrainRun) -> frozenset[str]:
    """The kinds of breach a run showed (a PastRun's *_breach flags, and severe)."""
    kinds = {kind for kind in KINDS[:-1] if getattr(run, f"{kind}_breach", None)}
    if run.severe:
        kinds.add(SEVERE)
    return frozenset(kinds)


@dataclass(frozen=True)
class Streak:
    """The rejected challengers in a row of the champion, and what ended the last streak."""

    rejected: int = 0
    kinds: frozenset[str] = frozenset()  # the breaches that started the rejected retrains
    since: datetime | None = None  # as_of of the first rejected retrain of the streak
    last: datetime | None = None  # as_of of the latest one
    performances: tuple[float, ...] = ()  # the champion's metric in the runs since `since`
    reset_by: tuple[str, ...] = field(default=())  # the new kinds that reset a streak now
    reset_rejected: int = 0  # how many rejections the reset wiped out


def rejection_streak(champion_runs: Sequence[RetrainRun], kinds_now: Iterable[str]) -> Streak:
    """The streak of rejected retrains of the champion (champion_runs: its earlier runs, oldest
    first, one per window) as this run sees it: kinds_now (the confirmed breaches of this run,
    and severe) that none of the streak's retrains had reset it."""
    count, kinds = 0, frozenset[str]()
    since: datetime | None = None
    last: datetime | None = None
    performances: list[float] = []
    for run in champion_runs:
        if since is not None and run.performance is not None:
            performances.append(run.performance)
        if run.promoted:  # a promotion recorded on this champion's run: a new streak
            count, kinds, since, last, performances = 0, frozenset(), None, None, []
            continue
        if not rejected(run):  # no retrain, or no verdict yet (pending, dropped)
            continue
        if data_changed(run):  # the data changed under it: no evidence about the bar
            count, kinds, since, last, performances = 0, frozenset(), None, None, []
            continue
        this = run_kinds(run)
        if count and not this <= kinds:  # a new kind of breach started this retrain
            count, kinds, since, performances = 0, frozenset(), None, []
        if since is None:
            since = run.as_of
            performances = [run.performance] if run.performance is not None else []
        count, kinds, last = count + 1, kinds | this, run.as_of
    new = tuple(sorted(set(kinds_now) - kinds)) if count else ()
    if new:
        return Streak(reset_by=new, reset_rejected=count)
    return Streak(count, kinds, since, last, tuple(performances))


def backed_off(base: timedelta, rule: BackoffConfig, rejected: int) -> timedelta:
    """The cooldown after `rejected` rejected challengers in a row: from `after` of them on,
    base x factor^(rejected - after + 1), at most max_cooldown (never below base)."""
    if not rule.enabled or rejected < rule.after:
        return base
    longer = base * (rule.factor ** (rejected - rule.after + 1))
    if rule.max_cooldown is not None:
        longer = min(longer, max(rule.max_cooldown, base))
    return longer


def unreachable_now(streak: Streak, champion_runs: Sequence[RetrainRun], after: int) -> bool:
    """Whether this run is the one to say the bar looks unreachable: the streak reached `after`
    with the latest earlier run (its latest rejection), so it is said once a streak."""
    if streak.rejected != after or not champion_runs or streak.last is None:
        return False
    return champion_runs[-1].as_of == streak.last
