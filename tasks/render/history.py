"""The monitoring history over time: a terminal table and a PNG of metric and drift with decisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tasks.core.numbers import format_number


@dataclass(frozen=True)
class HistoryView:
    """What the history table and plot show of one model: its runs and the thresholds."""

    model_name: str
    metric: str
    performance_threshold: float
    drift_threshold: float
    rows: list[dict[str, Any]]  # MonitoringHistory.rows(): oldest first

    def last(self, count: int | None) -> HistoryView:
        """The same view with only the last count runs (all when count is None)."""
        if count is None:
            return self
        return HistoryView(
            self.model_name,
            self.metric,
            self.performance_threshold,
            self.drift_threshold,
            self.rows[-count:] if count > 0 else [],
        )


def _flag(row: dict[str, Any]) -> str:
    if row["promoted"]:
        return "P"
    return "R" if row["retrained"] else ""


def render_monitoring_history(view: HistoryView) -> str:
    """One line per monitor run, oldest first: window end, rows, drift, metric, its label-free
    estimate, decision, status."""
    lines = [
        f"monitoring history of {view.model_name}: {len(view.rows)} runs; {view.metric} "
        f"threshold {format_number(view.performance_threshold)}, drift share threshold "
        f"{format_number(view.drift_threshold)}",
        "",
    ]
    header = (
        f"{'as of (window end)':<19} {'champion':<8} {'rows':>6} {'labelled':>8} "
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
            f"{row['labelled_rows']:>8} {drift:>7} {performance:>12} {estimated:>9}  "
            f"{row['decision']:<18} "
            f"{row['status']:<18} {_flag(row)}".rstrip()
        )
    if not view.rows:
        lines.append("(no monitor runs recorded yet)")
    lines += ["", "! breach of the threshold; R retrained after the run, P promoted"]
    return "\n".join(lines)


def plot_monitoring_history(view: HistoryView, path: Path) -> Path:
    """Top: the metric of each run against its threshold; x where a retrain's challenger was
    rejected, o where it was promoted.
    Bottom: the share of drifted columns against the drift threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    moments = [datetime.fromisoformat(str(row["as_of"])) for row in view.rows]

    def values(key: str) -> list[float]:
        return [float("nan") if row[key] is None else float(row[key]) for row in view.rows]

    performance, drift = values("performance"), values("drift_share")
    figure, (metric_axes, drift_axes) = plt.subplots(
        2, 1, sharex=True, figsize=(11, 6.5), gridspec_kw={"height_ratios": [3, 2]}
    )
    metric_axes.plot(moments, performance, marker=".", label=f"{view.metric} (labelled rows)")
    metric_axes.axhline(
        view.performance_threshold, color="tab:red", linestyle="--", label="retrain threshold"
    )
    rejected = [bool(row["retrained"]) and not row["promoted"] for row in view.rows]
    promoted = [bool(row["promoted"]) for row in view.rows]
    for chosen, label, style in (
        (rejected, "retrained, challenger rejected", {"marker": "x", "color": "black"}),
        (
            promoted,
            "retrained, challenger promoted",
            {"marker": "o", "facecolors": "none", "edgecolors": "tab:green"},
        ),
    ):
        points = [(m, v) for m, v, keep in zip(moments, performance, chosen, strict=True) if keep]
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
    metric_axes.set_title(f"{view.model_name}: monitoring history ({len(view.rows)} runs)")
    metric_axes.legend(loc="best", fontsize="small")
    metric_axes.grid(alpha=0.3)
    drift_axes.plot(
        moments, drift, marker=".", color="tab:orange", label="share of drifted columns"
    )
    drift_axes.axhline(
        view.drift_threshold, color="tab:red", linestyle="--", label="drift threshold"
    )
    drift_axes.set_ylim(-0.05, 1.05)
    drift_axes.set_ylabel("drift share")
    drift_axes.set_xlabel("window end (as of)")
    drift_axes.legend(loc="best", fontsize="small")
    drift_axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path
