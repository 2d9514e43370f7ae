"""fleet: monitor many models in one run, spread over Dask workers or the work pool's workers, and
print one summary table. One model's failure is one error row; the others complete."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    # The options, the config and the stores are checked before the imports below (Prefect,
    # scikit-learn: seconds): --help or a bad config answers at once (tasks/cli/scripts.py).
    from tasks.cli.scripts import launch

    # launch runs flows.fleet's run, not this __main__ copy's: Dask workers then unpickle
    # monitor_model by its import path instead of receiving it by value.
    sys.exit(launch("fleet"))

import argparse
import time
from datetime import UTC, datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.cli.common import run_flow_call
from tasks.cli.scripts import DEFAULT_FLEET, launch
from tasks.config import Fleet, load_fleet
from tasks.core.fleet import FleetRow, FleetSummary, error_row, row_from_result
from tasks.errors import AutoretrainError
from tasks.orchestration.fleet import (
    describe_failure,
    publish_fleet_summary,
    run_on_dask,
    run_on_deployments,
)
from tasks.orchestration.runtime import check_config_path
from tasks.render.fleet import render_fleet_summary, write_fleet_csv


def describe_error(error: BaseException) -> str:
    """A model's error for its row: the project's own errors say what to fix, a Prefect API
    failure how often it was retried; others name their type."""
    if isinstance(error, AutoretrainError):
        return str(error)
    return describe_failure(error)


@task(name="monitor-model", task_run_name="monitor-{name}", cache_policy=NO_CACHE)
def monitor_model(name: str, config_path: str, as_of: str | None = None) -> FleetRow:
    """Run one model's monitor flow (retrain and promote inline, in their slots); never raise.

    Runs on a Dask worker: the worker process keeps its imports (Evidently, scikit-learn) and
    its Prefect client from one model to the next.
    """
    # Imported here, in the worker: a Prefect flow object is pickled by value, and its function
    # would arrive without the module globals its annotations name (RunMode).
    from flows.monitor import monitor_flow
    from tasks.orchestration.tasks import fleet_model_run

    started = time.perf_counter()
    try:
        with fleet_model_run():  # orchestration.task_runs auto: the steps run in the flow runs
            result = monitor_flow(config_path, as_of, "inline")
    except Exception as error:
        get_run_logger().error("%s: %s", name, describe_error(error))
        return error_row(name, config_path, describe_error(error), time.perf_counter() - started)
    return row_from_result(result, config_path, time.perf_counter() - started)


def load_run_fleet(fleet_path: str) -> Fleet:
    """The fleet flow's first step: check where the fleet file comes from, then load it."""
    check_config_path(fleet_path)
    return load_fleet(fleet_path)


@flow(name="fleet", log_prints=True)
def fleet_flow(fleet_path: str = DEFAULT_FLEET, as_of: str | None = None) -> FleetSummary:
    """Monitor every model of the fleet file and publish one summary table.

    Args:
        fleet_path: Path of the fleet file, relative to the working directory (a deployment
            run accepts only a fleet file inside the project).
        as_of: ISO time every model's current window ends at; default each config's
            windows.as_of, else now.
    """
    logger = get_run_logger()
    started = time.perf_counter()
    fleet = load_run_fleet(fleet_path)
    settings = fleet.config
    rows: dict[str, FleetRow] = {
        member.name: error_row(member.name, member.source, member.error or "")
        for member in fleet.members
        if member.error is not None
    }
    ready = list(fleet.ready)
    fan_out_seconds = None
    logger.info(
        "fleet %s: %d models (%d ready), runner %s, max_parallel %d",
        settings.name,
        len(fleet.members),
        len(ready),
        settings.runner,
        settings.max_parallel,
    )
    if ready:
        fan_out = (
            run_on_dask(monitor_model, ready, as_of, settings)
            if settings.runner == "dask"
            else run_on_deployments(ready, as_of, settings)
        )
        rows.update(fan_out.rows)
        fan_out_seconds = fan_out.seconds
    ordered = tuple(rows[member.name] for member in fleet.members)
    csv_path = fleet.output_dir / f"summary-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.csv"
    write_fleet_csv(ordered, csv_path)
    summary = FleetSummary(
        fleet_name=settings.name,
        runner=settings.runner,
        rows=ordered,
        duration_seconds=round(time.perf_counter() - started, 2),
        fan_out_seconds=fan_out_seconds,
        csv_path=str(csv_path),
    )
    publish_fleet_summary(summary)
    for row in summary.errors:
        logger.error("%s: %s", row.model, row.error)
    return summary


def run(args: argparse.Namespace) -> int:
    """The command line's run, its options parsed and checked (tasks/cli/scripts.py)."""
    return run_flow_call(
        lambda: fleet_flow(args.fleet, args.as_of),
        render_fleet_summary,
        debug=args.debug,
        exit_code=lambda summary: summary.exit_code,
    )


def main(argv: list[str] | None = None) -> int:
    """`python flows/fleet.py` with argv: its options, its checks, then run."""
    return launch("fleet", argv)
