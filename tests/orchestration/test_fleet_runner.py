"""How the fleet sizes its Dask cluster and its fan-out, and how the deployments runner gets
through a busy API (no cluster or server started here)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import httpx
import pytest
from prefect import Task
from prefect.states import Completed, Running
from prefect_dask import DaskTaskRunner

from tasks.config import FleetConfig, FleetMember
from tasks.core.fleet import FleetRow
from tasks.orchestration import dask_worker, fleet, forkserver, retries
from tasks.orchestration.fleet import (
    QUIET_DASK,
    _slots,
    dask_task_runner,
    local_cluster_kwargs,
    run_on_dask,
    run_on_deployments,
)
from tasks.orchestration.forkserver import METHOD_KEY
from tasks.orchestration.retries import CLIENT_MAX_RETRIES

API = "http://127.0.0.1:4200/api"


def _settings(**values: object) -> FleetConfig:
    return FleetConfig.model_validate({"models": ["models/*.yaml"], **values})


@pytest.mark.parametrize(
    ("cores", "values", "workers"),
    [
        (2, {"max_parallel": 4}, 2),  # the machine's cores...
        (8, {"max_parallel": 4}, 4),  # ... at most max_parallel
        (8, {"max_parallel": 1}, 1),
        (2, {"max_parallel": 4, "dask_workers": 3}, 3),  # or as the fleet file says
    ],
)
def test_the_local_cluster_has_one_single_threaded_process_per_core_up_to_max_parallel(
    cores: int, values: dict[str, object], workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fork server started with this environment; one variable set since.
    monkeypatch.setattr(forkserver, "_started_with", dict(os.environ))
    monkeypatch.setenv("AUTORETRAIN_SET_JUST_NOW", "yes")
    kwargs = local_cluster_kwargs(_settings(**values), API, cores=cores)
    assert kwargs["n_workers"] == workers
    assert kwargs["threads_per_worker"] == 1 and kwargs["processes"] is True
    # The workers talk to this run's Prefect API, not to a temporary server of their own, and
    # their Prefect client retries as much as this process's (the model's calls are made there).
    assert kwargs["env"]["PREFECT_API_URL"] == API
    assert kwargs["env"]["PREFECT_CLIENT_MAX_RETRIES"] == str(CLIENT_MAX_RETRIES)
    assert "evidently" in kwargs["preload"]  # paid once per worker, as it starts
    # A worker forked from a server started earlier still gets what changed since, and only
    # that: the rest of its environment is the server's.
    assert kwargs["env"]["AUTORETRAIN_SET_JUST_NOW"] == "yes"
    assert "PATH" not in kwargs["env"]


def test_without_a_fork_server_the_workers_get_only_the_runs_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Spawned workers inherit this process's environment as it is.
    monkeypatch.setattr(forkserver, "_started_with", None)
    monkeypatch.setenv("AUTORETRAIN_SET_JUST_NOW", "yes")
    env = local_cluster_kwargs(_settings(), API, cores=2)["env"]
    assert env["PREFECT_API_URL"] == API and "AUTORETRAIN_SET_JUST_NOW" not in env


def test_a_dask_address_connects_to_that_cluster_instead_of_starting_one() -> None:
    runner = dask_task_runner(_settings(dask_address="tcp://10.0.0.5:8786"))
    assert isinstance(runner, DaskTaskRunner)
    assert runner.address == "tcp://10.0.0.5:8786" and not runner.cluster_kwargs


def test_the_cluster_starts_with_dasks_housekeeping_slowed_and_the_config_is_restored() -> None:
    import dask

    seen: dict[str, object] = {}

    class Runner:  # what run_on_dask uses of a DaskTaskRunner
        client = SimpleNamespace(as_current=contextlib.nullcontext, nthreads=lambda: {"a": 1})

        def __enter__(self) -> Runner:  # where DaskTaskRunner starts its cluster
            seen.update({key: dask.config.get(key) for key in (*QUIET_DASK, METHOD_KEY)})
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    before = {key: dask.config.get(key) for key in QUIET_DASK}

    def model(name: str) -> FleetRow:
        return FleetRow(model=name, config_path="", window="")

    fan_out = run_on_dask(Task(model), [], None, _settings(), lambda settings: Runner())

    assert fan_out.rows == {}
    # The workers are forked from the server of forkserver.py where the platform has one.
    assert seen == {**QUIET_DASK, METHOD_KEY: "forkserver"}
    assert seen["distributed.worker.profile.enabled"] is False  # a default of True, slowed
    assert {key: dask.config.get(key) for key in QUIET_DASK} == before


@pytest.mark.parametrize(
    ("threads", "max_parallel", "slots"),
    [({"a": 1, "b": 1}, 4, 2), ({"a": 1, "b": 1}, 1, 1), ({"a": 8}, 4, 4), ({}, 3, 3)],
)
def test_models_in_flight_are_bounded_by_max_parallel_and_the_cluster_threads(
    threads: dict[str, int], max_parallel: int, slots: int
) -> None:
    runner = SimpleNamespace(client=SimpleNamespace(nthreads=lambda: threads))
    assert _slots(runner, max_parallel) == slots


def _unavailable(method: str, path: str) -> httpx.HTTPStatusError:
    request = httpx.Request(method, f"{API}{path}")
    response = httpx.Response(503, request=request)
    return httpx.HTTPStatusError("503", request=request, response=response)


class Pool:
    """A monitor deployment behind a busy API: the first start is refused, the first reads of
    the run's state fail past the client's retries, then the run completes."""

    def __init__(self, failed_reads: int) -> None:
        self.run_id = uuid4()
        self.starts: list[dict[str, Any]] = []
        self.reads = 0
        self.failed_reads = failed_reads

    def run_deployment(self, name: str, **options: Any) -> Any:
        self.starts.append(options)
        if len(self.starts) == 1:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        return self._flow_run(Running())

    def read_flow_run(self, flow_run_id: Any) -> Any:
        assert flow_run_id == self.run_id
        self.reads += 1
        if self.reads <= self.failed_reads:
            raise _unavailable("GET", f"/flow_runs/{flow_run_id}")
        return self._flow_run(Completed())

    def _flow_run(self, state: Any) -> Any:
        return SimpleNamespace(
            id=self.run_id, name="fleet-busy-model-a", state=state, total_run_time=timedelta(0)
        )


def test_the_deployments_runner_starts_each_run_once_and_waits_through_a_busy_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import prefect.deployments

    pool = Pool(failed_reads=2)
    row = FleetRow(model="model-a", config_path="", window="[2014-01-01, 2014-04-01)")
    monkeypatch.setattr(prefect.deployments, "run_deployment", pool.run_deployment)
    monkeypatch.setattr(fleet, "_read_flow_run", pool.read_flow_run)
    monkeypatch.setattr(
        fleet,
        "_read_monitor_rows",
        lambda model, run_id: [SimpleNamespace(data=json.dumps([row.to_dict()]))],
    )
    monkeypatch.setattr(fleet, "RUN_POLL_SECONDS", 0.0)  # the runner's own pause between reads
    monkeypatch.setattr(retries, "FIRST_WAIT_SECONDS", 0.0)  # call_api's wait before a retry
    member = FleetMember("model-a", "models/model-a.yaml", "models/model-a.yaml")

    fan_out = run_on_deployments([member], None, _settings(runner="deployments"))

    result = fan_out.rows["model-a"]
    assert result.error is None and result.window == row.window
    # Started twice, with one idempotency key: the second start returns the run the first
    # created, if it did. The runner waits itself (timeout 0), so a failed read is read again.
    keys = {start["idempotency_key"] for start in pool.starts}
    assert len(pool.starts) == 2 and len(keys) == 1 and keys.pop().endswith("-model-a")
    assert {start["timeout"] for start in pool.starts} == {0}
    assert pool.reads == 3


@pytest.mark.parametrize(
    "timeouts",
    [{"model_timeout": "1s"}, {"model_timeout": "1h", "model_timeouts": {"model-a": "1s"}}],
    ids=["fleet-timeout", "own-timeout"],
)
def test_a_run_whose_state_the_fleet_never_reads_again_is_an_error_row_saying_why(
    monkeypatch: pytest.MonkeyPatch, timeouts: dict[str, object]
) -> None:
    import prefect.deployments

    pool = Pool(failed_reads=10**6)
    monkeypatch.setattr(prefect.deployments, "run_deployment", pool.run_deployment)
    monkeypatch.setattr(fleet, "_read_flow_run", pool.read_flow_run)
    monkeypatch.setattr(fleet, "_cancel", lambda flow_run_id: None)
    monkeypatch.setattr(fleet, "RUN_POLL_SECONDS", 0.0)
    monkeypatch.setattr(retries, "FIRST_WAIT_SECONDS", 0.0)
    waits: list[float] = []
    wait_for_run = fleet._wait_for_run

    def spied_wait(flow_run: Any, model: str, timeout: float) -> Any:
        waits.append(timeout)
        return wait_for_run(flow_run, model, timeout)

    monkeypatch.setattr(fleet, "_wait_for_run", spied_wait)
    member = FleetMember("model-a", "models/model-a.yaml", "models/model-a.yaml")

    fan_out = run_on_deployments([member], None, _settings(runner="deployments", **timeouts))

    assert waits == [1.0]  # the model's own timeout wins over the fleet's

    error = fan_out.rows["model-a"].error or ""
    assert error.startswith(
        f"flow run fleet-busy-model-a ({pool.run_id}) still Running when the fleet last heard "
        "of it; after model_timeout, its state could not be read: reading the run of model-a: "
        "the Prefect API kept failing (503 Service Unavailable to GET /api/flow_runs/"
    ), error
    assert f"retried {CLIENT_MAX_RETRIES} times by Prefect's client over" in error


def test_the_workers_drop_prefects_thread_timeout_warning_and_no_other_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    task_runs = logging.getLogger("prefect.task_runs")
    monkeypatch.setattr(task_runs, "filters", [])
    dask_worker.quiet_thread_timeout_warning()
    dask_worker.quiet_thread_timeout_warning()  # a second call adds no second filter
    assert len(task_runs.filters) == 1

    def kept(message: str, *args: object) -> bool:
        record = task_runs.makeRecord(
            task_runs.name, logging.WARNING, __file__, 1, message, args, None
        )
        return bool(task_runs.filter(record))

    # Prefect's text (prefect/task_engine.py); the real fleet run's output is checked in
    # tests/flows/test_fleet.py.
    prefects = (
        "Timeout of %s seconds configured for this task, but the task is running in a worker "
        "thread. Timeouts in worker threads cannot interrupt blocking operations"
    )
    assert not kept(prefects, 3600.0)
    assert kept("Task run failed with exception: TaskRunTimeoutError('Timeout of %s seconds')", 5)
    assert kept("%s: the registry is locked", "model-a")
