"""Change-aware training windows: after an abrupt change, train on the rows since it.

When a confirmed breach starts a retrain, the configured training span (right before the
holdout) still holds mostly rows from before the change, so the gate rightly rejects its
challenger until the old rows age out. Here the change is dated from the monitoring history (the
breach streak that led to the retrain) and the challenger trains on the labelled rows since then
when there are enough; else the configured span. The gate still judges every challenger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Literal

from tasks.core.policy import PastRun, distinct_windows
from tasks.core.windows import Window, WindowPlan

TrainingSpan = Literal["since-change", "since-change-split", "configured-span"]


def _signals() -> tuple[str, ...]:
    """The signals a PastRun records a breach of: drift, prediction_drift, performance, ..."""
    return tuple(
        f.name.removesuffix("_breach") for f in fields(PastRun) if f.name.endswith("_breach")
    )


def parse_breaches(text: str) -> tuple[str, ...]:
    """Confirmed breaches from a flow parameter like "performance,drift" ("" or "none": none)."""
    names = tuple(n.strip() for n in text.split(",") if n.strip() and n.strip() != "none")
    known = _signals()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"unknown breach signal(s) {', '.join(unknown)}: expected some of {', '.join(known)}"
        )
    return names


@dataclass(frozen=True)
class ChangeEstimate:
    """When the change that the breach streak reacts to probably began."""

    start: datetime
    first_breached: datetime  # as_of of the oldest run of the streak
    streak_runs: int  # runs in the streak, the retraining run included
    basis: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "first_breached": self.first_breached.isoformat(),
            "streak_runs": self.streak_runs,
            "basis": self.basis,
        }


@dataclass(frozen=True)
class TrainingChoice:
    """The training and holdout windows of a challenger and why they were chosen."""

    chosen: TrainingSpan
    training: Window
    holdout: Window
    reason: str
    change: ChangeEstimate | None = None
    rows_since_change: int | None = None  # labelled rows in [change.start, as_of)
    training_rows: int | None = None  # labelled rows the choice counted for training
    min_rows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "training_window": self.training.to_dict(),
            "holdout_window": self.holdout.to_dict(),
            "reason": self.reason,
            "change": self.change.to_dict() if self.change else None,
            "rows_since_change": self.rows_since_change,
            "training_rows": self.training_rows,
            "min_rows": self.min_rows,
        }


def estimate_change_start(
    as_of: datetime,
    current: timedelta,
    earlier: Sequence[PastRun],
    signals: Sequence[str],
    champion: str | None = None,
) -> ChangeEstimate | None:
    """Date the change behind a retrain that the confirmed breach of `signals` started at as_of.

    The streak is the retraining run plus the earlier runs (newest first) of the same champion
    that breached one of `signals`; for a champion restored by a rollback, it goes on with its
    own windows before it was replaced (the replaced champion's windows in between are skipped:
    its breaches are another model's). The change began after the last run before the streak that
    saw no such breach (its rows looked healthy), and no earlier than the window of the streak's
    first run: the later of the two. None when no signal is given (a manual or scheduled retrain).

    Args:
        earlier: monitor runs before as_of, newest first (the history store's order).
        signals: the confirmed breaches that started the retrain (drift, prediction_drift,
            performance).
    """
    known = _signals()
    unknown = sorted(set(signals) - set(known))
    if unknown:
        raise ValueError(f"unknown signal(s) {unknown}: expected some of {', '.join(known)}")
    if not signals:
        return None
    first = as_of
    streak = 1
    healthy: datetime | None = None
    runs = distinct_windows(earlier, as_of)
    # Another champion's windows newer than this one's oldest: it was replaced, then restored.
    oldest_own = max((i for i, run in enumerate(runs) if run.champion == champion), default=-1)
    for index, run in enumerate(runs):
        if run.champion != champion and index < oldest_own:
            continue  # a replaced champion's window: this one was restored by a rollback
        breached = any(getattr(run, f"{name}_breach") for name in signals)
        if run.champion != champion or not breached:
            healthy = run.as_of
            break
        first = run.as_of
        streak += 1
    window_start = first - current
    if healthy is not None and healthy >= window_start:
        basis = f"after the last run without a {'/'.join(signals)} breach"
        return ChangeEstimate(healthy, first, streak, basis)
    return ChangeEstimate(
        window_start,
        first,
        streak,
        f"the start of the first breached run's window ({first:%Y-%m-%d %H:%M} - {_days(current)})",
    )


def choose_training_window(
    plan: WindowPlan,
    change: ChangeEstimate | None,
    labelled_times: Sequence[datetime],
    min_rows: int,
    min_holdout_rows: int,
) -> TrainingChoice:
    """Train on the rows since the change when there are enough, else on the configured span.

    1. the change is before the configured training span, or not estimated: configured span;
    2. at least min_rows labelled rows between the change and the holdout: train on them, same
       holdout ("since-change");
    3. else, when the rows since the change can give min_rows to training and the later half
       (at least min_holdout_rows) to the holdout: split them ("since-change-split"): the gate
       then judges on rows after the change only;
    4. else the configured span.

    Args:
        labelled_times: timestamps of the labelled rows in [change.start, plan.as_of).
    """
    if change is None:
        return configured_span(plan, "no confirmed breach started this retrain")
    if change.start <= plan.training.start:
        return configured_span(
            plan,
            f"the estimated change ({change.start:%Y-%m-%d %H:%M}) is before the configured "
            "training span: its rows all come after it",
            change,
        )
    times = sorted(t for t in labelled_times if change.start <= t < plan.as_of)
    before_holdout = sum(1 for t in times if t < plan.holdout.start)
    since = f"since the estimated change ({change.start:%Y-%m-%d %H:%M}, {change.basis})"
    if before_holdout >= min_rows:
        return TrainingChoice(
            "since-change",
            Window(change.start, plan.holdout.start),
            plan.holdout,
            f"{before_holdout} labelled rows {since} before the holdout >= training.min_rows "
            f"{min_rows}",
            change,
            len(times),
            before_holdout,
            min_rows,
        )
    holdout_rows = max(min_holdout_rows, len(times) // 2)
    if len(times) - holdout_rows >= min_rows:
        split = times[len(times) - holdout_rows]
        training_rows = sum(1 for t in times if t < split)
        if training_rows >= min_rows:
            return TrainingChoice(
                "since-change-split",
                Window(change.start, split),
                Window(split, plan.as_of),
                f"{before_holdout} labelled rows {since} before the holdout < training.min_rows "
                f"{min_rows}: the {len(times)} rows since it are split, {training_rows} to "
                f"train on and the rest to the holdout",
                change,
                len(times),
                training_rows,
                min_rows,
            )
    return TrainingChoice(
        "configured-span",
        plan.training,
        plan.holdout,
        f"only {len(times)} labelled rows {since}, {before_holdout} before the holdout: too "
        f"few to train on training.min_rows {min_rows} and judge on the later half (at least "
        f"promotion.min_holdout_rows {min_holdout_rows}); the configured span",
        change,
        len(times),
        None,
        min_rows,
    )


def configured_span(
    plan: WindowPlan, reason: str, change: ChangeEstimate | None = None
) -> TrainingChoice:
    """The plan's own training span and holdout, with why they were kept."""
    return TrainingChoice("configured-span", plan.training, plan.holdout, reason, change)


def _days(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:g}d" if days == int(days) else f"{days:.2f}d"
