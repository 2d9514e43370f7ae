"""The retraining trigger: a pure function of the signals, the recent history and the policy.

Guards, in the order they are applied:
1. minimum samples: a signal from too few rows is "not judged", never a breach;
2. breaches: data drift (only when configured to retrain; with `when-harmful`, the default,
   only when the champion's metric dropped more than harm_drop of its holdout score (or the
   absolute harm_margin) from it, or breaches: the realised metric judges from
   min_labelled_rows labelled rows on, the label-free
   estimate while fewer labels have arrived), prediction drift (only when configured to
   retrain), performance (worse than performance_threshold, or, with performance_drop, worse
   than the champion's own holdout score by more than that share of it), estimated
   performance (the label-free estimate; judged only while some rows of the window await
   their labels: once every row is labelled the realised metric decides);
3. confirmation: a breach counts when seen in M of the last N windows of the same champion
   (this run included; a champion restored by a rollback reads its own windows before it was
   replaced too), separately per signal; for performance an earlier window past the
   drop bar's warning level counts too (drop_reference.warning); a severe performance breach
   skips it;
4. cooldown: no retrain within `cooldown` of the last retrain or promotion, unless severe;
   never a second retrain of the same window (a rerun of a window that already retrained).
Runs are counted by window: an earlier run of this run's window (a retried job, a rerun by
hand) and a second record of one window are no evidence (distinct_windows).
No champion is not decided here: the monitor bootstraps one before measuring anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from tasks.config import ConfirmationConfig, ConfirmationsConfig, PolicyConfig
from tasks.core.backoff import SEVERE, Streak, backed_off, rejection_streak, unreachable_now
from tasks.core.bars import DropReference, drop_reference, warning_limit, warnings
from tasks.core.followup import FollowUpEvidence, follow_up
from tasks.core.quality import QualityReport, quality_reason
from tasks.core.reasons import Reason, ReasonCode, harm_rule, reason, texts
from tasks.core.signals import Signals

Action = Literal["retrain", "none", "insufficient-data", "unconfirmed", "cooldown", "data-issue"]
SignalName = Literal["drift", "prediction_drift", "performance", "estimated_performance"]
SIGNAL_NAMES: tuple[SignalName, ...] = (
    "drift",
    "prediction_drift",
    "performance",
    "estimated_performance",
)


@dataclass(frozen=True)
class PastRun:
    """What the policy needs to know about an earlier monitor run (from the history store)."""

    as_of: datetime
    champion: str | None
    drift_breach: bool | None  # None: not judged
    prediction_drift_breach: bool | None
    performance_breach: bool | None
    retrained: bool
    promoted: bool
    estimated_performance_breach: bool | None = None  # None also for runs before the estimate
    current_rows: int | None = None  # the window's rows (the data-quality row count check)
    # The realised metric and its labelled rows (the drop reference), and a severe breach
    # (the back-off's kinds of breach).
    performance: float | None = None
    labelled_rows: int = 0
    severe: bool = False
    # What became of the run's retrain (the history's status: "rejected", "promoted", or
    # "retrain-requested" while an events-mode promotion has not recorded its verdict); None
    # when not known (the back-off then counts an unpromoted retrain as rejected).
    status: str | None = None


@dataclass(frozen=True)
class Breaches:
    """Which signals of one run breached their thresholds; None where a signal was not judged."""

    drift: bool | None
    prediction_drift: bool | None
    performance: bool | None
    severe: bool
    estimated_performance: bool | None = None

    def get(self, name: SignalName) -> bool | None:
        value: bool | None = getattr(self, name)
        return value


@dataclass(frozen=True)
class TriggerDecision:
    """Whether to retrain, why, and the numbers and thresholds behind it."""

    action: Action
    reasons: tuple[str, ...]  # the sentences; reason_codes holds their codes and numbers
    breaches: Breaches
    drift_share: float | None
    drift_threshold: float
    prediction_drift_score: float | None
    performance: float | None
    performance_threshold: float
    severe_performance_threshold: float | None
    labelled_rows: int
    labelled_period: tuple[str, str] | None
    current_rows: int
    confirmed: tuple[str, ...]
    last_retrain_as_of: datetime | None
    # False for error metrics (mae, rmse, mape, pinball): a breach is a value above the threshold.
    higher_is_better: bool = True
    # The label-free estimate of the metric on the whole window (None: no estimate), the
    # champion's realised metric on its holdout (None: not on record) and, with when-harmful,
    # whether the drift was judged harmful, by which margin (in the metric's units) and where
    # that margin comes from (harm_drop of the holdout score, or harm_margin).
    estimated_performance: float | None = None
    holdout_score: float | None = None
    harm_margin: float | None = None
    drift_harmful: bool | None = None
    harm_rule: str | None = None
    # The worst metric within performance_drop of the champion's holdout score (None: off or
    # no holdout score on record): below it (above, for errors) is a performance breach too.
    performance_drop_limit: float | None = None
    # The metric the thresholds are in, as policy.performance_metric describes it ("" in
    # decisions built before it was recorded).
    metric: str = ""
    # Each reason's stable code and the numbers it quotes, in the order of reasons (empty in
    # decisions recorded before reasons had codes).
    reason_codes: tuple[Reason, ...] = ()
    # The window's data-quality checks (None: data_quality.enabled is off).
    data_quality: QualityReport | None = None
    # What performance_drop was measured from (policy.drop_reference; None: off or no holdout
    # score), in numbers and words; whether this is the follow-up retrain after a change; the
    # rejected challengers in a row the back-off counted, and whether this run says the bar
    # looks unreachable (once a streak).
    drop_reference: float | None = None
    drop_reference_rule: str | None = None
    follow_up: bool = False
    rejected_in_a_row: int = 0
    threshold_unreachable: bool = False

    @property
    def direction(self) -> str:
        """Which way the performance metric is better, in words."""
        return "higher is better" if self.higher_is_better else "lower is better"

    @property
    def worse(self) -> str:
        """The comparison that says a value is worse than a limit: < or (error metrics) >."""
        return "<" if self.higher_is_better else ">"

    @property
    def breached_by_drop(self) -> bool:
        """Whether the performance breach is the drop from the champion's holdout score alone
        (performance_threshold not crossed)."""
        if self.performance is None or self.performance_drop_limit is None:
            return False
        threshold, limit = self.performance_threshold, self.performance_drop_limit
        if self.higher_is_better:
            return self.performance >= threshold and self.performance < limit
        return self.performance <= threshold and self.performance > limit

    @property
    def retrain(self) -> bool:
        return self.action == "retrain"

    @property
    def trigger(self) -> str:
        """One line for a retrain's lineage and event: the confirmed breaches, with numbers."""
        parts: list[str] = []
        for name in self.confirmed:
            if name == "performance" and self.performance is not None:
                severe = self.breaches.severe and self.severe_performance_threshold is not None
                limit = (
                    self.severe_performance_threshold
                    if severe and self.severe_performance_threshold is not None
                    else self.performance_threshold
                )
                kind = "severe performance breach" if severe else "performance breach"
                if self.breached_by_drop:
                    limit = self.performance_drop_limit or limit
                    kind = "performance breach (performance_drop from the holdout score)"
                parts.append(
                    f"{kind}: {self.performance:.3f} {self.worse} {limit:.3f} ({self.direction})"
                )
            elif name == "estimated_performance" and self.estimated_performance is not None:
                parts.append(
                    f"estimated performance breach: {self.estimated_performance:.3f} {self.worse} "
                    f"{self.performance_threshold:.3f} ({self.direction}, no labels needed)"
                )
            elif name == "drift" and self.drift_share is not None:
                parts.append(
                    f"data drift: share {self.drift_share:.2f} >= {self.drift_threshold:.2f}"
                )
            elif name == "prediction_drift" and self.prediction_drift_score is not None:
                parts.append(f"prediction drift: score {self.prediction_drift_score:.3g}")
        if not parts and self.follow_up:
            return "follow-up retrain after a change (no breach)"
        return "; ".join(parts) or self.action

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["last_retrain_as_of"] = (
            self.last_retrain_as_of.isoformat() if self.last_retrain_as_of else None
        )
        return data


def find_breaches(
    signals: Signals, policy: PolicyConfig, reference: DropReference | None = None
) -> tuple[Breaches, list[Reason]]:
    """Judge each signal against its threshold and minimum rows; return the breaches and why.

    reference: what performance_drop is measured from (None: the champion's holdout score)."""
    reasons: list[Reason] = []
    estimate_reasons: list[Reason] = []
    estimated = _estimated_breach(signals, policy, estimate_reasons)
    drift, prediction_drift = _drift_breaches(signals, policy, reasons)
    breach, severe = _performance_breach(signals, policy, reasons, reference)
    reasons.extend(estimate_reasons)
    return Breaches(drift, prediction_drift, breach, severe, estimated), reasons


def harm_margin(policy: PolicyConfig, holdout_score: float) -> tuple[float, str]:
    """The drop from the champion's holdout score that makes drift harmful, in the metric's
    units, and where it comes from: harm_margin when set, else harm_drop of the score."""
    margin, drop = _harm_margin(policy, holdout_score)
    return margin, harm_rule(margin, drop)


def _harm_margin(policy: PolicyConfig, holdout_score: float) -> tuple[float, float | None]:
    """The harm margin and the harm_drop it comes from (None: harm_margin as configured)."""
    if policy.harm_margin is not None:
        return policy.harm_margin, None
    return policy.harm_drop * abs(holdout_score), policy.harm_drop


def judge_harm(
    signals: Signals, policy: PolicyConfig
) -> tuple[bool | None, ReasonCode, dict[str, Any]]:
    """Whether the drift hurts the champion: its metric moved from its own holdout score the
    wrong way by more than the harm margin (harm_drop of that score, or harm_margin), or is
    worse than performance_threshold. The realised metric judges when at least
    min_labelled_rows rows of the window are labelled (labels are the truth; the estimate
    cannot see a change of the labelling), the label-free estimate while fewer are.
    None: neither can judge, so drift retrains as with retrain_on_drift: true.

    Returns the verdict with the code and numbers of the drift reason it makes."""
    judged = _harm_evidence(signals, policy)
    if isinstance(judged, dict):
        return None, ReasonCode.DATA_DRIFT_HARM_UNKNOWN, judged
    kind, value, holdout_score = judged
    metric = policy.performance_metric
    drop = holdout_score - value if metric.higher_is_better else value - holdout_score
    breach = metric.worse(value, policy.performance_threshold)
    margin, harm_drop = _harm_margin(policy, holdout_score)
    numbers: dict[str, Any] = {
        "evidence": kind,
        "metric": metric.describe(),
        "value": value,
        "holdout_score": holdout_score,
        "drop": drop,
        "higher_is_better": metric.higher_is_better,
        "harm_margin": margin,
        "harm_drop": harm_drop,
    }
    if breach:
        return (
            True,
            ReasonCode.DATA_DRIFT_HARMFUL,
            {
                **numbers,
                "worse_than_threshold": True,
                "performance_threshold": policy.performance_threshold,
            },
        )
    if drop > margin:
        return True, ReasonCode.DATA_DRIFT_HARMFUL, numbers
    return False, ReasonCode.DATA_DRIFT_NOT_HARMFUL, numbers


def _harm_evidence(
    signals: Signals, policy: PolicyConfig
) -> tuple[str, float, float] | dict[str, Any]:
    """Which metric judges the harm of drift ("realised" on at least min_labelled_rows labelled
    rows, else "estimated"), its value and the champion's holdout score; or why none can
    (the numbers of the data-drift-harm-unknown reason)."""
    estimate = signals.estimate
    performance = signals.performance
    labelled = performance.labelled_rows if performance else 0
    holdout_score = signals.champion_holdout_score
    if performance is not None and labelled >= policy.min_labelled_rows:
        if holdout_score is None:
            return {"missing": "holdout-score"}
        return "realised", performance.value, holdout_score
    if estimate is not None:
        return "estimated", estimate.value, estimate.holdout_score
    return {
        "missing": "estimate",
        "estimate_note": signals.estimate_note,
        "labelled_rows": labelled,
        "min_labelled_rows": policy.min_labelled_rows,
    }


def _estimated_breach(signals: Signals, policy: PolicyConfig, reasons: list[Reason]) -> bool | None:
    """The estimated performance breach (None: not judged), with its reason."""
    if not policy.estimated_performance.enabled:
        return None
    estimate = signals.estimate
    if estimate is None:
        if signals.estimate_note:
            reasons.append(reason(ReasonCode.ESTIMATE_MISSING, note=signals.estimate_note))
        return None
    if estimate.rows < policy.min_current_rows:
        reasons.append(
            reason(
                ReasonCode.ESTIMATE_INSUFFICIENT_DATA,
                rows=estimate.rows,
                min_current_rows=policy.min_current_rows,
            )
        )
        return None
    metric = policy.performance_metric
    breach = metric.worse(estimate.value, policy.performance_threshold)
    performance = signals.performance
    labelled = performance.labelled_rows if performance else 0
    numbers: dict[str, Any] = {
        "metric": estimate.metric,
        "value": estimate.value,
        "threshold": policy.performance_threshold,
        "higher_is_better": metric.higher_is_better,
        "breach": breach,
        "rows": estimate.rows,
        "labelled_rows": labelled,
    }
    if labelled >= max(signals.current_rows, policy.min_labelled_rows):
        reasons.append(Reason(ReasonCode.ESTIMATE_REPORTED_ONLY, numbers))
        return None
    if not breach:
        reasons.append(Reason(ReasonCode.ESTIMATE_OK, numbers))
        return False
    if not policy.estimated_performance.retrain:
        reasons.append(Reason(ReasonCode.ESTIMATE_BREACH_IGNORED, numbers))
        return False
    reasons.append(Reason(ReasonCode.ESTIMATE_BREACH, numbers))
    return True


def _drift_breaches(
    signals: Signals, policy: PolicyConfig, reasons: list[Reason]
) -> tuple[bool | None, bool | None]:
    """Data drift and prediction drift breaches (None: too few rows to judge), with reasons."""
    if signals.current_rows < policy.min_current_rows:
        reasons.append(
            reason(
                ReasonCode.DRIFT_INSUFFICIENT_DATA,
                current_rows=signals.current_rows,
                min_current_rows=policy.min_current_rows,
            )
        )
        return None, None
    drift = signals.drift_share >= policy.drift_threshold
    numbers: dict[str, Any] = {
        "drift_share": signals.drift_share,
        "drift_threshold": policy.drift_threshold,
    }
    if not drift:
        reasons.append(Reason(ReasonCode.NO_DATA_DRIFT, numbers))
    else:
        numbers["drifted_columns"] = signals.drifted_columns
        code = ReasonCode.DATA_DRIFT
        if policy.retrain_on_drift is False:
            code, drift = ReasonCode.DATA_DRIFT_IGNORED, False
        elif policy.retrain_on_drift == "when-harmful":
            harmful, code, harm = judge_harm(signals, policy)
            numbers.update(harm)
            drift = harmful is not False
        reasons.append(Reason(code, numbers))
    column = signals.prediction_drift
    if column is None:
        return drift, None
    prediction_drift = column.drifted
    code = ReasonCode.PREDICTION_DRIFT if column.drifted else ReasonCode.NO_PREDICTION_DRIFT
    if column.drifted and not policy.prediction_drift.retrain:
        code, prediction_drift = ReasonCode.PREDICTION_DRIFT_IGNORED, False
    reasons.append(
        reason(code, method=column.method, score=column.score, threshold=column.threshold)
    )
    return drift, prediction_drift


def _performance_breach(
    signals: Signals,
    policy: PolicyConfig,
    reasons: list[Reason],
    reference: DropReference | None = None,
) -> tuple[bool | None, bool]:
    """The performance breach (None: too few labelled rows) and whether it is severe."""
    performance = signals.performance
    labelled: dict[str, Any] = {
        "labelled_rows": performance.labelled_rows if performance else 0,
        "labelled_start": performance.labelled_start if performance else None,
        "labelled_end": performance.labelled_end if performance else None,
    }
    if performance is None or labelled["labelled_rows"] < policy.min_labelled_rows:
        reasons.append(
            reason(
                ReasonCode.PERFORMANCE_INSUFFICIENT_DATA,
                **labelled,
                min_labelled_rows=policy.min_labelled_rows,
            )
        )
        return None, False
    metric = policy.performance_metric
    value, threshold = performance.value, policy.performance_threshold
    breach = metric.worse(value, threshold)
    severe_threshold = policy.severe_performance_threshold
    severe = severe_threshold is not None and metric.worse(value, severe_threshold)
    drop_limit = performance_drop_limit(
        policy, reference.value if reference else signals.holdout_score
    )
    dropped = drop_limit is not None and metric.worse(value, drop_limit)
    numbers: dict[str, Any] = {
        "metric": performance.metric,
        "value": value,
        "threshold": threshold,
        "higher_is_better": metric.higher_is_better,
        **labelled,
    }
    drop: dict[str, Any] = {
        "drop_limit": drop_limit,
        "performance_drop": policy.performance_drop,
        "holdout_score": signals.holdout_score,
        # The median with the first windows, recorded when they moved it from the holdout score.
        **(reference.params() if reference and reference.windows else {}),
    }
    if severe:
        code = ReasonCode.SEVERE_PERFORMANCE_BREACH
        numbers["severe_threshold"] = severe_threshold
    elif breach:
        code = ReasonCode.PERFORMANCE_BREACH
    elif dropped:
        code = ReasonCode.PERFORMANCE_DROP
        numbers.update(drop)
    else:
        code = ReasonCode.PERFORMANCE_OK
        if drop_limit is not None:
            numbers.update(drop)
    reasons.append(Reason(code, numbers))
    return breach or dropped, severe


def performance_drop_limit(policy: PolicyConfig, holdout_score: float | None) -> float | None:
    """The worst metric within performance_drop of the champion's holdout score (None: off, no
    score on record, or a score of 0, from which no share can be taken)."""
    drop = policy.performance_drop
    if drop is None or holdout_score is None or holdout_score == 0:
        return None
    change = drop * abs(holdout_score)
    if policy.performance_metric.higher_is_better:
        return holdout_score - change
    return holdout_score + change


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
    # Harm is judged only for drift that reached the threshold, as in _drift_breaches.
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


def _in_days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400
