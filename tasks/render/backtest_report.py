"""The backtest's outputs: a text table, markdown, CSV rows and a PNG plot."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from tasks.core.numbers import format_number
from tasks.core.reasons import codes
from tasks.steps.backtest import BacktestResult, StrategyResult


def summary_rows(result: BacktestResult) -> list[dict[str, Any]]:
    """One row per strategy: mean metric, share of the every-window mean, retrains, promotions,
    and the label-free estimate's mean error."""
    reference = next(
        (s.mean_metric for s in result.strategies if s.strategy == "every-window"), None
    )
    rows = []
    for strategy in result.strategies:
        mean = strategy.mean_metric
        rows.append(
            {
                "strategy": strategy.strategy,
                f"mean {result.metric} ({result.direction})": None
                if mean is None
                else round(mean, 4),
                "vs every-window": None
                if mean is None or not reference
                else round(mean / reference, 4),
                "retrains": strategy.retrains,
                "promotions": strategy.promotions,
                "windows": len(strategy.outcomes),
                # mean |label-free estimate - realised metric| over the windows with both
                "estimate error": None
                if strategy.estimate_error is None
                else round(strategy.estimate_error, 4),
                # the watch's automatic rollbacks (policy only)
                "rollbacks": strategy.rollbacks,
            }
        )
    return rows


def window_rows(result: BacktestResult) -> list[dict[str, Any]]:
    """One row per strategy and window, for the CSV."""
    rows = []
    for strategy in result.strategies:
        for outcome in strategy.outcomes:
            rows.append(
                {
                    "strategy": strategy.strategy,
                    "window": outcome.index,
                    "start": outcome.window.start.isoformat(),
                    "end": outcome.window.end.isoformat(),
                    "champion": outcome.champion,
                    "metric": outcome.metric,
                    "estimate": outcome.estimate,
                    "labelled_rows": outcome.labelled_rows,
                    "action": outcome.action,
                    "retrained": outcome.retrained,
                    "promoted": outcome.promoted,
                    "reasons": " | ".join(outcome.reasons),
                    "reason_codes": " | ".join(codes(outcome.reason_codes)),
                    "rolled_back": outcome.rolled_back,
                    "watch": " | ".join(outcome.watch_reasons),
                    "faults": " | ".join(map(str, result.faults_in(outcome.index))),
                }
            )
    return rows


def _table(rows: list[dict[str, Any]]) -> list[str]:
    headers = list(rows[0])
    cells = [[("n/a" if row[h] is None else str(row[h])) for h in headers] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    return lines


def _fired(strategy: StrategyResult) -> list[str]:
    lines = []
    for outcome in strategy.fired:
        verdict = "promoted" if outcome.promoted else "rejected"
        lines.append(f"  window {outcome.index} {outcome.window}: retrained, {verdict}")
        lines += [f"    - {reason}" for reason in outcome.reasons]
    return lines or ["  never fired"]


def render_backtest(result: BacktestResult) -> str:
    """The terminal summary: the strategy table, per-window metrics, where the policy fired."""
    windows = result.windows
    lines = [
        f"autoretrain backtest: {result.model_name}, {len(windows)} windows of {_step(result)} "
        f"(--step {_step(result)}) from {windows[0].start:%Y-%m-%d} to {windows[-1].end:%Y-%m-%d}",
        f"metric: {result.metric} ({result.direction}) of the champion on each window's "
        "labelled rows, before any retraining on it; vs every-window is the mean over "
        "every-window's mean ("
        + ("above 1 is better)" if result.higher_is_better else "below 1 is better)"),
        *(
            [f"faults injected (--faults): {', '.join(map(str, result.faults))}"]
            if result.faults
            else []
        ),
        "",
        *_table(summary_rows(result)),
        "",
        "per window (R = retrained after it, P = promoted):",
    ]
    per_window = []
    for index, window in enumerate(windows):
        row: dict[str, Any] = {"window": index, "start": f"{window.start:%Y-%m-%d}"}
        for strategy in result.strategies:
            outcome = strategy.outcomes[index]
            mark = ("R" if outcome.retrained else "") + ("P" if outcome.promoted else "")
            row[strategy.strategy] = f"{format_number(outcome.metric)} {mark}".strip()
        per_window.append(row)
    lines += _table(per_window)
    for strategy in result.strategies:
        if strategy.strategy == "policy":
            lines += ["", "where the policy fired and why:", *_fired(strategy)]
    return "\n".join(lines)


def write_csv(result: BacktestResult, path: Path) -> Path:
    rows = window_rows(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# One look per strategy, drawn widest first: where two strategies have the same metric in a
# window, the later (thinner, dashed, smaller marker) line stays visible on top of the earlier.
_STYLES = (
    {"linestyle": "-", "marker": "o", "linewidth": 4.0, "markersize": 9, "alpha": 0.55},
    {"linestyle": "--", "marker": "s", "linewidth": 2.6, "markersize": 6},
    {"linestyle": "-.", "marker": "^", "linewidth": 1.8, "markersize": 5},
    {"linestyle": ":", "marker": "x", "linewidth": 1.4, "markersize": 7},
)


def same_metrics_as(result: BacktestResult) -> dict[str, str]:
    """Strategies whose metric equals an earlier strategy's in every window: name -> earlier name.

    Their lines coincide on the plot, so the legend says so.
    """
    same: dict[str, str] = {}
    for index, strategy in enumerate(result.strategies):
        for earlier in result.strategies[:index]:
            if earlier.strategy not in same and [o.metric for o in earlier.outcomes] == [
                o.metric for o in strategy.outcomes
            ]:
                same[strategy.strategy] = earlier.strategy
                break
    return same


def draw_backtest(result: BacktestResult) -> Any:
    """The backtest figure (see plot_backtest); the caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.dates import date2num

    count = len(result.strategies)
    same = same_metrics_as(result)
    figure, (metric_axes, event_axes) = plt.subplots(
        2,
        1,
        sharex=True,
        figsize=(11, 6 + 0.3 * count),
        gridspec_kw={"height_ratios": [3, max(1, count * 0.4)]},
    )
    for row, strategy in enumerate(result.strategies):
        x = [date2num(o.window.start) for o in strategy.outcomes]
        y = [float("nan") if o.metric is None else o.metric for o in strategy.outcomes]
        label = strategy.strategy
        if strategy.strategy in same:
            label += f" (= {same[strategy.strategy]} in every window)"
        (line,) = metric_axes.plot(
            x,
            y,
            drawstyle="steps-post",
            label=label,
            zorder=2 + row,
            **_STYLES[row % len(_STYLES)],
        )
        retrained = [date2num(o.window.end) for o in strategy.outcomes if o.retrained]
        promoted = [date2num(o.window.end) for o in strategy.outcomes if o.promoted]
        event_axes.scatter(retrained, [row] * len(retrained), marker="x", color=line.get_color())
        event_axes.scatter(
            promoted,
            [row] * len(promoted),
            marker="o",
            s=70,
            facecolors="none",
            edgecolors=line.get_color(),
        )
    metric_axes.set_title(
        f"{result.model_name}: {result.metric} of each window before any retraining on it"
        f" (windows of {_step(result)})"
    )
    metric_axes.set_ylabel(f"{result.metric} ({result.direction})")
    # Outside the axes: a legend inside would hide part of some line.
    metric_axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    metric_axes.grid(alpha=0.3)
    event_axes.set_yticks(range(count), [s.strategy for s in result.strategies])
    event_axes.set_ylim(-0.5, count - 0.5)
    event_axes.invert_yaxis()
    event_axes.set_title("x retrained, o promoted (at the end of the window)", fontsize="small")
    event_axes.grid(axis="x", alpha=0.3)
    event_axes.xaxis_date()
    figure.autofmt_xdate()
    return figure


def plot_backtest(result: BacktestResult, path: Path) -> Path:
    """Top: the metric of each window per strategy, each with its own line style and marker.
    Bottom: when each strategy retrained (x) and promoted (o), at the end of the window it had
    just seen."""
    import matplotlib.pyplot as plt

    figure = draw_backtest(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def _step(result: BacktestResult) -> str:
    """The windows' length, as the --step that reproduces them (like 30d)."""
    window = result.windows[0]
    seconds = (window.end - window.start).total_seconds()
    if seconds % 86400 == 0:
        return f"{int(seconds // 86400)}d"
    return f"{int(seconds // 3600)}h" if seconds % 3600 == 0 else f"{int(seconds)}s"
