"""The monitoring history CLI: a model's monitor runs as a table, and as a PNG over time."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tasks.cli.scripts import DEFAULT_CONFIG
from tasks.config import load_config
from tasks.errors import AutoretrainError, RegistryError
from tasks.render.history import (
    HistoryView,
    Thresholds,
    plot_monitoring_history,
    render_monitoring_history,
)
from tasks.stores.history import HISTORY_FILE, history_location, open_history


def main(argv: list[str] | None = None) -> int:
    """`python -m tasks.cli.history show [--model NAME] [--last N] [--plot out.png]`: the
    monitoring history of the configured model (or NAME) as a table, and optionally a PNG of
    its metric and drift over time with retrains and promotions marked."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("command", choices=["show"], help="show: the monitor runs, oldest first")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="path of config.yaml")
    parser.add_argument("--model", help="model name (default: the config's name)")
    parser.add_argument("--last", type=int, help="only the last N runs")
    parser.add_argument("--plot", type=Path, help="also write a PNG of the runs shown to this path")
    args = parser.parse_args(argv)
    if args.last is not None and args.last < 1:
        parser.error("--last must be 1 or more")
    try:
        # {secret: name} in history.url: read from the Prefect server, as the flows do.
        from tasks.orchestration.secrets import read_secret_block

        config = load_config(args.config, read_secret_block)
        path = config.registry.path / HISTORY_FILE
        if config.history.url is None and not path.is_file():
            raise RegistryError(
                f"no monitoring history at {path}: run the monitor first (or check registry.path)"
            )
        where = history_location(config.registry.path, config.history)
        history = open_history(config.registry.path, config.history)
        name = args.model or config.name
        rows = history.rows(name)
        if not rows:
            models = history.models()
            has = (
                f"it has runs of {', '.join(models)} (--model NAME)"
                if models
                else "it has no runs yet: run the monitor first"
            )
            raise RegistryError(f"no monitor runs of {name} in {where}; {has}")
        # The config describes its own model only: another model's runs carry their own.
        fallback = (
            Thresholds(
                config.policy.performance_metric.describe(),
                config.policy.performance_threshold,
                config.policy.drift_threshold,
            )
            if name == config.name
            else None
        )
        view = HistoryView.of_runs(name, rows, fallback).last(args.last)
    except AutoretrainError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(render_monitoring_history(view))
    if args.plot is not None:
        print(f"plot: {plot_monitoring_history(view, args.plot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
