"""runner: deployments on a real Prefect server with two workers: the fleet starts one run of the
monitor deployment per model, bounded by max_parallel, and reads each model's row back.

Each worker takes one flow run at a time (--limit 1), so two models in flight at once run on
the two workers. The server's database is a throwaway PostgreSQL: on SQLite, the fleet's and the
workers' concurrent writes got 503s (database locked) that Prefect's client waited out for
2 to 128 s each. Every process the test starts is stopped by its PID.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tasks.stores.registry import LocalRegistry
from tests.helpers import DEMO_DATA, LATENCY_GUARD_ASIDE, ROOT, merge, repo_raw_config
from tests.orchestration.test_server_integration import (
    Processes,
    Server,
    _api,
    _free_port,
    start_and_deploy,
    start_worker,
)
from tests.postgres import Postgres
from tests.processes import prefect_database_url, prefect_server_environment, stop_processes

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def pool_of_two(
    tmp_path_factory: pytest.TempPathFactory, postgres: Postgres
) -> Iterator[tuple[Server, list[Path]]]:
    """A real server on PostgreSQL, the project's deployments and two process workers of one
    run each."""

    base = tmp_path_factory.mktemp("fleet-server")
    project = base / "project"
    project.mkdir()
    shutil.copy(ROOT / "prefect.yaml", project / "prefect.yaml")
    (project / "flows").symlink_to(ROOT / "flows")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = prefect_server_environment(url, base / "prefect-home")
    env.update(
        {
            # Only the server reads it: workers and flows talk to the API.
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect_database_url(postgres),
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "OMP_NUM_THREADS": "1",
            "PWD": str(project),
        }
    )
    logs = base / "logs"
    logs.mkdir()
    processes: Processes = []
    worker_logs = [logs / "worker-1.log", logs / "worker-2.log"]
    try:
        handle = Server(url, env, project)
        start_and_deploy(handle, port, logs / "server.log", processes)
        for log in worker_logs:
            start_worker(handle, log, processes, "--limit", "1")
        yield handle, worker_logs
    finally:
        stop_processes(processes, grace=20)


def _write_fleet(server: Server, base: Path) -> Path:
    fleet_dir = server.project / "fleet"
    (fleet_dir / "models").mkdir(parents=True)
    defaults = merge(repo_raw_config(), LATENCY_GUARD_ASIDE)
    del defaults["name"]
    defaults["data"]["source"]["path"] = str(DEMO_DATA)
    defaults["registry"]["path"] = str(base / "registry")
    defaults["reports"]["path"] = str(base / "reports")
    models: dict[str, dict[str, Any]] = {
        "pool-a": {},
        "pool-b": {"windows": {"as_of": "2013-10-01"}},
        "pool-c": {"data": {"source": {"path": str(base / "no-such-data")}}},
    }
    for name, overrides in models.items():
        (fleet_dir / "models" / f"{name}.yaml").write_text(
            yaml.safe_dump({"name": name, **overrides})
        )
    fleet = {
        "name": "pool-fleet",
        "models": ["models/*.yaml"],
        "defaults": defaults,
        "runner": "deployments",
        "deployment": "monitor/autoretrain-loop",
        "max_parallel": 2,
        "model_timeout": "10min",
    }
    path = fleet_dir / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet, sort_keys=False))
    return path


def test_runner_deployments_spreads_the_models_over_the_pool_and_reads_their_rows(
    pool_of_two: tuple[Server, list[Path]], tmp_path: Path
) -> None:
    server, worker_logs = pool_of_two
    fleet_path = _write_fleet(server, tmp_path)

    finished = subprocess.run(
        [sys.executable, str(ROOT / "flows" / "fleet.py"), "--fleet", str(fleet_path)],
        cwd=server.project,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    out = finished.stdout
    assert finished.returncode == 2, out[-3000:] + finished.stderr[-3000:]
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("pool-")}
    assert set(lines) == {"pool-a", "pool-b", "pool-c"}
    assert " error " in lines["pool-c"] and "no-such-data" in lines["pool-c"]
    for model in ("pool-a", "pool-b"):
        champion = LocalRegistry(tmp_path / "registry", model).get_alias("champion")
        assert champion is not None
        # The row read back from the run's artifact: window, numbers and the champion.
        assert " error " not in lines[model] and f"-> {champion}" in lines[model]
    assert "fleet pool-fleet (deployments): 2 of 3 models ran, 1 with an error" in out

    loop = _api(server, "GET", "/deployments/name/monitor/autoretrain-loop")
    runs = _api(
        server, "POST", "/flow_runs/filter", flow_runs={"deployment_id": {"any_": [loop["id"]]}}
    )
    assert sorted(run["name"] for run in runs) == [
        "fleet-pool-fleet-pool-a",
        "fleet-pool-fleet-pool-b",
        "fleet-pool-fleet-pool-c",
    ]
    # One run at a time per worker, two models in flight: both workers ran some of them.
    ran_by = [
        {run["name"] for run in runs if str(run["id"]) in log.read_text(errors="replace")}
        for log in worker_logs
    ]
    assert all(ran_by), ran_by
