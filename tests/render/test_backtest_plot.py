"""The backtest plot shows every strategy, also where two have the same metric in every window."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import matplotlib.pyplot as plt

from tasks.core.windows import Window
from tasks.render.backtest_report import (
    draw_backtest,
    plot_backtest,
    render_backtest,
    same_metrics_as,
)
from tasks.steps.backtest import BacktestResult, StrategyResult, WindowOutcome

WINDOWS = tuple(
    Window(
        datetime(2013, 4, 1) + timedelta(days=30 * i), datetime(2013, 5, 1) + timedelta(days=30 * i)
    )
    for i in range(4)
)


def _strategy(name: str, metrics: list[float | None]) -> StrategyResult:
    return StrategyResult(
        strategy=name,
        outcomes=tuple(
            WindowOutcome(
                index=i,
                window=WINDOWS[i],
                champion="v0001",
                metric=metric,
                labelled_rows=30,
                action="none",
                retrained=False,
                promoted=False,
            )
            for i, metric in enumerate(metrics)
        ),
    )


# As on the demo: the policy retrains when every-window does; never and fixed never promote.
RESULT = BacktestResult(
    model_name="demo",
    metric="f1 (macro)",
    windows=WINDOWS,
    strategies=(
        _strategy("policy", [0.2, 0.6, 0.7, None]),
        _strategy("never", [0.2, 0.21, 0.19, 0.2]),
        _strategy("fixed-every-3", [0.2, 0.21, 0.19, 0.2]),
        _strategy("every-window", [0.2, 0.6, 0.7, None]),
    ),
)


def test_strategies_with_the_same_metrics_are_named_in_the_legend():
    assert same_metrics_as(RESULT) == {"fixed-every-3": "never", "every-window": "policy"}

    figure = draw_backtest(RESULT)
    try:
        metric_axes = figure.axes[0]
        labels = [text.get_text() for text in metric_axes.get_legend().get_texts()]
        lines = metric_axes.get_lines()
    finally:
        plt.close(figure)

    assert labels == [
        "policy",
        "never",
        "fixed-every-3 (= never in every window)",
        "every-window (= policy in every window)",
    ]
    # Each line has its own style and marker, and lines drawn later are thinner: a line lying
    # on an earlier one stays visible on top of it.
    assert len({(line.get_linestyle(), line.get_marker()) for line in lines}) == 4
    widths = [line.get_linewidth() for line in lines]
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == 4
    assert [line.get_zorder() for line in lines] == sorted(line.get_zorder() for line in lines)


def test_plot_is_written_and_the_summary_names_the_step(tmp_path: Path):
    path = plot_backtest(RESULT, tmp_path / "backtest.png")

    assert path.read_bytes()[:4] == b"\x89PNG"
    first_line = render_backtest(RESULT).splitlines()[0]
    assert first_line.startswith("autoretrain backtest: demo, 4 windows of 30d (--step 30d)")
