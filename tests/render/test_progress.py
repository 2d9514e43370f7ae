"""The backtest's progress bars: one per strategy, advanced window by window."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from rich.console import Console

from tasks.core.windows import Window
from tasks.render.progress import replay_progress
from tasks.steps.backtest import WindowOutcome


def _outcome(index: int, *, retrained: bool = False, promoted: bool = False) -> WindowOutcome:
    start = datetime(2014, 1, 1) + timedelta(days=30 * index)
    return WindowOutcome(
        index=index,
        window=Window(start, start + timedelta(days=30)),
        champion="v0001",
        metric=0.5,
        labelled_rows=30,
        action="none",
        retrained=retrained,
        promoted=promoted,
    )


def test_each_strategy_advances_its_own_bar_and_names_the_window() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160, color_system=None)

    with replay_progress(["policy", "never"], 3, console=console) as on_window:
        policy = on_window("policy")
        policy(_outcome(0))
        policy(_outcome(1, retrained=True, promoted=True))
        on_window("never")(_outcome(0))

    last_frame = screen.getvalue().split("\r")[-1]
    assert "policy" in last_frame and "2/3" in last_frame
    assert "never" in last_frame and "1/3" in last_frame
    assert "retrained promoted" in last_frame


def test_no_bars_when_stderr_is_not_a_terminal() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=False)

    with replay_progress(["policy"], 2, console=console) as on_window:
        on_window("policy")(_outcome(0))

    assert screen.getvalue() == ""
