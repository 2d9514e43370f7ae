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
3. confirmation: a breach counts when seen in M of the last N runs of the same champion
   (this run included), separately per signal; a severe performance breach skips it;
4. cooldown: no retrain within `cooldown` of the last retrain or promotion, unless severe;
   never a second retrain of the same window (a rerun of a window that already retrained).
Runs are counted by window: an earlier run of this run's window (a retried job, a rerun by
hand) and a second record of one window are no evidence (distinct_windows).
No champion is not decided here: the monitor bootstraps one before measuring anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from tasks.config import ConfirmationConfig, ConfirmationsConfig, PolicyConfig
from tasks.core.signals import Signals

Action = Literal["retrain", "none", "insufficient-data", "unconfirmed", "cooldown"]
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
    reasons: tuple[str, ...]
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
        return "; ".join(parts) or self.action

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["last_retrain_as_of"] = (
            self.last_retrain_as_of.isoformat() if self.last_retrain_as_of else None
        )
        return data


def find_breaches(signals: Signals, policy: PolicyConfig) -> tuple[Breaches, list[str]]:
    """Judge each signal against its threshold and minimum rows; return the breaches and why."""
    reasons: list[str] = []
    estimate_reasons: list[str] = []
    estimated = _estimated_breach(signals, policy, estimate_reasons)
    drift, prediction_drift = _drift_breaches(signals, policy, reasons)
    breach, severe = _performance_breach(signals, policy, reasons)
    reasons.extend(estimate_reasons)
    return Breaches(drift, prediction_drift, breach, severe, estimated), reasons


def harm_margin(policy: PolicyConfig, holdout_score: float) -> tuple[float, str]:
    """The drop from the champion's holdout score that makes drift harmful, in the metric's
    units, and where it comes from: harm_margin when set, else harm_drop of the score."""
    if policy.harm_margin is not None:
        return policy.harm_margin, f"harm_margin {policy.harm_margin:.3f}, in the metric's units"
    margin = policy.harm_drop * abs(holdout_score)
    return margin, f"harm margin {margin:.3f}: harm_drop {policy.harm_drop:.0%} of that score"


def judge_harm(signals: Signals, policy: PolicyConfig) -> tuple[bool | None, str]:
    """Whether the drift hurts the champion: its metric moved from its own holdout score the
    wrong way by more than the harm margin (harm_drop of that score, or harm_margin), or is
    worse than performance_threshold. The realised metric judges when at least
    min_labelled_rows rows of the window are labelled (labels are the truth; the estimate
    cannot see a change of the labelling), the label-free estimate while fewer are.
    None: neither can judge, so drift retrains as with retrain_on_drift: true."""
    judged = _harm_evidence(signals, policy)
    if isinstance(judged, str):
        return None, f"harm cannot be judged ({judged}), so drift retrains as with true"
    kind, value, holdout_score = judged
    metric = policy.performance_metric
    drop = holdout_score - value if metric.higher_is_better else value - holdout_score
    breach = metric.worse(value, policy.performance_threshold)
    side = "worse" if drop > 0 else "better"
    margin, rule = harm_margin(policy, holdout_score)
    numbers = (
        f"{kind} {metric.describe()} {value:.3f}, {abs(drop):.3f} {side} than the champion's "
        f"holdout score {holdout_score:.3f} ({metric.direction}; {rule})"
    )
    if breach:
        worse = "<" if metric.higher_is_better else ">"
        return True, (
            f"harmful: {numbers}; it is {worse} performance_threshold "
            f"{policy.performance_threshold:.3f}"
        )
    if drop > margin:
        return True, f"harmful: {numbers}"
    return False, f"not harmful: {numbers}, so it alone does not retrain"


def _harm_evidence(signals: Signals, policy: PolicyConfig) -> tuple[str, float, float] | str:
    """Which metric judges the harm of drift ("realised" on at least min_labelled_rows labelled
    rows, else "estimated"), its value and the champion's holdout score; or why none can."""
    estimate = signals.estimate
    performance = signals.performance
    labelled = performance.labelled_rows if performance else 0
    holdout_score = signals.champion_holdout_score
    if performance is not None and labelled >= policy.min_labelled_rows:
        if holdout_score is None:
            return (
                "the champion has no holdout score on record (registered before it was kept, "
                "or without labelled holdout rows)"
            )
        return "realised", performance.value, holdout_score
    if estimate is not None:
        return "estimated", estimate.value, estimate.holdout_score
    return (
        f"no performance estimate ({signals.estimate_note or 'none was computed'}) and "
        f"{labelled} labelled rows < min_labelled_rows {policy.min_labelled_rows}"
    )


def _estimated_breach(signals: Signals, policy: PolicyConfig, reasons: list[str]) -> bool | None:
    """The estimated performance breach (None: not judged), with its reason."""
    if not policy.estimated_performance.enabled:
        return None
    estimate = signals.estimate
    if estimate is None:
        if signals.estimate_note:
            reasons.append(f"no performance estimate: {signals.estimate_note}")
        return None
    if estimate.rows < policy.min_current_rows:
        reasons.append(
            f"estimated performance: insufficient data, {estimate.rows} rows "
            f"< min_current_rows {policy.min_current_rows}"
        )
        return None
    metric = policy.performance_metric
    worse, better = ("<", ">=") if metric.higher_is_better else (">", "<=")
    breach = metric.worse(estimate.value, policy.performance_threshold)
    performance = signals.performance
    labelled = performance.labelled_rows if performance else 0
    numbers = (
        f"{estimate.metric} {estimate.value:.3f} {worse if breach else better} "
        f"performance_threshold {policy.performance_threshold:.3f} ({metric.direction}), "
        f"estimated on {estimate.rows} rows ({labelled} labelled)"
    )
    if labelled >= max(signals.current_rows, policy.min_labelled_rows):
        reasons.append(
            f"estimated performance {numbers}: reported only, every row of the window is "
            "labelled, so the realised metric decides"
        )
        return None
    if not breach:
        reasons.append(f"estimated performance ok: {numbers}")
        return False
    reasons.append(f"estimated performance breach: {numbers}")
    if not policy.estimated_performance.retrain:
        reasons[-1] += "; estimated_performance.retrain is off, so it alone does not retrain"
        return False
    return True


def _drift_breaches(
    signals: Signals, policy: PolicyConfig, reasons: list[str]
) -> tuple[bool | None, bool | None]:
    """Data drift and prediction drift breaches (None: too few rows to judge), with reasons."""
    if signals.current_rows < policy.min_current_rows:
        reasons.append(
            f"drift: insufficient data, {signals.current_rows} rows in the window "
            f"< min_current_rows {policy.min_current_rows}"
        )
        return None, None
    drift = signals.drift_share >= policy.drift_threshold
    if drift:
        reasons.append(
            f"data drift: {signals.drift_share:.3f} of columns drifted >= drift_threshold "
            f"{policy.drift_threshold:.3f} ({', '.join(signals.drifted_columns)})"
        )
    else:
        reasons.append(
            f"no data drift: {signals.drift_share:.3f} of columns drifted "
            f"< drift_threshold {policy.drift_threshold:.3f}"
        )
    if policy.retrain_on_drift is False and drift:
        reasons[-1] += "; retrain_on_drift is off, so it alone does not retrain"
        drift = False
    elif policy.retrain_on_drift == "when-harmful" and drift:
        harmful, note = judge_harm(signals, policy)
        reasons[-1] += f"; retrain_on_drift when-harmful: {note}"
        drift = harmful is not False
    column = signals.prediction_drift
    if column is None:
        return drift, None
    prediction_drift = column.drifted
    verdict = "drifted" if column.drifted else "no drift"
    reasons.append(
        f"prediction drift: {verdict}, {column.method} {column.score:.4g} "
        f"(threshold {column.threshold:g})"
    )
    if column.drifted and not policy.prediction_drift.retrain:
        reasons[-1] += "; prediction_drift.retrain is off, so it alone does not retrain"
        prediction_drift = False
    return drift, prediction_drift


def _performance_breach(
    signals: Signals, policy: PolicyConfig, reasons: list[str]
) -> tuple[bool | None, bool]:
    """The performance breach (None: too few labelled rows) and whether it is severe."""
    performance = signals.performance
    labelled = performance.labelled_rows if performance else 0
    period = (
        f" from {performance.labelled_start} to {performance.labelled_end}"
        if performance and performance.labelled_start
        else ""
    )
    if performance is None or labelled < policy.min_labelled_rows:
        reasons.append(
            f"performance: insufficient data, {labelled} labelled rows{period} "
            f"< min_labelled_rows {policy.min_labelled_rows} (unlabelled rows count for drift only)"
        )
        return None, False
    on = f"on {labelled} labelled rows{period}"
    metric = policy.performance_metric
    value, threshold = performance.value, policy.performance_threshold
    worse, better = ("<", ">=") if metric.higher_is_better else (">", "<=")
    direction = f"({metric.direction})"
    breach = metric.worse(value, threshold)
    severe_threshold = policy.severe_performance_threshold
    severe = severe_threshold is not None and metric.worse(value, severe_threshold)
    drop_limit = performance_drop_limit(policy, signals.holdout_score)
    dropped = drop_limit is not None and metric.worse(value, drop_limit)
    if severe:
        reasons.append(
            f"severe performance breach: {performance.metric} {value:.3f} {worse} "
            f"severe_performance_threshold {severe_threshold:.3f} {direction} {on}"
        )
    elif breach:
        reasons.append(
            f"performance: {performance.metric} {value:.3f} {worse} "
            f"performance_threshold {threshold:.3f} {direction} {on}"
        )
    elif dropped and drop_limit is not None:
        reasons.append(
            f"performance: {performance.metric} {value:.3f} {worse} {drop_limit:.3f}, more than "
            f"performance_drop {policy.performance_drop:.0%} worse than the champion's holdout "
            f"score {signals.holdout_score:.3f} {direction} {on} (performance_threshold "
            f"{threshold:.3f} not crossed)"
        )
    else:
        reasons.append(
            f"performance ok: {performance.metric} {value:.3f} {better} "
            f"performance_threshold {threshold:.3f} {direction} {on}"
        )
        if drop_limit is not None:
            reasons[-1] += (
                f"; within performance_drop {policy.performance_drop:.0%} of the champion's "
                f"holdout score {signals.holdout_score:.3f} (limit {drop_limit:.3f})"
            )
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


def _confirm(
    name: SignalName,
    breaches: Breaches,
    earlier: Sequence[PastRun],
    rule: ConfirmationConfig,
    spacing: timedelta,
) -> tuple[bool, str]:
    """M of the last N runs (this one included) breached this signal."""
    past = [getattr(run, f"{name}_breach") for run in earlier[: rule.runs - 1]]
    seen = 1 + sum(1 for value in past if value)
    looked = 1 + len(past)
    label = name.replace("_", " ")
    confirmed = seen >= rule.breaches
    verdict = "confirmed" if confirmed else "not confirmed yet"
    return confirmed, (
        f"{label} breach {verdict}: {seen} of the last {looked} runs of this champion "
        f"(needs {rule.breaches} of {rule.runs}"
        + (f", runs at least {_days(spacing)} apart)" if spacing else ")")
    )


def decide_retrain(
    signals: Signals,
    policy: PolicyConfig,
    history: Sequence[PastRun] = (),
    *,
    as_of: datetime | None = None,
    champion: str | None = None,
    last_retrain_as_of: datetime | None = None,
) -> TriggerDecision:
    """Decide on this run's signals with the earlier runs (newest first) of the history.

    Args:
        history: earlier monitor runs, newest first (spaced by confirmation.min_spacing, as
            MonitorHistory.recent returns them); only those of `champion` confirm a breach,
            one per window, none of this run's own window (distinct_windows).
        as_of: the end of this run's window; the cooldown is measured from it.
        last_retrain_as_of: as_of of the last run that retrained or promoted, if any (this
            window's own earlier run included: a rerun never retrains a window twice).
    """
    breaches, reasons = find_breaches(signals, policy)
    breached: list[SignalName] = [name for name in SIGNAL_NAMES if breaches.get(name)]
    same_champion = [run for run in distinct_windows(history, as_of) if run.champion == champion]
    confirmed, notes = _confirm_breaches(breached, breaches, same_champion, policy.confirmation)
    cooling, cooldown_note = _check_cooldown(breaches, policy.cooldown, as_of, last_retrain_as_of)
    if breached and cooldown_note:
        notes.append(cooldown_note)
    else:
        cooling = False
    judged = any(
        value is not None
        for value in (breaches.drift, breaches.performance, breaches.estimated_performance)
    )
    return _decision(
        _choose_action(bool(confirmed), bool(breached), cooling, judged),
        notes + reasons,
        breaches,
        signals,
        policy,
        confirmed,
        last_retrain_as_of,
    )


def _confirm_breaches(
    breached: Sequence[SignalName],
    breaches: Breaches,
    same_champion: Sequence[PastRun],
    rules: ConfirmationsConfig,
) -> tuple[list[str], list[str]]:
    """The breaches confirmed by enough earlier runs (a severe performance breach needs none),
    and a note on each breach's confirmation."""
    confirmed: list[str] = []
    notes: list[str] = []
    for name in breached:
        ok, note = _confirm(name, breaches, same_champion, getattr(rules, name), rules.min_spacing)
        if breaches.severe and name == "performance":
            ok, note = True, "severe performance breach: confirmation skipped"
        notes.append(note)
        if ok:
            confirmed.append(name)
    return confirmed, notes


def _check_cooldown(
    breaches: Breaches,
    cooldown: timedelta,
    as_of: datetime | None,
    last_retrain_as_of: datetime | None,
) -> tuple[bool, str | None]:
    """Whether the last retrain is too recent to retrain again (a severe breach skips the
    cooldown, but not a retrain of this same window), with the note that says so; (False,
    None) when no retrain is that recent."""
    if last_retrain_as_of is None or as_of is None:
        return False, None
    if last_retrain_as_of == as_of:
        return True, (
            f"cooldown: an earlier run of this window (as_of {as_of:%Y-%m-%d %H:%M}) already "
            "retrained or promoted; a rerun of the same window does not retrain it again, even "
            "on a severe breach (run flows/retrain.py to retrain by hand)"
        )
    elapsed = as_of - last_retrain_as_of
    if elapsed >= cooldown:
        return False, None
    if breaches.severe:
        return False, (
            f"cooldown skipped: severe breach, {_days(elapsed)} since the last retrain "
            f"or promotion (cooldown {_days(cooldown)})"
        )
    return True, (
        f"cooldown: {_days(elapsed)} since the last retrain or promotion "
        f"< cooldown {_days(cooldown)}; not retraining"
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
    reasons: list[str],
    breaches: Breaches,
    signals: Signals,
    policy: PolicyConfig,
    confirmed: list[str],
    last_retrain_as_of: datetime | None,
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
        if not isinstance(evidence, str):
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
        reasons=tuple(reasons),
        breaches=breaches,
        drift_share=signals.drift_share if breaches.drift is not None else None,
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
        performance_drop_limit=performance_drop_limit(policy, signals.holdout_score),
        metric=policy.performance_metric.describe(),
    )


def _days(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:g}d" if days == int(days) else f"{days:.2f}d"
