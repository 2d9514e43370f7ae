"""decide_retrain: the guards in their order, and the decision record with its numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from tasks.config import PolicyConfig
from tasks.core.backoff import SEVERE, Streak, backed_off, rejection_streak, unreachable_now
from tasks.core.bars import DropReference, drop_reference
from tasks.core.followup import FollowUpEvidence, follow_up
from tasks.core.policy._confirm import (
    _check_cooldown,
    _confirm_breaches,
    _in_days,
    _warning,
    champion_evidence,
    distinct_windows,
)
from tasks.core.policy._records import (
    SIGNAL_NAMES,
    Action,
    Breaches,
    PastRun,
    SignalName,
    TriggerDecision,
)
from tasks.core.policy._signals import (
    _harm_evidence,
    find_breaches,
    harm_margin,
    judge_harm,
    performance_drop_limit,
)
from tasks.core.quality import quality_reason
from tasks.core.reasons import Reason, ReasonCode, reason, texts
from tasks.core.signals import Signals


def decide_retrain(
    signals: Signals,
    policy: PolicyConfig,
    history: Sequence[PastRun] = (),
    *,
    as_of: datetime | None = None,
    champion: str | None = None,
    last_retrain_as_of: datetime | None = None,
    champion_runs: Sequence[PastRun] = (),
    follow_up_evidence: FollowUpEvidence | None = None,
) -> TriggerDecision:
    """Decide on this run's signals with the earlier runs (newest first) of the history.

    Args:
        history: earlier monitor runs, newest first (spaced by confirmation.min_spacing, as
            MonitorHistory.recent returns them); only those of `champion` confirm a breach,
            one per window, none of this run's own window (distinct_windows).
        as_of: the end of this run's window; the cooldown is measured from it.
        last_retrain_as_of: as_of of the last run that retrained or promoted, if any (this
            window's own earlier run included: a rerun never retrains a window twice).
        champion_runs: every earlier run of `champion`, oldest first, one per window
            (MonitorHistory.champion_runs): its first windows set the drop reference
            (policy.drop_reference), its rejected retrains the back-off (policy.backoff).
        follow_up_evidence: the change the champion was trained after and the labelled rows
            since it now (policy.follow_up; None: not trained since a change).
    """
    runs = _one_per_window(champion_runs, as_of)
    reference = drop_reference(
        signals.holdout_score,
        runs,
        policy.drop_reference.windows,
        policy.min_labelled_rows,
        higher_is_better=policy.performance_metric.higher_is_better,
        relax=policy.drop_reference.relax,
    )
    breaches, reasons = find_breaches(signals, policy, reference)
    quality = signals.quality
    if quality is not None and quality.failed:
        # A broken feed is not a changed world: blocked, its breaches are not judged (and so
        # never confirm a later one); warned, the decision goes on with the failure noted.
        reasons.insert(0, quality_reason(quality))
        if quality.blocks:
            not_judged = Breaches(None, None, None, False, None)
            return _decision(
                "data-issue", reasons, not_judged, signals, policy, [], last_retrain_as_of
            )
    breached: list[SignalName] = [name for name in SIGNAL_NAMES if breaches.get(name)]
    same_champion = champion_evidence(
        history, runs, champion, as_of, policy.confirmation.min_spacing
    )
    confirmed, notes = _confirm_breaches(
        breached,
        breaches,
        same_champion,
        policy.confirmation,
        _warning(policy, reference, runs) if breaches.performance else None,
    )
    kinds_now = {*confirmed, *([SEVERE] if breaches.severe and confirmed else [])}
    streak = rejection_streak(runs, kinds_now) if policy.backoff.enabled else Streak()
    cooldown = backed_off(policy.cooldown, policy.backoff, streak.rejected)
    backing_off = cooldown != policy.cooldown
    cooling, cooldown_note = _check_cooldown(
        breaches, cooldown, as_of, last_retrain_as_of, severe_skips=not backing_off
    )
    if breached and cooldown_note:
        if cooling and backing_off and cooldown_note.code == ReasonCode.COOLDOWN:
            cooldown_note = _backoff_note(policy, streak, cooldown, cooldown_note)
        notes.append(cooldown_note)
    else:
        cooling = False
    if streak.reset_by and confirmed:
        notes.append(
            reason(
                ReasonCode.BACKOFF_RESET,
                new_kinds=list(streak.reset_by),
                rejected=streak.reset_rejected,
                cooldown_days=_in_days(policy.cooldown),
            )
        )
    unreachable = policy.backoff.enabled and unreachable_now(
        streak, runs, policy.backoff.unreachable_after
    )
    if unreachable:
        notes.append(_unreachable_note(policy, streak))
    judged = any(
        value is not None
        for value in (breaches.drift, breaches.performance, breaches.estimated_performance)
    )
    action = _choose_action(bool(confirmed), bool(breached), cooling, judged)
    follow = None
    if action != "retrain" and last_retrain_as_of != as_of:
        follow = follow_up(policy.follow_up.enabled, follow_up_evidence, runs)
    if follow is not None:
        action = "retrain"
        notes.insert(0, follow)
    return replace(
        _decision(
            action,
            notes + reasons,
            breaches,
            signals,
            policy,
            confirmed,
            last_retrain_as_of,
            reference,
        ),
        follow_up=follow is not None,
        rejected_in_a_row=streak.rejected,
        threshold_unreachable=unreachable,
    )


def _one_per_window(runs: Sequence[PastRun], as_of: datetime | None) -> list[PastRun]:
    """The runs (oldest first) before as_of, one per window: the latest record of each."""
    newest_first = distinct_windows(list(reversed(runs)), as_of)
    return list(reversed(newest_first))


def _backoff_note(
    policy: PolicyConfig, streak: Streak, cooldown: timedelta, note: Reason
) -> Reason:
    """The cooldown note of a backed-off cooldown: the streak and the numbers behind it."""
    rule = policy.backoff
    capped = rule.max_cooldown is not None and cooldown == max(rule.max_cooldown, policy.cooldown)
    return reason(
        ReasonCode.BACKOFF,
        rejected=streak.rejected,
        since=streak.since.isoformat() if streak.since else None,
        kinds=sorted(streak.kinds),
        cooldown_days=_in_days(cooldown),
        base_cooldown_days=_in_days(policy.cooldown),
        factor=rule.factor,
        exponent=streak.rejected - rule.after + 1,
        capped=capped,
        max_cooldown_days=_in_days(rule.max_cooldown) if rule.max_cooldown else None,
        elapsed_days=note.params["elapsed_days"],
    )


def _unreachable_note(policy: PolicyConfig, streak: Streak) -> Reason:
    """The bar looks unreachable: the streak, and the best metric the champion showed in it."""
    metric = policy.performance_metric
    values = streak.performances
    best = (max(values) if metric.higher_is_better else min(values)) if values else None
    return reason(
        ReasonCode.THRESHOLD_UNREACHABLE,
        rejected=streak.rejected,
        since=streak.since.isoformat() if streak.since else None,
        kinds=sorted(streak.kinds),
        metric=metric.describe(),
        best=best,
        best_worse=best is not None and metric.worse(best, policy.performance_threshold),
        threshold=policy.performance_threshold,
        higher_is_better=metric.higher_is_better,
    )


def _choose_action(confirmed: bool, breached: bool, cooling: bool, judged: bool) -> Action:
    if confirmed and not cooling:
        return "retrain"
    if breached and cooling:
        return "cooldown"
    if breached:
        return "unconfirmed"
    if not judged:
        return "insufficient-data"
    return "none"


def _decision(
    action: Action,
    reasons: list[Reason],
    breaches: Breaches,
    signals: Signals,
    policy: PolicyConfig,
    confirmed: list[str],
    last_retrain_as_of: datetime | None,
    reference: DropReference | None = None,
) -> TriggerDecision:
    """The decision record: the action with every number and threshold behind it."""
    performance = signals.performance
    estimate = signals.estimate
    # Harm is judged only for drift that reached the threshold, as in _signals._drift_breaches.
    harmful = (
        judge_harm(signals, policy)[0]
        if policy.retrain_on_drift == "when-harmful"
        and breaches.drift is not None
        and signals.drift_share >= policy.drift_threshold
        else None
    )
    margin: float | None = None
    rule: str | None = None
    if policy.retrain_on_drift == "when-harmful":
        evidence = _harm_evidence(signals, policy)
        if not isinstance(evidence, dict):
            margin, rule = harm_margin(policy, evidence[2])
        elif policy.harm_margin is not None:
            margin, rule = harm_margin(policy, 0.0)
    labelled_period = (
        (performance.labelled_start, performance.labelled_end)
        if performance and performance.labelled_start and performance.labelled_end
        else None
    )
    return TriggerDecision(
        action=action,
        reasons=texts(reasons),
        breaches=breaches,
        # A data-issue run's breaches are not judged, but the other columns' drift was measured
        # (its summary shows it): kept, as the history shows it.
        drift_share=(
            signals.drift_share if breaches.drift is not None or action == "data-issue" else None
        ),
        drift_threshold=policy.drift_threshold,
        prediction_drift_score=signals.prediction_drift.score if signals.prediction_drift else None,
        performance=performance.value if performance else None,
        performance_threshold=policy.performance_threshold,
        severe_performance_threshold=policy.severe_performance_threshold,
        labelled_rows=performance.labelled_rows if performance else 0,
        labelled_period=labelled_period,
        current_rows=signals.current_rows,
        confirmed=tuple(confirmed),
        last_retrain_as_of=last_retrain_as_of,
        higher_is_better=policy.performance_metric.higher_is_better,
        estimated_performance=estimate.value if estimate else None,
        holdout_score=signals.champion_holdout_score,
        harm_margin=margin,
        drift_harmful=harmful,
        harm_rule=rule,
        performance_drop_limit=performance_drop_limit(
            policy, reference.value if reference else signals.holdout_score
        ),
        metric=policy.performance_metric.describe(),
        reason_codes=tuple(reasons),
        data_quality=signals.quality,
        drop_reference=reference.value if reference and policy.performance_drop else None,
        drop_reference_rule=reference.rule if reference and policy.performance_drop else None,
    )
