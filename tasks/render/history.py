"""The monitoring history over time: a terminal table and a PNG of metric and drift with decisions."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from tasks.core.numbers import format_number
from tasks.core.quality import QualityReport
from tasks.core.quality_view import quality_verdict
from tasks.render.quality import quality_marker

RetrainOutcome = Literal["promoted", "rejected", "no verdict"]
QUALITY_DETAIL = "data_quality"  # a run's data-quality report in its record's details


@dataclass(frozen=True)
class Thresholds:
    """The metric a model is judged on and its thresholds (as a config or a run recorded them)."""

    metric: str
    performance_threshold: float
    drift_threshold: float


@dataclass(frozen=True)
class HistoryView:
    """What the history table and plot show of one model: its runs, the metric they were
    judged on and its thresholds (None: not known for these runs)."""

    model_name: str
    metric: str
    performance_threshold: float | None
    drift_threshold: float | None
    rows: list[dict[str, Any]]  # MonitoringHistory.rows(): oldest first
    note: str = ""  # where the metric and thresholds come from, when not from the runs

    @classmethod
    def of_runs(
        cls, model_name: str, rows: list[dict[str, Any]], fallback: Thresholds | None = None
    ) -> HistoryView:
        """The view of a model's runs, labelled with the metric and thresholds its runs
        recorded (the latest run's); fallback (the config of that same model) labels runs
        recorded before they were. Without either, the metric is shown as "metric"."""
        recorded = [row for row in rows if row.get("metric")]
        if recorded:
            latest = recorded[-1]
            metrics = sorted({str(row["metric"]) for row in recorded} - {latest["metric"]})
            note = f"earlier runs were judged on {', '.join(metrics)}" if metrics else ""
            if len(recorded) < len(rows):
                missing = len(rows) - len(recorded)
                source = "the config's" if fallback else "not recorded"
                note = "; ".join(
                    filter(None, [note, f"thresholds of {missing} older runs: {source}"])
                )
            return cls(
                model_name,
                str(latest["metric"]),
                latest["performance_threshold"],
                latest["drift_threshold"],
                _filled(rows, fallback),
                note,
            )
        if fallback is not None:
            return cls(
                model_name,
                fallback.metric,
                fallback.performance_threshold,
                fallback.drift_threshold,
                _filled(rows, fallback),
                "metric and thresholds from the config (these runs did not record them)",
            )
        return cls(
            model_name,
            "metric",
            None,
            None,
            rows,
            "these runs did not record their metric and thresholds, and the config is another "
            "model's: show them with that model's config (--config) to label them",
        )

    def last(self, count: int | None) -> HistoryView:
        """The same view with only the last count runs (all when count is None)."""
        if count is None:
            return self
        return replace(self, rows=self.rows[-count:] if count > 0 else [])


def _filled(rows: list[dict[str, Any]], fallback: Thresholds | None) -> list[dict[str, Any]]:
    """rows with the fallback's thresholds where a run recorded none."""
    if fallback is None:
        return rows
    return [
        row
        if row.get("metric")
        else {
            **row,
            "performance_threshold": fallback.performance_threshold,
            "drift_threshold": fallback.drift_threshold,
        }
        for row in rows
    ]


def retrain_outcome(row: dict[str, Any]) -> RetrainOutcome | None:
    """What became of the retrain a window led to (None: it led to none): its challenger
    promoted, rejected, or no verdict recorded (events mode before its promote run finished or
    wrote back, a retrain or promotion dropped as busy, a history written before promote runs
    recorded their verdict). A rerun of the window keeps the earlier runs' outcome."""
    if not row.get("retrained"):
        return None
    if row.get("promoted"):
        return "promoted"
    statuses = {row.get("status")} | {run.get("status") for run in _replaced(row)}
    return "rejected" if "rejected" in statuses else "no verdict"


def _details(row: dict[str, Any]) -> dict[str, Any]:
    try:
        details = json.loads(row.get("details") or "{}")
    except (TypeError, ValueError):
        return {}
    return details if isinstance(details, dict) else {}


def run_quality(row: dict[str, Any]) -> QualityReport | None:
    """The data-quality report a run recorded in its details (None: it recorded none, as runs
    before the checks did)."""
    recorded = _details(row).get(QUALITY_DETAIL)
    return QualityReport.from_dict(recorded) if isinstance(recorded, dict) else None


def _replaced(row: dict[str, Any]) -> list[dict[str, Any]]:
    replaced = _details(row).get("replaced")
    return [run for run in replaced if isinstance(run, dict)] if isinstance(replaced, list) else []


_FLAGS: dict[RetrainOutcome | None, str] = {
    "promoted": "P",
    "rejected": "R",
    "no verdict": "R?",
    None: "",
}


def _threshold_text(view: HistoryView) -> str:
    if view.performance_threshold is None or view.drift_threshold is None:
        return f"{view.metric} and thresholds not recorded"
    text = f"{view.metric} threshold {format_number(view.performance_threshold)}"
    thresholds = {
        row["performance_threshold"]
        for row in view.rows
        if row.get("performance_threshold") is not None
    }
    if len(thresholds) > 1:
        text += (
            f" (from {format_number(min(thresholds))} to {format_number(max(thresholds))} "
            "over these runs)"
        )
    return f"{text}, drift share threshold {format_number(view.drift_threshold)}"


def _runs(view: HistoryView) -> str:
    return f"{len(view.rows)} run" + ("" if len(view.rows) == 1 else "s")


def render_monitoring_history(view: HistoryView) -> str:
    """One line per monitored window, oldest first: window end, rows, drift, metric, its
    label-free estimate, decision, status."""
    lines = [
        f"monitoring history of {view.model_name}: {_runs(view)}; {_threshold_text(view)}",
    ]
    if view.note:
        lines.append(f"({view.note})")
    lines.append("")
    header = (
        f"{'as of (window end)':<19} {'champion':<8} {'rows':>6} {'labelled':>8} {'data':<4} "
        f"{'drift':>7} {view.metric:>12} {'estimated':>9}  {'decision':<18} {'status':<18} R/P"
    )
    lines += [header, "-" * len(header)]
    for row in view.rows:
        as_of = str(row["as_of"])[:19].replace("T", " ")
        performance = format_number(row["performance"])
        if row["performance_breach"]:
            performance += "!"
        estimated = format_number(row.get("estimated_performance"))
        if row.get("estimated_performance_breach"):
            estimated += "!"
        drift = format_number(row["drift_share"], "score")
        if row["drift_breach"]:
            drift += "!"
        lines.append(
            f"{as_of:<19} {row['champion'] or '-':<8} {row['current_rows']:>6} "
            f"{row['labelled_rows']:>8} {quality_marker(run_quality(row)):<4} {drift:>7} "
            f"{performance:>12} {estimated:>9}  "
            f"{row['decision']:<18} "
            f"{row['status']:<18} {_FLAGS[retrain_outcome(row)]}".rstrip()
        )
    if not view.rows:
        lines.append("(no monitor runs recorded yet)")
    lines += [
        "",
        "! breach of the threshold; after the run: P retrained, challenger promoted; R "
        "retrained, challenger rejected; R? retrained, no verdict recorded",
        "data: the window's data-quality checks, ok or FAIL (- none recorded)",
    ]
    failed = [(row, report) for row in view.rows if (report := run_quality(row)) and report.failed]
    if failed:
        lines += ["", "data quality failed:"]
        for row, report in failed:
            lines.append(f"  {str(row['as_of'])[:16].replace('T', ' ')}  {quality_verdict(report)}")
            lines += [f"      {finding.message}" for finding in report.failures]
    return "\n".join(lines)


def threshold_edges(moments: list[datetime]) -> list[datetime]:
    """The x positions of the threshold steps: each run's moment, and a margin before the first
    and after the last, so that one run (and the last of many) still shows its thresholds as a
    line, not as a step of zero width."""
    if not moments:
        return []
    pad = max((moments[-1] - moments[0]) / 20, timedelta(days=15))
    return [moments[0] - pad, *moments, moments[-1] + pad]


def plot_monitoring_history(view: HistoryView, path: Path) -> Path:
    """Top: the metric of each run against its threshold; o where a retrain's challenger was
    promoted, x where it was rejected, + where no verdict was recorded.
    Bottom: the share of drifted columns against the drift threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    moments = [datetime.fromisoformat(str(row["as_of"])) for row in view.rows]

    def values(key: str) -> list[float]:
        return [float("nan") if row.get(key) is None else float(row[key]) for row in view.rows]

    performance, drift = values("performance"), values("drift_share")
    edges = threshold_edges(moments)

    def thresholds(key: str) -> list[float]:
        steps = values(key)
        return [steps[0], *steps, steps[-1]] if steps else []

    figure, (metric_axes, drift_axes) = plt.subplots(
        2, 1, sharex=True, figsize=(11, 6.5), gridspec_kw={"height_ratios": [3, 2]}
    )
    metric_axes.plot(moments, performance, marker=".", label=f"{view.metric} (labelled rows)")
    # Each run's own threshold: a config change shows as a step.
    metric_axes.step(
        edges,
        thresholds("performance_threshold"),
        where="post",
        color="tab:red",
        linestyle="--",
        label="retrain threshold",
    )
    outcomes = [retrain_outcome(row) for row in view.rows]
    for outcome, label, style in (
        ("rejected", "retrained, challenger rejected", {"marker": "x", "color": "black"}),
        (
            "promoted",
            "retrained, challenger promoted",
            {"marker": "o", "facecolors": "none", "edgecolors": "tab:green"},
        ),
        ("no verdict", "retrained, no verdict recorded", {"marker": "+", "color": "tab:gray"}),
    ):
        points = [
            (m, v) for m, v, o in zip(moments, performance, outcomes, strict=True) if o == outcome
        ]
        if points:
            metric_axes.scatter(
                [m for m, _ in points],
                [v for _, v in points],
                s=110,
                label=label,
                zorder=3,
                **style,
            )
    metric_axes.set_ylabel(view.metric)
    metric_axes.set_title(f"{view.model_name}: monitoring history ({_runs(view)})")
    metric_axes.legend(loc="best", fontsize="small")
    metric_axes.grid(alpha=0.3)
    drift_axes.plot(
        moments, drift, marker=".", color="tab:orange", label="share of drifted columns"
    )
    drift_axes.step(
        edges,
        thresholds("drift_threshold"),
        where="post",
        color="tab:red",
        linestyle="--",
        label="drift threshold",
    )
    drift_axes.set_ylim(-0.05, 1.05)
    if edges:
        drift_axes.set_xlim(edges[0], edges[-1])
    drift_axes.set_ylabel("drift share")
    drift_axes.set_xlabel("window end (as of)")
    drift_axes.legend(loc="best", fontsize="small")
    drift_axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path
