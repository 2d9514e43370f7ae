"""Spreading a fleet's models over Dask workers or a work pool's workers, with bounded fan-out,
and the fleet's artifact."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from prefect import Task
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.states import State

from tasks.config import FleetConfig, FleetMember
from tasks.core.fleet import FleetRow, FleetSummary, error_row
from tasks.errors import PrefectApiError
from tasks.orchestration.artifacts import monitor_row_key
from tasks.orchestration.forkserver import (
    METHOD_KEY,
    WORKER_PRELOAD,
    start_forkserver,
    start_method,
    worker_environment,
)
from tasks.orchestration.retries import call_api, client_retry_environment, describe_api_failure
from tasks.render.fleet import fleet_table_rows

logger = logging.getLogger(__name__)

# How long the fleet still waits for a model after its model_timeout: the task's own timeout
# cuts Python code, but a model stuck inside a C call only notices once the call returns.
TIMEOUT_GRACE_SECONDS = 60.0
# Dask's housekeeping in a local cluster, slowed from its defaults (an event-loop tick every
# 20 ms, memory checks every 100 ms, a statistical profiler sampling every 10 ms in each
# worker...): an idle 2-worker cluster took 0.11 CPU s a second, 0.02 with these. A fleet's
# tasks are minutes of Python each, handed out one per worker thread: nothing to profile,
# steal or rebalance.
QUIET_DASK = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.worker.profile.enabled": False,
    "distributed.scheduler.work-stealing": False,
}
RUN_POLL_SECONDS = 2.0  # between reads of a deployment run's state


def local_cluster_kwargs(
    settings: FleetConfig, api_url: str, cores: int | None = None
) -> dict[str, Any]:
    """A local cluster sized to the machine: one single-threaded worker process per core, at
    most max_parallel (each process pays the imports once, as it starts, then runs one model
    at a time).

    The workers get this run's API URL (without it, each would start a temporary Prefect
    server of its own when the fleet runs on one) and its client retry settings: the Prefect
    calls of a model's run are made there, by Prefect's client.
    """
    available = cores or os.cpu_count() or 1
    workers = settings.dask_workers or max(1, min(available, settings.max_parallel))
    # dashboard on a free port: two fleets on one machine would both want 8787
    return {
        "n_workers": workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": ":0",
        "env": worker_environment({"PREFECT_API_URL": api_url, **client_retry_environment()}),
        # Imported once per worker process, not by its first model: by the fork server before
        # it forks the workers (forkserver.py), else by each spawned worker as it starts.
        "preload": list(WORKER_PRELOAD),
    }


def dask_task_runner(settings: FleetConfig) -> Any:
    """The DaskTaskRunner of the fleet file: its dask_address, else a local cluster.

    The workers of a cluster at dask_address need PREFECT_API_URL (and the project) of their own.
    """
    from prefect_dask import DaskTaskRunner  # imports distributed: only fleets on Dask pay it

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    api_url = str(get_client(sync_client=True).api_url)
    start_forkserver()  # started by the command line already, else now
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs=local_cluster_kwargs(settings, api_url),
    )


@dataclass
class _Running:
    member: FleetMember
    future: Any  # PrefectDaskFuture
    submitted: float
    deadline: float  # its model_timeout and the grace after it, on the monotonic clock


def _row_of(item: _Running) -> FleetRow:
    """The row of a finished model: its own row, or an error row from its failed state."""
    member, elapsed = item.member, time.monotonic() - item.submitted
    config_path = member.config_path or member.source
    try:
        state = item.future.wrapped_future.result()
    except Exception as error:  # the worker died, the cluster lost the task, the API failed...
        return error_row(member.name, config_path, describe_failure(error), elapsed)
    if isinstance(state, State) and state.is_completed():
        row = state.result(raise_on_failure=False)
        if isinstance(row, FleetRow):
            return row
        return error_row(member.name, config_path, f"no summary row: {row!r}", elapsed)
    message = state.message if isinstance(state, State) else repr(state)
    if isinstance(state, State):
        with contextlib.suppress(Exception):  # keep the state's message
            raised = state.result(raise_on_failure=False)
            if isinstance(raised, BaseException):
                message = describe_api_failure(raised) or message
    return error_row(member.name, config_path, message or "failed", elapsed)


def describe_failure(error: BaseException) -> str:
    """An unexpected error for a row: a Prefect API failure in words, others by their type."""
    return describe_api_failure(error) or f"{type(error).__name__}: {error}"


def _overdue_row(item: _Running, settings: FleetConfig) -> FleetRow:
    return error_row(
        item.member.name,
        item.member.config_path or item.member.source,
        f"no answer within model_timeout ({settings.timeout_of(item.member.name)}) plus "
        f"{TIMEOUT_GRACE_SECONDS:.0f} s: the fleet stopped waiting for it (its worker may "
        "still be busy with it)",
        time.monotonic() - item.submitted,
    )


def _slots(runner: Any, max_parallel: int) -> int:
    """Models in flight: max_parallel, and never more than the cluster's threads, so a
    submitted model starts at once and its timeout counts from its start."""
    threads = sum(runner.client.nthreads().values())
    return max(1, min(max_parallel, threads)) if threads else max_parallel


@dataclass(frozen=True)
class FanOut:
    """The rows of the models a runner ran, and the wall time from the first model's start to
    the last one's end (the workers' start-up excluded)."""

    rows: dict[str, FleetRow]
    seconds: float


def run_on_dask(
    monitor_model: Task[..., FleetRow],
    members: list[FleetMember],
    as_of: str | None,
    settings: FleetConfig,
    runner_factory: Callable[[FleetConfig], Any] = dask_task_runner,
) -> FanOut:
    """Run monitor_model once per member on a DaskTaskRunner, at most max_parallel at a time.

    A model's failure or timeout becomes its error row; the others go on.
    """
    import dask
    import distributed

    rows: dict[str, FleetRow] = {}
    queue = list(members)
    # The scheduler and the nannies run in this process; the nannies hand the config on to
    # their workers.
    with (
        dask.config.set({**QUIET_DASK, METHOD_KEY: start_method()}),
        runner_factory(settings) as runner,
        runner.client.as_current(),
    ):
        slots = _slots(runner, settings.max_parallel)
        started = time.monotonic()
        # In the run's log (the terminal, the UI): the workers are up, the models start now.
        _run_logger().info("fleet: %d models, %d at a time", len(members), slots)
        running: dict[str, _Running] = {}
        while queue or running:
            while queue and len(running) < slots:
                member = queue.pop(0)
                timeout = settings.timeout_of(member.name).total_seconds()
                future = runner.submit(
                    monitor_model.with_options(timeout_seconds=timeout),
                    parameters={
                        "name": member.name,
                        "config_path": member.config_path,
                        "as_of": as_of,
                    },
                )
                submitted = time.monotonic()
                deadline = submitted + timeout + TIMEOUT_GRACE_SECONDS
                running[member.name] = _Running(member, future, submitted, deadline)
            futures = [item.future.wrapped_future for item in running.values()]
            # Woken by the first model to finish, else at the first deadline.
            first_deadline = min(item.deadline for item in running.values())
            with contextlib.suppress(TimeoutError):
                distributed.wait(
                    futures,
                    timeout=max(first_deadline - time.monotonic(), 0.0) + 0.1,
                    return_when="FIRST_COMPLETED",
                )
            for name, item in list(running.items()):
                if item.future.wrapped_future.done():
                    rows[name] = _row_of(item)
                    del running[name]
                elif time.monotonic() > item.deadline:
                    item.future.wrapped_future.cancel()
                    rows[name] = _overdue_row(item, settings)
                    del running[name]
        return FanOut(rows, round(time.monotonic() - started, 2))


def _run_logger() -> Any:
    """The flow run's logger inside a run, else this module's."""
    from prefect import get_run_logger
    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:
        return logger


def _row_of_run(member: FleetMember, flow_run: Any, waited: float, lost: str | None) -> FleetRow:
    """The row of a monitor deployment's run: the row its monitor published, or its error."""
    config_path = member.config_path or member.source
    state = flow_run.state
    if state is None or not state.is_final():
        name = state.name if state else "unknown"
        if lost is not None:
            return error_row(
                member.name,
                config_path,
                f"flow run {flow_run.name} ({flow_run.id}) still {name} when the fleet last "
                f"heard of it; after model_timeout, its state could not be read: {lost}",
                waited,
            )
        return error_row(
            member.name,
            config_path,
            f"flow run {flow_run.name} ({flow_run.id}) still {name} after model_timeout: "
            "cancelled (is a worker of the pool running?)",
            waited,
        )
    duration = flow_run.total_run_time.total_seconds() if flow_run.total_run_time else waited
    if not state.is_completed():
        return error_row(member.name, config_path, state.message or state.name, duration)
    try:
        artifacts = call_api(
            f"reading the monitor row of {member.name}",
            lambda: _read_monitor_rows(member.name, flow_run.id),
            idempotent=True,
        )
    except PrefectApiError as error:
        return error_row(member.name, config_path, f"{error} (its run completed)", duration)
    if not artifacts:
        return error_row(
            member.name, config_path, f"flow run {flow_run.id} completed without a monitor row"
        )
    data: Any = artifacts[0].data
    (row,) = json.loads(data) if isinstance(data, str) else data
    return replace(FleetRow(**row), config_path=config_path, duration_seconds=round(duration, 2))


def _read_monitor_rows(model: str, flow_run_id: Any) -> list[Any]:
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[monitor_row_key(model)]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
            )
        )


def _read_flow_run(flow_run_id: Any) -> Any:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


def _cancel(flow_run_id: Any) -> None:
    from prefect.states import Cancelling

    def cancel() -> None:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(flow_run_id, Cancelling(), force=True)

    with contextlib.suppress(Exception):  # best effort: the row already says what happened
        call_api(f"cancelling flow run {flow_run_id}", cancel, idempotent=True)


@dataclass(frozen=True)
class _Waited:
    flow_run: Any
    lost: str | None  # why the last reads of its state failed, if they did


def _wait_for_run(flow_run: Any, model: str, timeout: float) -> _Waited:
    """Poll a flow run until it is final or `timeout` s have passed.

    A read that fails past the retry budget is tried again at the next poll: the run goes on on
    its worker whether or not the fleet can see it, so a busy server only delays its row.
    """
    deadline = time.monotonic() + timeout
    lost: str | None = None
    while not (flow_run.state and flow_run.state.is_final()) and time.monotonic() < deadline:
        time.sleep(RUN_POLL_SECONDS)
        read = functools.partial(_read_flow_run, flow_run.id)
        try:
            flow_run = call_api(f"reading the run of {model}", read, idempotent=True)
            lost = None
        except PrefectApiError as error:
            lost = str(error)
            logger.warning("%s; reading it again at the next poll", error)
    return _Waited(flow_run, lost)


def _run_deployment_for(
    member: FleetMember, as_of: str | None, settings: FleetConfig, fan_out_id: str
) -> FleetRow:
    from prefect.deployments import run_deployment

    started = time.monotonic()
    parameters: dict[str, Any] = {
        # Absolute: the worker runs from its own directory (the project's, on its machine).
        "config_path": str(Path(member.config_path or member.source).resolve()),
        "mode": "inline",
    }
    if as_of is not None:
        parameters["as_of"] = as_of

    def start() -> Any:
        return run_deployment(  # sync here: this thread runs no event loop
            settings.deployment,
            parameters=parameters,
            timeout=0,  # the fleet waits itself, surviving a busy server (_wait_for_run)
            flow_run_name=f"fleet-{settings.name}-{member.name}",
            # Sent again after an API error, the same key returns the run already created.
            idempotency_key=f"fleet-{fan_out_id}-{member.name}",
        )

    try:
        flow_run = call_api(
            f"starting a run of {settings.deployment} for {member.name}", start, idempotent=True
        )
    except Exception as error:  # no such deployment, server unreachable...
        message = f"could not run deployment {settings.deployment}: {describe_failure(error)}"
        return error_row(member.name, member.config_path or "", message)
    waited = _wait_for_run(flow_run, member.name, settings.timeout_of(member.name).total_seconds())
    flow_run = waited.flow_run
    row = _row_of_run(member, flow_run, time.monotonic() - started, waited.lost)
    if flow_run.state is None or not flow_run.state.is_final():
        _cancel(flow_run.id)
    return row


def run_on_deployments(
    members: list[FleetMember], as_of: str | None, settings: FleetConfig
) -> FanOut:
    """Start one run of the monitor deployment per member, at most max_parallel at a time, and
    wait for them: the work pool's workers, on however many machines, do the work."""
    started = time.monotonic()
    fan_out_id = uuid.uuid4().hex
    rows: dict[str, FleetRow] = {}
    with ThreadPoolExecutor(max_workers=settings.max_parallel) as pool:
        # Each thread gets the flow run's context, so the runs are linked to the fleet's run.
        futures = {
            pool.submit(
                contextvars.copy_context().run,
                _run_deployment_for,
                member,
                as_of,
                settings,
                fan_out_id,
            ): member
            for member in members
        }
        for future, member in futures.items():
            try:
                rows[member.name] = future.result()
            except Exception as error:
                rows[member.name] = error_row(
                    member.name, member.config_path or "", describe_failure(error)
                )
    return FanOut(rows, round(time.monotonic() - started, 2))


def publish_fleet_summary(summary: FleetSummary) -> None:
    """The fleet's table as a table artifact: one row per model, errors in full."""
    failed = len(summary.errors)
    call_api(
        f"publishing the summary of fleet {summary.fleet_name}",
        lambda: create_table_artifact(
            key=f"{summary.fleet_name}-fleet-summary",
            table=fleet_table_rows(summary),
            description=f"Fleet {summary.fleet_name}: {len(summary.rows) - failed} of "
            f"{len(summary.rows)} models ran, {failed} with an error",
        ),
        idempotent=False,
    )
