"""Human-readable summaries of a monitoring run and of a comparison (pure text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.gate import Comparison
from tasks.policy import TriggerDecision
from tasks.signals import Signals
from tasks.windows import Window


@dataclass(frozen=True)
class MonitorResult:
    """What one monitor run found, decided and did. status is one of: healthy, drift-noted,
    insufficient-data, promoted, rejected, retrain-requested (events mode), retrain-dropped
    (another retrain was running)."""

    status: str
    model_name: str
    window: Window
    champion_before: str | None
    champion_after: str | None
    signals: Signals
    decision: TriggerDecision
    comparison: Comparison | None
    bootstrap: Comparison | None

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
        }


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def comparison_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """The comparison as table rows (one per model plus the difference)."""
    rows = []
    for role, contender in (
        ("champion", comparison.champion),
        ("challenger", comparison.challenger),
    ):
        if contender is None:
            continue
        rows.append(
            {
                "role": role,
                "version": contender.version,
                comparison.rules.metric: contender.score,
                "trained on": f"{contender.training_window['start'][:10]} .. {contender.training_window['end'][:10]}",
            }
        )
    rows.append(
        {
            "role": "difference",
            "version": f"needs >= {comparison.rules.min_improvement:+.3f}",
            comparison.rules.metric: comparison.difference,
            "trained on": "",
        }
    )
    return rows


def render_comparison(comparison: Comparison) -> str:
    """The comparison in words: both scores, the difference, the rules, the verdict and why."""
    holdout = Window.from_dict(comparison.holdout_window)
    lines = [
        f"Comparison {comparison.comparison_id}",
        f"  holdout    {holdout} ({comparison.holdout_rows} labelled rows, used by neither for training)",
    ]
    if comparison.champion:
        lines.append(
            f"  champion   {comparison.champion.version}: {comparison.rules.metric} {_score(comparison.champion.score)}"
        )
    lines.append(
        f"  challenger {comparison.challenger.version}: {comparison.rules.metric} {_score(comparison.challenger.score)}"
    )
    if comparison.difference is not None:
        lines.append(
            f"  difference {comparison.difference:+.3f} (min_improvement {comparison.rules.min_improvement:.3f})"
        )
    lines.append(
        f"  verdict    {comparison.verdict.upper()}"
        + (" (bootstrap)" if comparison.bootstrap else "")
    )
    lines += [f"    - {reason}" for reason in comparison.reasons]
    return "\n".join(lines)


def render_summary(result: MonitorResult) -> str:
    """The monitor run summary printed on the terminal and stored as a markdown artifact."""
    signals, decision = result.signals, result.decision
    lines = [f"autoretrain monitor: {result.model_name}"]
    if result.bootstrap:
        lines += [
            "",
            "No champion was registered: bootstrapped one.",
            render_comparison(result.bootstrap),
        ]
    lines += [
        "",
        f"window      {result.window} ({signals.current_rows} rows; reference {signals.reference_rows} rows "
        f"of champion {result.champion_before})",
        f"drift       share of drifted columns {signals.drift_share:.2f} "
        f"(threshold {decision.drift_threshold:.2f})",
    ]
    if signals.sampled:
        lines.append(
            f"              tested on a random sample (sampling.drift_rows, seed {signals.sample_seed}): "
            f"{signals.drift_rows_current:,} of {signals.current_rows:,} current rows, "
            f"{signals.drift_rows_reference:,} of {signals.reference_rows:,} reference rows"
        )
    for column in signals.columns:
        flag = "DRIFTED" if column.drifted else "ok"
        lines.append(
            f"              {column.column:<20} {column.method:<24} score {column.score:.4g} "
            f"(threshold {column.threshold:g}) {flag}"
        )
    if signals.performance:
        performance = signals.performance
        lines.append(
            f"performance {performance.metric} {performance.value:.3f} (threshold "
            f"{decision.performance_threshold:.3f}) on {performance.labelled_rows} labelled rows, "
            f"predictions: {performance.prediction_source}"
        )
    else:
        lines.append("performance n/a: no labelled rows in the window")
    lines.append(f"decision    {decision.action.upper()}")
    lines += [f"    - {reason}" for reason in decision.reasons]
    if result.comparison:
        lines += ["", render_comparison(result.comparison)]
    lines += [
        "",
        f"status      {result.status}; champion {result.champion_before} -> {result.champion_after}",
        *[f"report      {path}" for path in signals.report_paths],
    ]
    return "\n".join(lines)


def monitor_events(decision: TriggerDecision, signals: Signals) -> list[tuple[str, dict[str, Any]]]:
    """The events a monitor run reports (name, payload): what it found, with the key numbers."""
    events: list[tuple[str, dict[str, Any]]] = []
    common = {"decision": decision.action, "reasons": list(decision.reasons)}
    if decision.drift_share is not None and decision.drift_share >= decision.drift_threshold:
        events.append(
            (
                "drift.detected",
                {
                    **common,
                    "drift_share": decision.drift_share,
                    "drift_threshold": decision.drift_threshold,
                    "drifted_columns": signals.drifted_columns,
                },
            )
        )
    if decision.performance is not None and any(
        r.startswith("performance:") for r in decision.reasons
    ):
        events.append(
            (
                "performance.degraded",
                {
                    **common,
                    "performance": decision.performance,
                    "performance_threshold": decision.performance_threshold,
                    "labelled_rows": decision.labelled_rows,
                },
            )
        )
    return events
