"""How the fleet sizes its Dask cluster and its fan-out (no cluster started here)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from prefect_dask import DaskTaskRunner

from tasks.fleet_config import FleetConfig
from tasks.orchestration.fleet import _slots, dask_task_runner, local_cluster_kwargs

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
    cores: int, values: dict[str, object], workers: int
) -> None:
    kwargs = local_cluster_kwargs(_settings(**values), API, cores=cores)
    assert kwargs["n_workers"] == workers
    assert kwargs["threads_per_worker"] == 1 and kwargs["processes"] is True
    # The workers talk to this run's Prefect API, not to a temporary server of their own.
    assert kwargs["env"] == {"PREFECT_API_URL": API}
    assert "evidently" in kwargs["preload"]  # paid once per worker, as it starts


def test_a_dask_address_connects_to_that_cluster_instead_of_starting_one() -> None:
    runner = dask_task_runner(_settings(dask_address="tcp://10.0.0.5:8786"))
    assert isinstance(runner, DaskTaskRunner)
    assert runner.address == "tcp://10.0.0.5:8786" and not runner.cluster_kwargs


@pytest.mark.parametrize(
    ("threads", "max_parallel", "slots"),
    [({"a": 1, "b": 1}, 4, 2), ({"a": 1, "b": 1}, 1, 1), ({"a": 8}, 4, 4), ({}, 3, 3)],
)
def test_models_in_flight_are_bounded_by_max_parallel_and_the_cluster_threads(
    threads: dict[str, int], max_parallel: int, slots: int
) -> None:
    runner = SimpleNamespace(client=SimpleNamespace(nthreads=lambda: threads))
    assert _slots(runner, max_parallel) == slots
