"""Which monitor runs draw HTML reports (reports.html) and which runs' report directories to
delete (reports.keep): pure, no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from tasks.core.policy import SIGNAL_NAMES, TriggerDecision
from tasks.core.reasons import ReasonCode
from tasks.core.watch import WatchDecision

# <window end>-run-<wall-clock start with microseconds>, e.g. 20140401T0000-run-20261126T060000123456
_RUN_DIRECTORY = re.compile(r"^\d{8}T\d{4}-run-(\d{8}T\d{12})$")


# The reasons of a signal over its threshold, whether the policy acts on it or not (drift it
# ignores, or judges harmless, is still drift a person may want to see).
OVER_THRESHOLD = frozenset(
    {
        ReasonCode.DATA_DRIFT,
        ReasonCode.DATA_DRIFT_IGNORED,
        ReasonCode.DATA_DRIFT_HARMFUL,
        ReasonCode.DATA_DRIFT_NOT_HARMFUL,
        ReasonCode.DATA_DRIFT_HARM_UNKNOWN,
        ReasonCode.PREDICTION_DRIFT,
        ReasonCode.PREDICTION_DRIFT_IGNORED,
        ReasonCode.PERFORMANCE_BREACH,
        ReasonCode.PERFORMANCE_DROP,
        ReasonCode.SEVERE_PERFORMANCE_BREACH,
        ReasonCode.ESTIMATE_BREACH,
        ReasonCode.ESTIMATE_BREACH_IGNORED,
    }
)


def draws_reports(
    setting: str, decision: TriggerDecision, watch: WatchDecision | None = None
) -> bool:
    """Whether this monitor run draws its HTML reports under reports.html: on-breach draws
    for a run where a signal is over its threshold (acted on or not), the decision is not none
    (or insufficient data), or the watch found the previous champion better."""
    if setting != "on-breach":
        return setting == "always"
    breaches = decision.breaches
    breached = breaches.severe or any(breaches.get(name) for name in SIGNAL_NAMES)
    over = any(reason.code in OVER_THRESHOLD for reason in decision.reason_codes)
    acted = decision.action not in ("none", "insufficient-data")
    return breached or over or acted or (watch is not None and watch.found_better)


def skipped_reports_note(setting: str) -> str:
    """Why a run has no HTML reports, for its summary."""
    if setting == "never":
        return "none drawn (reports.html: never)"
    return "none drawn (reports.html: on-breach, and nothing breached)"


def report_run_name(as_of: datetime, started: datetime) -> str:
    """The report directory of one monitor run: the window's end, then when the run started."""
    return f"{as_of:%Y%m%dT%H%M}-run-{started:%Y%m%dT%H%M%S%f}"


def run_started(name: str) -> datetime | None:
    """When the run of a report directory started; None for a name no monitor run writes."""
    match = _RUN_DIRECTORY.match(name)
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S%f") if match else None


def expired_runs(
    names: Iterable[str], keep: int | timedelta, now: datetime, current: str | None = None
) -> list[str]:
    """The run directories reports.keep lets go, oldest first.

    keep as a number keeps the newest that many runs; as a duration, the runs started within it
    before now. Names that are not monitor runs (a backtest's output, a person's notes) are never
    chosen, nor is the current run's.
    """
    runs = sorted(
        ((started, name) for name in names if (started := run_started(name)) is not None),
        reverse=True,
    )
    if isinstance(keep, int):
        expired = [name for _, name in runs[keep:]]
    else:
        expired = [name for started, name in runs if started < now - keep]
    return [name for name in reversed(expired) if name != current]
