"""backtest: replay the log window by window through monitor -> retrain -> promote, for the
policy and for baselines (never retrain, every k windows, every window), on the same windows.

Writes a table to the terminal, a markdown artifact, backtest.csv and backtest.png.
"""

from __future__ import annotations

import argparse
import sys

if __name__ == "__main__":
    # The options, the config and the stores are checked before the imports below (Prefect,
    # scikit-learn: seconds): --help or a bad config answers at once (tasks/cli/scripts.py).
    from tasks.cli.scripts import launch

    sys.exit(launch("backtest"))

from pathlib import Path

from prefect import flow, get_run_logger

from tasks.cli.common import run_flow_call
from tasks.cli.scripts import DEFAULT_CONFIG, launch
from tasks.core.faults import parse_fault_plan
from tasks.core.kinds import STRATEGY_KINDS
from tasks.orchestration.artifacts import publish_backtest
from tasks.orchestration.runtime import load_run_config
from tasks.render.backtest_report import plot_backtest, render_backtest, write_csv
from tasks.render.progress import replay_progress
from tasks.steps.backtest import (
    BacktestResult,
    Strategy,
    parse_moment,
    parse_step,
    plan_backtest,
    replay_strategy,
)
from tasks.steps.dashboards import workspace_location
from tasks.steps.fault_injection import faulted_log_config


@flow(name="backtest", log_prints=True)
def backtest_flow(
    config_path: str = DEFAULT_CONFIG,
    step: str | None = None,
    every: int = 3,
    start: str | None = None,
    end: str | None = None,
    output: str | None = None,
    strategies: list[str] | None = None,
    workspace: bool = False,
    faults: str | None = None,
) -> BacktestResult:
    """Replay every strategy on the same windows; return their per-window outcomes.

    Args:
        config_path: Path of the config.yaml to replay, relative to the working directory.
        step: Length of each replayed window, like 30d; default windows.current (90d in the
            demo config; the published demo numbers use 30d). The summary names the step used.
        every: The fixed-schedule strategy retrains every this many windows.
        start: ISO time of the first window; default right after the bootstrap window.
        end: ISO time the last window ends by; default the end of the log.
        output: Directory of the CSV, PNG and scratch registries; default
            <reports.path>/<name>/backtest.
        strategies: Strategies to replay (policy, every-window, fixed, never); default all.
        workspace: Also write the policy's replay into the project "<name> (backtest)" of the
            Evidently workspace of reports.workspace, a directory or an `evidently ui` service
            (replacing an earlier replay).
        faults: Break these windows of a copy of the log first, as WINDOW:KIND[:COLUMN],...
            (like 3:unit-x1000:temp_max,7:duplicated-rows; WINDOW counts the replayed windows
            from 0): the fault-injection backtest. The copy is written under the output.
    """
    logger = get_run_logger()
    config = load_run_config(config_path)
    windows = plan_backtest(
        config,
        parse_step(step) if step else config.windows.current,
        parse_moment(start, "--start"),
        parse_moment(end, "--end"),
    )
    output_dir = Path(output) if output else config.reports.path / config.name / "backtest"
    plan = parse_fault_plan(faults) if faults else ()
    if plan:
        config = faulted_log_config(config, windows, plan, output_dir / "faulted-log")
    names = list(strategies or STRATEGY_KINDS)
    dashboards = workspace_location(config) if workspace else None
    results = []
    with replay_progress(names, len(windows)) as on_window:
        for name in names:
            strategy = Strategy.parse(name, every)
            logger.info("replaying %s over %d windows", strategy.name, len(windows))
            results.append(
                replay_strategy(
                    config, strategy, windows, output_dir / "scratch", on_window(name), dashboards
                )
            )
    result = BacktestResult(
        model_name=config.name,
        metric=config.policy.performance_metric.describe(),
        windows=tuple(windows),
        strategies=tuple(results),
        output_dir=output_dir,
        higher_is_better=config.policy.performance_metric.higher_is_better,
        faults=plan,
    )
    write_csv(result, output_dir / "backtest.csv")
    plot_backtest(result, output_dir / "backtest.png")
    publish_backtest(result, render_backtest(result))
    logger.info("backtest outputs in %s", output_dir)
    return result


def run(args: argparse.Namespace) -> int:
    """The command line's run, its options parsed and checked (tasks/cli/scripts.py)."""
    return run_flow_call(
        lambda: backtest_flow(
            args.config,
            args.step,
            args.every,
            args.start,
            args.end,
            args.output,
            args.strategy,
            args.workspace,
            args.faults,
        ),
        lambda result: f"{render_backtest(result)}\n\noutputs in {result.output_dir}",
        debug=args.debug,
    )


def main(argv: list[str] | None = None) -> int:
    """`python flows/backtest.py` with argv: its options, its checks, then run."""
    return launch("backtest", argv)
