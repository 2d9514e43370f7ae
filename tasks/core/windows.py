"""Time windows of one monitoring run, derived from the config and the "as of" time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tasks.config import Config
from tasks.errors import ConfigError


def to_utc_naive(moment: datetime) -> datetime:
    """Express a moment as a naive UTC datetime, the one form used inside autoretrain."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


@dataclass(frozen=True)
class Window:
    """A half-open time range [start, end)."""

    start: datetime
    end: datetime

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end

    def __str__(self) -> str:
        return f"[{self.start:%Y-%m-%d %H:%M}, {self.end:%Y-%m-%d %H:%M})"

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Window:
        return cls(datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"]))


@dataclass(frozen=True)
class WindowPlan:
    """current: what monitoring looks at; holdout: the most recent span, which no model
    trains on; training: the span right before the holdout, used to fit a challenger."""

    as_of: datetime
    current: Window
    training: Window
    holdout: Window


def resolve_as_of(config: Config, as_of: datetime | str | None = None) -> datetime:
    """The run's "as of" time: the argument ("now" for the current time), else the config,
    else now (UTC)."""
    if isinstance(as_of, str):
        text = as_of.strip()
        if text.lower() == "now":
            return to_utc_naive(datetime.now(UTC))
        try:
            as_of = datetime.fromisoformat(text) if text else None
        except ValueError:
            raise ConfigError(
                f"as_of '{as_of}' is not an ISO date or time such as 2014-04-01 or 2014-04-01T06:00"
            ) from None
    chosen = as_of or config.windows.as_of or datetime.now(UTC)
    return to_utc_naive(chosen)


def fixed_as_of_warning(config: Config, as_of: str | None, scheduled: bool) -> str | None:
    """A scheduled run whose window end is pinned by windows.as_of monitors the same window each
    time: the warning to log, or None."""
    if not scheduled or as_of is not None or config.windows.as_of is None:
        return None
    return (
        f"windows.as_of is fixed at {config.windows.as_of:%Y-%m-%d %H:%M}: every scheduled run "
        "monitors the same window. For production set windows.as_of: null (see "
        "examples/production/config.yaml), or pass as_of: now"
    )


def plan_windows(config: Config, as_of: datetime) -> WindowPlan:
    """Lay out the current, holdout and training windows ending at as_of."""
    windows = config.windows
    holdout = Window(as_of - windows.holdout, as_of)
    return WindowPlan(
        as_of=as_of,
        current=Window(as_of - windows.current, as_of),
        holdout=holdout,
        training=Window(holdout.start - windows.training, holdout.start),
    )


def plan_bootstrap(config: Config, as_of: datetime) -> WindowPlan:
    """Windows for the first champion: the configured bootstrap training span if any (validated
    on the holdout span right after it), else the usual windows at as_of."""
    start, end = config.bootstrap.training_start, config.bootstrap.training_end
    if start is None or end is None:
        return plan_windows(config, as_of)
    start, end = to_utc_naive(start), to_utc_naive(end)
    holdout = Window(end, end + config.windows.holdout)
    return WindowPlan(
        as_of=holdout.end, current=holdout, training=Window(start, end), holdout=holdout
    )
