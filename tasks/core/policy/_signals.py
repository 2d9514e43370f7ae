"""Each signal judged against its threshold: data and prediction drift (and the harm of drift),
performance with its drop from the holdout score, and the label-free estimate."""

from __future__ import annotations

from typing import Any

from tasks.config import PolicyConfig
from tasks.core.bars import DropReference
from tasks.core.policy._records import Breaches
from tasks.core.reasons import Reason, ReasonCode, harm_rule, reason
from tasks.core.signals import Signals


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
