"""What the steps and flows end in: statuses as types, the monitor's result and its events.

Pure values: the flows return them, the renderers print them, the Prefect layer publishes them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from tasks.core.gate import Comparison
from tasks.core.numbers import format_number
from tasks.core.policy import TriggerDecision
from tasks.core.reasons import ReasonCode, reason_records
from tasks.core.signals import Signals
from tasks.core.watch import WatchDecision
from tasks.core.windows import Window

RetrainStatus = Literal["registered", "dropped", "duplicate"]
"""registered: a new challenger; dropped: another retrain of the model was running (on_busy:
drop); duplicate: the request was already handled (at-least-once event delivery)."""

PromotionStatus = Literal["promoted", "rejected", "dropped", "duplicate"]
"""promoted or rejected: the comparison's verdict (and any approval) was applied; dropped:
another promotion was running; duplicate: the challenger was already judged."""

MonitorStatus = Literal[
    "healthy",
    "drift-noted",
    "insufficient-data",
    "unconfirmed",
    "cooldown",
    "data-issue",
    "retrain-requested",
    "retrain-dropped",
    "retrain-duplicate",
    "promoted",
    "rejected",
    "dropped",
    "duplicate",
    "rolled-back",
]
"""healthy / drift-noted: no retrain (drift-noted: some column drifted, below the policy's
bar); insufficient-data, unconfirmed, cooldown: the policy's reasons not to retrain yet;
data-issue: the window failed a data-quality check (data_quality.action block), no retrain;
retrain-requested: events mode asked the retrain deployment; retrain-*: the inline retrain's
status when it registered nothing; rolled-back: the watch after a promotion restored the
previous champion (no retrain that run); otherwise the inline promotion's status."""


def status_without_retrain(decision: TriggerDecision, signals: Signals) -> MonitorStatus:
    """The monitor's status when the policy does not retrain."""
    if decision.action == "none":
        return "drift-noted" if signals.drifted_columns else "healthy"
    if decision.action == "retrain":
        raise ValueError("the decision is to retrain: its status comes from the retrain")
    return decision.action


def status_after_retrain(
    retrain: RetrainStatus, promotion: PromotionStatus | None
) -> MonitorStatus:
    """The monitor's status after an inline retrain and, when it registered one, the promotion."""
    if promotion is not None:
        return promotion
    if retrain == "registered":
        raise ValueError("a registered challenger is always judged: pass the promotion's status")
    return "retrain-dropped" if retrain == "dropped" else "retrain-duplicate"


@dataclass(frozen=True)
class RetrainRequest:
    """What a monitor run in events mode asked for: the request id and why.

    The id is the monitor's flow run id (or a local one); the retrain and promote runs the
    event starts carry it, so the chain can be followed from either end.
    """

    event: str
    request_id: str
    reason: str


def describe_decision(decision: TriggerDecision) -> str:
    """One log line: the trigger decision and, for a retrain, the confirmed breaches."""
    if decision.retrain:
        return f"decision RETRAIN: {decision.trigger}"
    why = "; ".join(decision.reasons) or "no reason recorded"
    return f"decision {decision.action.upper()}: {why}"


def describe_trigger(reason: str, request_id: str | None) -> str:
    """One line naming what started a retrain or promote run: the reason and the request id.

    A request id is the flow run id of the monitor that asked for the retrain.
    """
    if request_id:
        return f"triggered by request {request_id} (the monitor run's id): {reason}"
    return f"triggered: {reason}"


@dataclass(frozen=True)
class DashboardUpdate:
    """Whether a monitor run's snapshot reached Evidently's UI: where it went, or the problem.

    A dashboard is for people: a problem with it never changes the run's decision.
    """

    updated: bool
    detail: str  # the project and how to open it, or what went wrong

    def describe(self) -> str:
        if self.updated:
            return self.detail
        return f"NOT updated: {self.detail} (the decision stands)"


@dataclass(frozen=True)
class ReportsUpload:
    """Whether a monitor run's HTML reports and summary reached the MLflow tracking server (as
    the artifacts of a monitoring run in the model's experiment): its page, or the problem.

    Like the dashboard, reports are for people: a problem with them never changes the run's
    decision. When the upload fails the reports stay on this machine, in local_copy.
    """

    uploaded: bool
    detail: str  # the run's name and what it holds, or what went wrong
    url: str | None = None  # the monitoring run's page in the MLflow UI
    local_copy: str | None = None  # where the reports stayed when they were not uploaded

    def describe(self) -> str:
        if self.uploaded:
            return f"MLflow run {self.url} ({self.detail})"
        kept = f"; kept on this machine in {self.local_copy}" if self.local_copy else ""
        return f"NOT uploaded to MLflow: {self.detail}{kept} (the decision stands)"


@dataclass(frozen=True)
class MonitorResult:
    """What one monitor run found, decided and did."""

    status: MonitorStatus
    model_name: str
    window: Window
    champion_before: str | None
    champion_after: str | None
    signals: Signals
    decision: TriggerDecision
    comparison: Comparison | None
    bootstrap: Comparison | None
    retrain_request: RetrainRequest | None = None  # events mode: the request it emitted
    dashboard: DashboardUpdate | None = None  # where the run went in Evidently's UI, or why not
    # A rerun of a window already in the monitoring history: what its record replaced.
    rerun: str | None = None
    # registry.kind mlflow: where the run's reports went on the tracking server, or why not.
    reports: ReportsUpload | None = None
    # The watch after a promotion: what it decided at this run (None: nothing watched).
    watch: WatchDecision | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "model_name": self.model_name,
            "window": self.window.to_dict(),
            "champion_before": self.champion_before,
            "champion_after": self.champion_after,
            "signals": self.signals.to_dict(),
            "decision": self.decision.to_dict(),
            "comparison": self.comparison.to_dict() if self.comparison else None,
            "bootstrap": self.bootstrap.to_dict() if self.bootstrap else None,
            "retrain_request": asdict(self.retrain_request) if self.retrain_request else None,
            "dashboard": asdict(self.dashboard) if self.dashboard else None,
            "rerun": self.rerun,
            "reports": asdict(self.reports) if self.reports else None,
            "watch": self.watch.to_dict() if self.watch else None,
        }


def monitor_events(decision: TriggerDecision, signals: Signals) -> list[tuple[str, dict[str, Any]]]:
    """The events a monitor run reports (name, payload): what it found, with the key numbers.

    Each payload says whether the breach is confirmed by the history (alerts notify on confirmed
    drift only) and carries a one-line summary in words for notifications.
    """
    # (event name, the breach's name in decision.confirmed, what the event says of it)
    found: list[tuple[str, str, dict[str, Any]]] = []
    breaches = decision.breaches
    if breaches.drift:
        drifted = signals.drifted_columns
        found.append(
            (
                "drift.detected",
                "drift",
                {
                    "drift_share": decision.drift_share,
                    "drift_threshold": decision.drift_threshold,
                    "drifted_columns": drifted,
                    "summary": (
                        f"share of drifted columns {format_number(decision.drift_share)} >= "
                        f"threshold {format_number(decision.drift_threshold)} "
                        f"({', '.join(drifted) or 'none'}); decision {decision.action}"
                    ),
                },
            )
        )
    if breaches.prediction_drift:
        found.append(
            (
                "prediction-drift.detected",
                "prediction_drift",
                {
                    "score": decision.prediction_drift_score,
                    "summary": (
                        f"prediction drift score "
                        f"{format_number(decision.prediction_drift_score, 'general')}; "
                        f"decision {decision.action}"
                    ),
                },
            )
        )
    if breaches.performance:
        severe = " (severe)" if breaches.severe else ""
        found.append(
            (
                "performance.degraded",
                "performance",
                {
                    "performance": decision.performance,
                    "performance_threshold": decision.performance_threshold,
                    "direction": decision.direction,
                    "severe": breaches.severe,
                    "labelled_rows": decision.labelled_rows,
                    "performance_drop_limit": decision.performance_drop_limit,
                    "holdout_score": decision.holdout_score,
                    "summary": (
                        f"{_metric_of(signals)} {format_number(decision.performance)} "
                        f"{decision.worse} {_performance_bar(decision)}{severe} on "
                        f"{decision.labelled_rows} labelled rows; decision {decision.action}"
                    ),
                },
            )
        )
    if breaches.estimated_performance and decision.estimated_performance is not None:
        worse = "<" if decision.higher_is_better else ">"
        found.append(
            (
                "performance.estimate-degraded",
                "estimated_performance",
                {
                    "estimated_performance": decision.estimated_performance,
                    "performance_threshold": decision.performance_threshold,
                    "direction": decision.direction,
                    "holdout_score": decision.holdout_score,
                    "summary": (
                        f"estimated {signals.estimate.metric if signals.estimate else 'metric'} "
                        f"{format_number(decision.estimated_performance)} {worse} threshold "
                        f"{format_number(decision.performance_threshold)} on {signals.current_rows} "
                        f"rows, before their labels (label-free estimate); decision "
                        f"{decision.action}"
                    ),
                },
            )
        )
    quality = decision.data_quality
    if quality is not None and quality.failed:
        found.append(
            (
                "data.quality-failed",
                "data_quality",  # acted on at once: no confirmation
                {
                    "failing_columns": quality.failing_columns,
                    "failures": [finding.to_dict() for finding in quality.failures],
                    "action": quality.action,
                    "summary": (
                        f"the data looks broken, not the model: {quality.summary()}; "
                        f"decision {decision.action}"
                    ),
                },
            )
        )
    if decision.threshold_unreachable:
        said = next(
            (r for r in decision.reason_codes if r.code == ReasonCode.THRESHOLD_UNREACHABLE), None
        )
        found.append(
            (
                "threshold.unreachable",
                "performance",
                {
                    "confirmed": True,  # by the history: challengers rejected in a row
                    "rejected_in_a_row": decision.rejected_in_a_row,
                    "performance_threshold": decision.performance_threshold,
                    "direction": decision.direction,
                    "summary": (said.text if said else "challengers keep failing the gate")
                    + f"; decision {decision.action}",
                },
            )
        )
    common = {
        "decision": decision.action,
        "reasons": list(decision.reasons),
        "reason_codes": reason_records(decision.reason_codes),
    }
    return [
        (
            name,
            {
                **common,
                "confirmed": breach in decision.confirmed or breach == "data_quality",
                **payload,
            },
        )
        for name, breach, payload in found
    ]


def _metric_of(signals: Signals) -> str:
    return signals.performance.metric if signals.performance else "performance"


def comparison_summary(comparison: Comparison) -> str:
    """The comparison's verdict and key numbers in one line, for notifications."""
    rules = comparison.rules
    challenger = (
        f"challenger {comparison.challenger.version} {format_number(comparison.challenger.score)}"
    )
    if comparison.champion is None:
        against = "no champion yet (bootstrap)"
    else:
        against = (
            f"champion {comparison.champion.version} {format_number(comparison.champion.score)}"
        )
    line = (
        f"{comparison.verdict}: {rules.metric} {challenger} vs {against} on "
        f"{comparison.holdout_rows} holdout rows"
    )
    if comparison.difference is not None:
        line += f", difference {format_number(comparison.difference)}"
    if comparison.interval is not None:
        interval = comparison.interval
        line += (
            f" ({interval.confidence:.0%} interval {format_number(interval.lower)} .. "
            f"{format_number(interval.upper)}; needs lower bound >= "
            f"{format_number(rules.min_improvement)})"
        )
    return line


def _performance_bar(decision: TriggerDecision) -> str:
    """The limit the performance crossed, in words: the threshold, or the drop from the
    champion's holdout score."""
    if decision.breached_by_drop and decision.performance_drop_limit is not None:
        return (
            f"{format_number(decision.performance_drop_limit)} (performance_drop from the "
            f"champion's holdout score {format_number(decision.holdout_score)})"
        )
    return f"threshold {format_number(decision.performance_threshold)}"
