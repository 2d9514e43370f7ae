"""A progress bar for long replays: window after window, strategy after strategy (rich)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tasks.steps.backtest import WindowOutcome


@contextmanager
def replay_progress(
    strategies: list[str], windows: int, console: Console | None = None
) -> Iterator[Callable[[str], Callable[[WindowOutcome], None]]]:
    """Yield a factory of per-strategy callbacks that advance one bar per strategy.

    The bars go to stderr and only where it is a terminal: logs and captured output stay clean.
    """
    console = console or Console(file=sys.stderr)
    progress = Progress(
        TextColumn("{task.fields[strategy]:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[window]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=False,
    )
    bars = {
        name: progress.add_task(name, total=windows, strategy=name, window="")
        for name in strategies
    }

    def for_strategy(name: str) -> Callable[[WindowOutcome], None]:
        progress.start_task(bars[name])  # its clock starts when its replay does

        def advance(outcome: WindowOutcome) -> None:
            marks = ("retrained " if outcome.retrained else "") + (
                "promoted" if outcome.promoted else ""
            )
            progress.update(bars[name], advance=1, window=f"{outcome.window} {marks}".rstrip())

        return advance

    with progress:
        yield for_strategy
