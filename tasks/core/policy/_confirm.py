"""Which earlier windows confirm a breach, the warning level that counts toward one, and the
cooldown after a retrain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tasks.config import ConfirmationConfig, ConfirmationsConfig, PolicyConfig
from tasks.core.bars import DropReference, warning_limit, warnings
from tasks.core.policy._records import Breaches, PastRun, SignalName
from tasks.core.reasons import Reason, ReasonCode, reason


def distinct_windows(history: Sequence[PastRun], as_of: datetime | None) -> list[PastRun]:
    """The earlier runs of history (newest first) that count as evidence for a run at as_of:
    one per window (the first listed, the latest recorded), none at or after as_of (an earlier
    run of this run's own window is the same rows seen again, not a second window)."""
    seen: set[datetime] = set()
    kept: list[PastRun] = []
    for run in history:
        if (as_of is not None and run.as_of >= as_of) or run.as_of in seen:
            continue
        seen.add(run.as_of)
        kept.append(run)
    return kept


def champion_evidence(
    history: Sequence[PastRun],
    champion_runs: Sequence[PastRun],
    champion: str | None,
    as_of: datetime | None,
    min_spacing: timedelta,
) -> list[PastRun]:
    """The earlier windows of `champion` that can confirm its breach, newest first, one per
    window: its runs in the recent history, then its own older windows (champion_runs, oldest
    first), each at least min_spacing before the one after it, as the history spaces them.

    The older windows matter for a champion restored by a rollback: the recent history then
    holds the replaced champion's runs, which say nothing of this model, and the restored
    champion's breaches before it was replaced are the same model's record on the data (a
    champion that breached, was replaced, and came back breaches again on its second window,
    not its third). For any other champion they lie beyond the last N runs a rule reads."""
    own = [run for run in distinct_windows(history, as_of) if run.champion == champion]
    bound = own[-1].as_of if own else as_of
    for run in distinct_windows(list(reversed(champion_runs)), bound):
        if run.champion != champion or (bound is not None and run.as_of > bound - min_spacing):
            continue
        own.append(run)
        bound = run.as_of
    return own


def _confirm(
    name: SignalName,
    breaches: Breaches,
    earlier: Sequence[PastRun],
    rule: ConfirmationConfig,
    spacing: timedelta,
    warning: WarningLevel | None = None,
) -> tuple[bool, Reason]:
    """M of the last N runs (this one included) breached this signal; with warning (the
    performance signal), an earlier run past its warning level counts as a breach."""
    looked = earlier[: rule.runs - 1]
    past = [bool(getattr(run, f"{name}_breach")) for run in looked]
    warned = [
        not breached and warning is not None and run.as_of in warning.runs
        for run, breached in zip(looked, past, strict=True)
    ]
    seen = 1 + sum(past) + sum(warned)
    confirmed = seen >= rule.breaches
    code = ReasonCode.BREACH_CONFIRMED if confirmed else ReasonCode.BREACH_NOT_CONFIRMED
    numbers: dict[str, Any] = {}
    if warning is not None and any(warned):
        numbers = {"warnings": sum(warned), **warning.params}
        if confirmed and seen - sum(warned) < rule.breaches:
            code = ReasonCode.BREACH_CONFIRMED_AFTER_WARNING
    return confirmed, reason(
        code,
        signal=name,
        seen=seen,
        looked=1 + len(past),
        breaches=rule.breaches,
        runs=rule.runs,
        min_spacing_days=_in_days(spacing),
        **numbers,
    )


@dataclass(frozen=True)
class WarningLevel:
    """The champion's earlier windows past the warning level (their as_of) and the numbers of
    that level, for the confirmation's reason."""

    runs: frozenset[datetime]
    params: dict[str, Any]


def _warning(
    policy: PolicyConfig, reference: DropReference | None, runs: Sequence[PastRun]
) -> WarningLevel | None:
    """The warning level of the performance signal (policy.drop_reference.warning; None: off,
    or no drop reference)."""
    higher = policy.performance_metric.higher_is_better
    share = policy.drop_reference.warning
    limit = warning_limit(
        reference.value if reference else None,
        policy.performance_drop,
        share,
        higher_is_better=higher,
    )
    if limit is None or reference is None:
        return None
    warm_up = policy.drop_reference.windows
    past = warnings(runs, limit, warm_up, policy.min_labelled_rows, higher_is_better=higher)
    return WarningLevel(
        frozenset(run.as_of for run in past),
        {
            "warning_limit": limit,
            "warning": share,
            "performance_drop": policy.performance_drop,
            "reference": reference.value,
            "warm_up": warm_up,
            "higher_is_better": higher,
        },
    )


def _confirm_breaches(
    breached: Sequence[SignalName],
    breaches: Breaches,
    same_champion: Sequence[PastRun],
    rules: ConfirmationsConfig,
    warning: WarningLevel | None = None,
) -> tuple[list[str], list[Reason]]:
    """The breaches confirmed by enough earlier runs (a severe performance breach needs none;
    with warning, an earlier window past the warning level counts toward a performance breach),
    and a note on each breach's confirmation."""
    confirmed: list[str] = []
    notes: list[Reason] = []
    for name in breached:
        ok, note = _confirm(
            name,
            breaches,
            same_champion,
            getattr(rules, name),
            rules.min_spacing,
            warning if name == "performance" else None,
        )
        if breaches.severe and name == "performance":
            ok, note = True, reason(ReasonCode.CONFIRMATION_SKIPPED, signal=name)
        notes.append(note)
        if ok:
            confirmed.append(name)
    return confirmed, notes


def _check_cooldown(
    breaches: Breaches,
    cooldown: timedelta,
    as_of: datetime | None,
    last_retrain_as_of: datetime | None,
    *,
    severe_skips: bool = True,
) -> tuple[bool, Reason | None]:
    """Whether the last retrain is too recent to retrain again (a severe breach skips the
    cooldown unless severe_skips is off (a back-off of severe retrains), but never a retrain of
    this same window), with the note that says so; (False, None) when no retrain is that
    recent."""
    if last_retrain_as_of is None or as_of is None:
        return False, None
    if last_retrain_as_of == as_of:
        return True, reason(ReasonCode.COOLDOWN_SAME_WINDOW, as_of=as_of.isoformat())
    elapsed = as_of - last_retrain_as_of
    if elapsed >= cooldown:
        return False, None
    numbers = {"elapsed_days": _in_days(elapsed), "cooldown_days": _in_days(cooldown)}
    if breaches.severe and severe_skips:
        return False, Reason(ReasonCode.COOLDOWN_SKIPPED, numbers)
    return True, Reason(ReasonCode.COOLDOWN, numbers)


def _in_days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400
