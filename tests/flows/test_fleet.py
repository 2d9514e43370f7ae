"""The fleet on a real Dask LocalCluster (worker processes): one broken or hanging model is one
error row, the others complete, the exit code says so, and the summary reaches the terminal, a
table artifact and a CSV.

The module's Prefect server is a real one on a throwaway PostgreSQL: under the fleet's concurrent
writes the session's temporary SQLite server answered 503 (database locked) with no Retry-After,
and Prefect's client backed off 2 to 128 s each time (docs/benchmarks.md, Where the suite waited).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

from flows.fleet import main
from tasks.stores.registry import LocalRegistry
from tests.helpers import (
    DEMO_DATA,
    LATENCY_GUARD_ASIDE,
    ROOT,
    merge,
    read_artifact,
    repo_raw_config,
    task_run_names,
)
from tests.postgres import Postgres
from tests.processes import prefect_api, prefect_server_on
from tests.worker_probe import ENVIRONMENT

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_on_postgres")]


@pytest.fixture(scope="module")
def prefect_on_postgres(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """The module's fleets, their Dask workers and its checks on a real Prefect server whose
    database is PostgreSQL (skips, or fails in CI, without PostgreSQL)."""
    directory = tmp_path_factory.mktemp("fleet-prefect-server")
    with prefect_server_on(postgres, directory) as api_url, prefect_api(api_url):
        yield


def _defaults(tmp_path: Path) -> dict[str, Any]:
    raw = repo_raw_config()
    del raw["name"]
    raw["data"]["source"]["path"] = str(DEMO_DATA)
    raw["registry"]["path"] = str(tmp_path / "registry")
    raw["reports"]["path"] = str(tmp_path / "reports")
    return merge(raw, LATENCY_GUARD_ASIDE)


def _write_fleet(
    tmp_path: Path, name: str, models: dict[str, dict[str, Any]], **settings: Any
) -> Path:
    for model, overrides in models.items():
        (tmp_path / "models").mkdir(exist_ok=True)
        (tmp_path / "models" / f"{model}.yaml").write_text(
            yaml.safe_dump({"name": model, **overrides}, sort_keys=False)
        )
    fleet = {"name": name, "models": ["models/*.yaml"], "defaults": _defaults(tmp_path), **settings}
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet, sort_keys=False))
    return path


def _champion(tmp_path: Path, model: str) -> str | None:
    return LocalRegistry(tmp_path / "registry", model).get_alias("champion")


def _lines(output: str) -> dict[str, str]:
    return {line.split()[0]: line for line in output.splitlines() if line.startswith("model-")}


def test_a_fleet_with_a_broken_model_runs_the_others_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet_path = _write_fleet(
        tmp_path,
        "fleet-broken-one",
        {
            "model-a": {},
            # Its steps as task runs (orchestration.task_runs); model-a's run in its flow runs.
            "model-b": {
                "windows": {"as_of": "2013-10-01"},
                "orchestration": {"task_runs": "steps"},
            },
            "model-c": {"data": {"source": {"path": str(tmp_path / "no-such-data")}}},
        },
        max_parallel=2,
        dask_workers=2,
    )

    code = main(["--fleet", str(fleet_path)])

    out = capsys.readouterr().out
    assert code == 2, out
    assert _champion(tmp_path, "model-a") is not None
    assert _champion(tmp_path, "model-b") is not None
    assert _champion(tmp_path, "model-c") is None
    lines = _lines(out)
    assert set(lines) == {"model-a", "model-b", "model-c"}
    assert " error " in lines["model-c"] and "no-such-data" in lines["model-c"]
    assert " error " not in lines["model-a"] and " error " not in lines["model-b"]
    assert "[2013-07-03 00:00, 2013-10-01 00:00)" in lines["model-b"]
    assert "fleet fleet-broken-one (dask): 2 of 3 models ran, 1 with an error" in out
    # On the Dask workers, task_runs auto: model-a's steps ran inside its flow runs (monitor,
    # and retrain and promote if it retrained); model-b's config says steps: a task run each.
    # (The task runs an inline retrain or promote subflow is in its parent run remain.)
    assert _step_task_runs("model-a") <= {"retrain", "promote"}
    assert {"measure_window", "decide_on_history", "record_monitor_run"} <= _step_task_runs(
        "model-b"
    )

    # The same table as a Prefect table artifact, the error in full.
    artifact = read_artifact("fleet-broken-one-fleet-summary")
    assert artifact is not None
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert isinstance(table, list)  # a table artifact: one dict per row
    by_model = {row["model"]: row for row in table}
    assert set(by_model) == {"model-a", "model-b", "model-c"}
    assert by_model["model-a"]["error"] == "" and by_model["model-c"]["action"] == "error"
    assert "no-such-data" in by_model["model-c"]["error"]

    # ... and as a CSV, every field.
    (csv_path,) = (tmp_path / ".autoretrain" / "fleet" / "fleet-broken-one").glob("summary-*.csv")
    with csv_path.open() as handle:
        rows = {row["model"]: row for row in csv.DictReader(handle)}
    assert rows["model-a"]["champion_after"] == _champion(tmp_path, "model-a")
    assert rows["model-c"]["error"] and not rows["model-a"]["error"]


def _step_task_runs(model: str) -> set[str]:
    """The names (without their suffix) of the task runs of the flow runs of a fleet's model."""
    with get_client(sync_client=True) as client:
        runs = [
            run
            for run in client.read_flow_runs(limit=200)
            if model in str(run.parameters.get("config_path", ""))
        ]
    assert runs, f"no flow run of {model}"
    return set(task_run_names([run.id for run in runs]))


def _task_runs_named(prefix: str, flow_run_names: list[str]) -> list[Any]:
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=prefix)), limit=50
        )
    return [run for run in runs if run.name in flow_run_names]


def test_a_hanging_model_is_cut_by_its_timeout_and_max_parallel_bounds_the_fan_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hanging = {
        "model": {
            "allowed_modules": ["tests.helpers"],
            "estimator": "tests.helpers.HangingClassifier",
            "params": {},
        }
    }
    fleet_path = _write_fleet(
        tmp_path,
        "fleet-hanging-one",
        {"model-hangs": hanging, "model-ok": {}},
        max_parallel=1,
        dask_workers=2,
        # Its own timeout cuts the hanging model in seconds; the other keeps the fleet's hour.
        model_timeouts={"model-hangs": "5s"},
    )

    code = main(["--fleet", str(fleet_path)])

    out = capsys.readouterr().out
    assert code == 2, out
    lines = _lines(out)
    assert " error " in lines["model-hangs"] and "timeout" in lines["model-hangs"].lower()
    # Prefect's task timeout, the model's own: the other model ran longer than 5 s unharmed.
    assert "exceeded timeout of 5.0 second" in lines["model-hangs"], lines["model-hangs"]
    assert " error " not in lines["model-ok"]
    assert _champion(tmp_path, "model-ok") is not None

    # max_parallel 1 on two workers: the two models' task runs never overlapped.
    runs = _task_runs_named("monitor-model-", ["monitor-model-hangs", "monitor-model-ok"])
    assert len(runs) == 2, [run.name for run in runs]
    first, second = sorted(runs, key=lambda run: run.start_time)
    assert first.end_time is not None and second.start_time is not None
    assert first.end_time <= second.start_time


def test_a_bad_fleet_file_exits_2_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump({"models": ["*.yaml"], "max_paralel": 2}))

    assert main(["--fleet", str(path)]) == 2
    assert "max_paralel: unknown key" in capsys.readouterr().err


def test_dask_address_runs_the_models_on_that_existing_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from distributed import LocalCluster

    api_url = str(get_client(sync_client=True).api_url)
    # The "existing" cluster: its workers know the Prefect API, as a real cluster's must.
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        env={"PREFECT_API_URL": api_url},
    ) as cluster:
        fleet_path = _write_fleet(
            tmp_path, "fleet-on-address", {"model-x": {}}, dask_address=cluster.scheduler_address
        )
        code = main(["--fleet", str(fleet_path)])
        ran_here = [
            entry for entry in cluster.scheduler.transition_log if "monitor_model" in str(entry[0])
        ]

    out = capsys.readouterr().out
    assert code == 0, out
    assert _champion(tmp_path, "model-x") is not None
    assert ran_here, "the model did not run on the cluster at dask_address"


def test_a_busy_api_slows_the_fleet_but_loses_no_model_and_a_lasting_failure_is_its_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """503 Service Unavailable, as the temporary server answers a loaded fleet: the first call of
    every route, in every process (the fleet's and the Dask workers'), fails 6 times in a row
    (Prefect's default budget is 5 retries); one model's summary artifact never gets through."""
    from tasks.orchestration.retries import CLIENT_MAX_RETRIES
    from tests.flaky_api import install, read_log, worker_preload

    log = tmp_path / "injected.jsonl"
    rules = {
        "times": 6,
        "always": [["POST /artifacts/", r'"key": ?"model-stuck-monitor-summary"']],
        "log": str(log),
    }
    worker_preload(monkeypatch, rules)
    install(monkeypatch, rules)
    fleet_path = _write_fleet(
        tmp_path,
        "fleet-busy-api",
        {"model-a": {}, "model-b": {"windows": {"as_of": "2013-10-01"}}, "model-stuck": {}},
        max_parallel=2,
        dask_workers=2,
    )

    code = main(["--fleet", str(fleet_path)])
    monkeypatch.undo()  # the API answers again, for the checks below

    out = capsys.readouterr().out
    assert code == 2, out
    lines = _lines(out)
    assert " error " not in lines["model-a"] and " error " not in lines["model-b"], out
    assert _champion(tmp_path, "model-a") is not None
    assert _champion(tmp_path, "model-b") is not None
    assert "fleet fleet-busy-api (dask): 2 of 3 models ran, 1 with an error" in out
    # The stuck model's row says which call failed, how often it was retried and for how long.
    artifact = read_artifact("fleet-busy-api-fleet-summary")
    assert artifact is not None
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert isinstance(table, list)  # a table artifact: one dict per row
    error = {row["model"]: row for row in table}["model-stuck"]["error"]
    assert error.startswith(
        "publishing the artifact model-stuck-monitor-summary: the Prefect API kept failing (503 "
        f"Service Unavailable to POST /api/artifacts/); retried {CLIENT_MAX_RETRIES} times by "
        "Prefect's client over "
    ), error
    # The 503s did happen, in the workers too (the models' calls are made there).
    records = read_log(log)
    in_workers = {r["route"] for r in records if r["pid"] != os.getpid()}
    recovered = {r["route"] for r in records if r["kind"] == "passed" and r["failed"] == 6}
    routes = {"POST /task_runs/", "POST /flow_runs/", "POST /artifacts/", "POST /events"}
    assert routes <= recovered & in_workers, sorted(recovered & in_workers)


# A command line's start (tasks/orchestration/forkserver.py): the fork server is started before
# Prefect is imported, here with an API nobody answers at; the run's own is set after it.
FORKED_RUN = """
import os, sys
api_url = os.environ["PREFECT_API_URL"]
os.environ["PREFECT_API_URL"] = "http://127.0.0.1:9/api"
from tasks.orchestration.forkserver import start_forkserver
assert start_forkserver()
os.environ["PREFECT_API_URL"] = api_url
from tasks.orchestration import fleet
fleet.WORKER_PRELOAD = (*fleet.WORKER_PRELOAD, "tests.worker_probe")
from flows.fleet import main
print("main process", os.getpid())
sys.exit(main(["--fleet", sys.argv[1]]))
"""


def test_the_workers_are_forked_from_one_server_and_run_with_this_runs_prefect_api(
    tmp_path: Path,
) -> None:
    fleet_path = _write_fleet(
        tmp_path, "fleet-forked", {"model-a": {}, "model-b": {}}, max_parallel=2, dask_workers=2
    )
    probes = tmp_path / "probes"
    probes.mkdir()
    api_url = str(get_client(sync_client=True).api_url)
    env = {**os.environ, "PREFECT_API_URL": api_url, ENVIRONMENT: str(probes)}
    # As a user's shell: no thread setting (the suite sets one OpenMP thread, tests/__init__.py).
    env.pop("OMP_NUM_THREADS", None)

    done = subprocess.run(
        [sys.executable, "-c", FORKED_RUN, str(fleet_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    main_pid = int(done.stdout.split("main process ", 1)[1].split()[0])
    workers = [json.loads(path.read_text()) for path in probes.glob("*.json")]
    assert len(workers) == 2
    # Forked by the server, not spawned by the nannies of the run's process...
    assert {worker["parent"] for worker in workers} != {main_pid}
    assert len({worker["parent"] for worker in workers}) == 1
    # ... and talking to the run's API, not to the one the server started with.
    assert {worker["api"] for worker in workers} == {api_url}
    # One OpenMP thread each, as Dask gives a spawned worker: the server started with it (the
    # workers' numerical libraries were loaded there), not with the run's environment.
    assert [worker["openmp threads"] for worker in workers] == [[1], [1]], workers
    assert _champion(tmp_path, "model-a") is not None and _champion(tmp_path, "model-b") is not None
    # Prefect's warning that a task's timeout cannot interrupt a worker thread, once per model,
    # is quieted in the workers (tasks/orchestration/dask_worker.py): the fleet has its deadline.
    assert "running in a worker thread" not in done.stdout + done.stderr
