"""The deployments on a real Prefect server: schedule, event chain, concurrency, two workers.

Starts `prefect server start` on 127.0.0.1 with a temporary PREFECT_HOME and its database in a
throwaway PostgreSQL cluster, creates the work pool, runs `prefect deploy --all` on the
project's own prefect.yaml, starts a worker, and drives the loop through the API. Every process
it starts is stopped by PID, also on failure.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml

from tasks.core.numbers import format_number
from tasks.stores.registry import model_directory
from tests.browser import chromium, require_chromium, save_screenshot
from tests.helpers import (
    DEMO_DATA,
    LATENCY_GUARD_ASIDE,
    ROOT,
    demo_log_to_sql,
    merge,
    repo_raw_config,
)
from tests.postgres import Postgres
from tests.processes import (
    api_call,
    prefect_server_environment,
    start_prefect_server,
    stop_processes,
)
from tests.processes import free_port as _free_port
from tests.processes import stop_process as _stop
from tests.processes import wait_for as _wait_for
from tests.registry_backends import MLFLOW_ENVIRONMENT, mlflow_server_running

pytestmark = pytest.mark.server

BIN = Path(sys.executable).parent


@dataclass
class Server:
    url: str
    env: dict[str, str]
    project: Path
    # The PostgreSQL cluster and database of the server's own state, for the tests that read
    # them; None: they are not told.
    postgres: Postgres | None = None
    database: str = ""


def _cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "prefect"), *args],
        cwd=server.project,
        env=server.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, postgres: Postgres) -> Iterator[Server]:
    """A real Prefect server on PostgreSQL, the work pool, the deployments and a worker."""
    base = tmp_path_factory.mktemp("server")
    database = postgres.create_database("prefect")
    project = base / "project"
    project.mkdir()
    # The project as a user has it: the real prefect.yaml and flows, their own config.yaml.
    shutil.copy(ROOT / "prefect.yaml", project / "prefect.yaml")
    shutil.copy(ROOT / "automations.yaml", project / "automations.yaml")
    (project / "flows").symlink_to(ROOT / "flows")
    config = merge(
        merge(repo_raw_config(), LATENCY_GUARD_ASIDE),
        {
            "data": {"source": {"path": str(DEMO_DATA)}},
            "registry": {"path": str(base / "registry")},
            "reports": {"path": str(base / "reports")},
            "orchestration": {"on_busy": "drop"},
        },
    )
    (project / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = prefect_server_environment(url, base / "prefect-home")
    env.update(
        {
            # Only the server reads it: workers and flows talk to the API.
            "PREFECT_API_DATABASE_CONNECTION_URL": postgres.url(database, driver="asyncpg"),
            "PREFECT_WORKER_QUERY_SECONDS": "2",  # the default 10 s poll only slows the test
            # The server frees expired concurrency leases this often (default 15 s).
            "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "2",
            "PWD": str(project),
        }
    )
    logs = base / "logs"
    logs.mkdir()
    processes: Processes = []
    try:
        handle = Server(url, env, project, postgres, database)
        start_and_deploy(handle, port, logs / "server.log", processes)
        start_worker(handle, logs / "worker.log", processes)
        yield handle
    finally:
        stop_processes(processes, grace=20)


Processes = list[tuple[subprocess.Popen[bytes], int]]  # each with the signal that stops it first


def start_and_deploy(server: Server, port: int, log: Path, processes: Processes) -> None:
    """Start `prefect server` for server on port, wait for /health, create the process pool
    `autoretrain` and deploy the project's prefect.yaml."""
    processes.append((start_prefect_server(port, server.env, server.project, log), signal.SIGTERM))
    created = _cli(server, "work-pool", "create", "autoretrain", "--type", "process")
    assert created.returncode == 0, created.stderr
    deployed = _cli(server, "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]


def start_worker(server: Server, log: Path, processes: Processes, *options: str) -> None:
    """A process worker of the pool `autoretrain` (options: e.g. --limit 1)."""
    worker = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", "autoretrain", *options],
        cwd=server.project,
        env=server.env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    processes.append((worker, signal.SIGINT))  # the worker shuts down cleanly on SIGINT


def _api(server: Server, method: str, path: str, **body: Any) -> Any:
    return api_call(server.url, method, path, **body)


def _deployment(server: Server, flow: str, name: str) -> dict[str, Any]:
    return _api(server, "GET", f"/deployments/name/{flow}/{name}")


def _runs_of(server: Server, deployment_id: str) -> list[dict[str, Any]]:
    return _api(
        server, "POST", "/flow_runs/filter", flow_runs={"deployment_id": {"any_": [deployment_id]}}
    )


def _run_deployment(server: Server, deployment_id: str, parameters: dict[str, Any]) -> str:
    run = _api(
        server, "POST", f"/deployments/{deployment_id}/create_flow_run", parameters=parameters
    )
    return str(run["id"])


def _final_state(server: Server, run_id: str, timeout: float = 240) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        run = _api(server, "GET", f"/flow_runs/{run_id}")
        return (
            run if run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} else None
        )

    return _wait_for(done, timeout, f"flow run {run_id} to finish", interval=2)


def _logs(server: Server, run_id: str) -> str:
    logs = _api(server, "POST", "/logs/filter", logs={"flow_run_id": {"any_": [run_id]}}, limit=200)
    return "\n".join(entry["message"] for entry in logs)


def _artifacts(server: Server, run_id: str) -> dict[str, Any]:
    found = _api(server, "POST", "/artifacts/filter", artifacts={"flow_run_id": {"any_": [run_id]}})
    return {artifact["key"]: artifact for artifact in found}


def test_deploy_accepts_prefect_yaml_with_schedule_and_triggers(server: Server) -> None:
    monitor = _deployment(server, "monitor", "autoretrain-monitor")
    schedules = monitor["schedules"]
    assert [s["schedule"]["cron"] for s in schedules] == ["0 6 * * *"]
    assert schedules[0]["schedule"]["timezone"] == "UTC"
    assert monitor["parameters"] == {"config_path": "config.yaml", "mode": "events"}
    names = {d["name"] for d in _api(server, "POST", "/deployments/filter")}
    assert names == {
        "autoretrain-monitor",
        "autoretrain-retrain",
        "autoretrain-promote",
        "autoretrain-loop",
        "autoretrain-rollback",
        "autoretrain-fleet",
    }
    automations = _api(server, "POST", "/automations/filter")
    expected = {a["trigger"]["expect"][0] for a in automations}
    assert expected == {"autoretrain.retrain.requested", "autoretrain.challenger.registered"}


def test_monitor_deployment_chains_retrain_and_promote_through_events(server: Server) -> None:
    monitor = _deployment(server, "monitor", "autoretrain-monitor")
    retrain = _deployment(server, "retrain", "autoretrain-retrain")
    promote = _deployment(server, "promote", "autoretrain-promote")

    monitor_run = _run_deployment(server, monitor["id"], {})
    finished = _final_state(server, monitor_run)
    assert finished["state"]["type"] == "COMPLETED", _logs(server, monitor_run)
    summary = _artifacts(server, monitor_run)["seattle-weather-monitor-summary"]
    assert "status      retrain-requested" in summary["data"]
    assert f"requested   autoretrain.retrain.requested, request {monitor_run}: " in summary["data"]

    # Nobody ran the retrain or promote deployments: their runs come from the triggers, with
    # parameters rendered from the events' payloads.
    retrain_runs = _wait_for(lambda: _runs_of(server, retrain["id"]), 60, "a retrain run")
    assert len(retrain_runs) == 1
    assert retrain_runs[0]["parameters"]["request_id"] == monitor_run
    assert "severe performance breach" in retrain_runs[0]["parameters"]["reason"]
    retrained = _final_state(server, retrain_runs[0]["id"])
    assert retrained["state"]["type"] == "COMPLETED", _logs(server, retrained["id"])
    outcome = _artifacts(server, retrained["id"])["seattle-weather-retrain-outcome"]
    assert "registered challenger v0002" in outcome["data"]
    # Each run of the chain names the monitor run (request id) and the reason behind it.
    trigger = f"Trigger: triggered by request {monitor_run} (the monitor run's id): monitor: "
    assert trigger in outcome["data"]

    promote_runs = _wait_for(lambda: _runs_of(server, promote["id"]), 60, "a promote run")
    assert len(promote_runs) == 1
    assert promote_runs[0]["parameters"]["challenger_version"] == "v0002"
    assert promote_runs[0]["parameters"]["request_id"] == monitor_run
    assert "severe performance breach" in promote_runs[0]["parameters"]["reason"]
    promoted = _final_state(server, promote_runs[0]["id"])
    assert promoted["state"]["type"] == "COMPLETED", _logs(server, promoted["id"])
    artifacts = _artifacts(server, promoted["id"])
    assert trigger in artifacts["seattle-weather-promote-outcome"]["data"]
    assert "PROMOTE" in artifacts["seattle-weather-comparison-verdict"]["data"]
    assert artifacts["seattle-weather-comparison"]["type"] == "table"

    aliases = yaml.safe_load(
        (
            model_directory(server.project.parent / "registry", "seattle-weather") / "aliases.json"
        ).read_text()
    )
    assert aliases == {"champion": "v0002"}


def test_the_server_keeps_its_runs_in_postgresql(server: Server) -> None:
    """The runs the API returns are the rows of the PostgreSQL database; no SQLite file."""
    through_api = {str(run["id"]) for run in _api(server, "POST", "/flow_runs/filter")}
    assert server.postgres is not None
    in_postgres = set(server.postgres.psql(server.database, "SELECT id FROM flow_run").split())

    # At least the runs the scheduler made for the monitor's cron schedule (and the chain's).
    assert len(through_api) >= 1
    assert in_postgres == through_api
    assert list((server.project.parent / "prefect-home").glob("*.db")) == []


SLOT = "autoretrain-retrain-seattle-weather"  # the retrain slot of the test model
HOLD_SLOT = """
import sys
import threading
from tasks.config import load_config
from tasks.orchestration.runtime import model_slot

with model_slot(load_config("config.yaml"), "retrain"):
    print("held", flush=True)
    sys.stdin.read()  # hold until the test closes stdin
"""


@contextlib.contextmanager
def _slot_holder(server: Server) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the model's retrain slot, as a running retrain does.

    Its stderr goes to a file that a failure quotes; whatever happens in the test, the holder
    is asked to let go first (stdin closed), so one failed test does not leave the slot taken
    for the next one until the lease runs out.
    """
    errors = server.project.parent / "logs" / "slot-holder.err"
    with errors.open("w") as stderr:
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_SLOT],
            cwd=server.project,
            env=server.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        said = holder.stdout.readline().strip()
        assert said == "held", f"the slot holder said {said!r}:\n{errors.read_text()[-3000:]}"
        yield holder
        holder.stdin.close()  # let it release the slot and exit
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None and not holder.stdin.closed:
            holder.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                holder.wait(timeout=30)
        _stop(holder, signal.SIGKILL)


def _slot_is_free(server: Server, name: str) -> bool:
    try:
        return _api(server, "GET", f"/v2/concurrency_limits/{name}")["active_slots"] == 0
    except httpx.HTTPStatusError as error:  # not created yet: nobody holds it
        return error.response.status_code == 404


def test_a_second_retrain_while_one_runs_is_dropped_as_configured(server: Server) -> None:
    retrain = _deployment(server, "retrain", "autoretrain-retrain")
    _wait_for(lambda: _slot_is_free(server, SLOT), 120, "the retrain slot to be free", interval=2)
    versions = model_directory(server.project.parent / "registry", "seattle-weather") / "versions"
    before = sorted(p.name for p in versions.iterdir())

    with _slot_holder(server) as holder:
        # A second request arrives while the slot is held.
        second = _run_deployment(server, retrain["id"], {"request_id": "second-request"})
        finished = _final_state(server, second)

    assert holder.returncode == 0
    assert finished["state"]["type"] == "COMPLETED"
    # The artifact, not the logs: logs are shipped in the background and may arrive late.
    outcome = _artifacts(server, second)["seattle-weather-retrain-outcome"]
    assert outcome["description"] == "retrain status: dropped"
    assert "this request is dropped (on_busy: drop)" in outcome["data"]
    assert sorted(p.name for p in versions.iterdir()) == before  # nothing was trained


def test_a_killed_run_frees_its_slot_when_the_lease_runs_out(server: Server) -> None:
    name = SLOT
    _wait_for(lambda: _slot_is_free(server, name), 120, "the retrain slot to be free", interval=2)
    with _slot_holder(server) as holder:
        os.killpg(holder.pid, signal.SIGKILL)  # no exit handler runs: the slot is not released
        holder.wait(timeout=30)
    assert holder.returncode == -signal.SIGKILL
    assert _api(server, "GET", f"/v2/concurrency_limits/{name}")["active_slots"] == 1

    # orchestration.slot_lease (60 s by default) bounds how long the dead run keeps the slot.
    _wait_for(
        lambda: _api(server, "GET", f"/v2/concurrency_limits/{name}")["active_slots"] == 0,
        60 + 60,
        "the killed run's slot to be freed when its 60 s lease ran out",
        interval=2,
    )


# Alerts: the automations of automations.yaml, applied with the documented command, notify a
# local HTTP receiver through a custom-webhook block. These run last: they apply automations.

ALERTS_MODEL = "seattle-alerts"
CREATE_BLOCK = """
import sys
import threading
from prefect.blocks.notifications import CustomWebhookNotificationBlock

CustomWebhookNotificationBlock(
    name="autoretrain", url=sys.argv[2], json_data={"subject": "{{subject}}", "body": "{{body}}"}
).save(sys.argv[1], overwrite=True)
"""


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:  # quiet
        pass


@contextlib.contextmanager
def _receiver() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """An HTTP receiver on 127.0.0.1 that keeps every JSON body POSTed to it."""
    _Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    finally:
        server.shutdown()
        server.server_close()


def _python(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=server.project,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _messages(received: list[dict[str, str]], fragment: str) -> list[dict[str, str]]:
    return [message for message in received if fragment in message["subject"]]


def test_alerts_reach_the_receiver_for_degraded_promoted_and_failed_runs(server: Server) -> None:
    """Degraded and promoted notifications carry the model, the numbers and the run's link; a
    failed run sends its own; a block that cannot deliver fails no flow run (notifications are
    sent by the server's automations, never by the flows)."""
    base = server.project.parent
    config = merge(
        yaml.safe_load((server.project / "config.yaml").read_text()),
        {"name": ALERTS_MODEL, "registry": {"path": str(base / "alerts-registry")}},
    )
    (server.project / "alerts.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    # A second copy of the automations notifies through a block nobody listens to.
    dead_file = base / "dead-automations.yaml"
    text = (ROOT / "automations.yaml").read_text()
    dead_file.write_text(text.replace("  - name: autoretrain-", "  - name: dead-autoretrain-"))
    monitor = _deployment(server, "monitor", "autoretrain-monitor")
    promote = _deployment(server, "promote", "autoretrain-promote")

    with _receiver() as (hook, received):
        dead = f"http://127.0.0.1:{_free_port()}/nobody-listens"
        for block, url in (("autoretrain-alerts", hook), ("autoretrain-dead-end", dead)):
            created = _python(server, "-c", CREATE_BLOCK, block, url)
            assert created.returncode == 0, created.stderr
        # Earlier tests emitted degraded and promoted events on this server: no automation yet,
        # so nobody was told.
        assert received == []
        # The documented command, from the project directory; then the dead-end copy.
        apply = ("-m", "tasks.cli.alerts", "apply", "--block")
        for arguments in (
            (*apply, "custom-webhook/autoretrain-alerts"),
            (*apply, "custom-webhook/autoretrain-dead-end", "--file", str(dead_file)),
            (*apply, "custom-webhook/autoretrain-alerts"),  # again: replaces, does not double
        ):
            applied = _python(server, *arguments)
            assert applied.returncode == 0, applied.stderr
            assert "8 automations notify through" in applied.stdout
        assert len(_api(server, "POST", "/automations/filter")) == 2 + 16

        run = _run_deployment(server, monitor["id"], {"config_path": "alerts.yaml"})
        assert _final_state(server, run)["state"]["type"] == "COMPLETED", _logs(server, run)
        promote_run = _wait_for(
            lambda: [
                r
                for r in _runs_of(server, promote["id"])
                if r["parameters"].get("config_path") == "alerts.yaml"
            ],
            120,
            "the promote run of the alerts model",
        )[0]
        promoted = _final_state(server, promote_run["id"])
        assert promoted["state"]["type"] == "COMPLETED", _logs(server, promote_run["id"])
        failed = _run_deployment(server, monitor["id"], {"config_path": "missing.yaml"})
        assert _final_state(server, failed)["state"]["type"] == "FAILED"

        _wait_for(
            lambda: (
                _messages(received, "performance degraded")
                and len(_messages(received, "promoted")) == 2
                and _messages(received, "Failed")
            ),
            90,
            "the degraded, promoted and failed-run notifications",
        )

    history = sqlite3.connect(base / "alerts-registry" / "history.sqlite")
    performance = history.execute("SELECT performance FROM monitor_runs").fetchone()[0]
    ui = server.url.removesuffix("/api")
    (degraded,) = _messages(received, "performance degraded")
    assert degraded["subject"] == f"autoretrain: {ALERTS_MODEL} performance degraded"
    assert f"Model {ALERTS_MODEL}: performance degraded." in degraded["body"]
    assert f"f1 (macro) {format_number(performance)} < threshold 0.450 (severe)" in degraded["body"]
    assert f"Run: {ui}/runs/flow-run/{run}" in degraded["body"]
    # The first run bootstrapped v0001 (a promotion too), then the event chain promoted v0002.
    promotions = {message["subject"]: message for message in _messages(received, "promoted")}
    assert sorted(promotions) == [
        f"autoretrain: {ALERTS_MODEL} promoted v0001",
        f"autoretrain: {ALERTS_MODEL} promoted v0002",
    ]
    bootstrap = promotions[f"autoretrain: {ALERTS_MODEL} promoted v0001"]
    assert "vs no champion yet (bootstrap)" in bootstrap["body"]
    promotion = promotions[f"autoretrain: {ALERTS_MODEL} promoted v0002"]
    assert "challenger v0002 promoted over champion v0001" in promotion["body"]
    assert "promote: f1 (macro) challenger v0002 " in promotion["body"]
    assert "holdout rows, difference " in promotion["body"]
    assert f"Run: {ui}/runs/flow-run/{promote_run['id']}" in promotion["body"]
    (failure,) = _messages(received, "Failed")
    assert "of deployment autoretrain-monitor ended Failed" in failure["body"]
    assert "Config: missing.yaml" in failure["body"]
    assert f"Run: {ui}/runs/flow-run/{failed}" in failure["body"]
    # A first run has no history, so its drift is not confirmed: no drift notification.
    assert _messages(received, "drift") == []
    assert len(received) == 4, [message["subject"] for message in received]


def test_prefect_ui_shows_the_comparison_artifact(server: Server, tmp_path: Path) -> None:
    """The comparison table of the alerts model's promotion, as a person sees it in the UI."""
    require_chromium()
    key = f"{ALERTS_MODEL}-comparison"
    (artifact,) = _api(
        server, "POST", "/artifacts/latest/filter", artifacts={"key": {"any_": [key]}}
    )
    ui = server.url.removesuffix("/api")

    with chromium() as driver:
        driver.set_window_size(1280, 900)  # every column fits (test_prefect_ui_pages.py)
        driver.get(f"{ui}/artifacts/artifact/{artifact['latest_id']}")
        _wait_for(
            lambda: "challenger" in driver.execute_script("return document.body.innerText"),
            90,
            "the artifact page to show the comparison table",
            interval=2,
        )
        text = driver.execute_script("return document.body.innerText")
        save_screenshot(driver, tmp_path / "prefect-comparison-artifact.png")
    assert key in text and "Can't connect to Server API" not in text


# Two workers, two working directories, nothing shared but the servers. This runs last: it
# deploys the monitor, retrain and promote deployments again, onto two other work pools.

TWO_WORKERS_MODEL = "seattle-two-workers"
WORKERS = {
    # worker: (work pool, deployments it runs)
    "worker-a": ("autoretrain-monitoring", ("autoretrain-monitor",)),
    "worker-b": ("autoretrain-training", ("autoretrain-retrain", "autoretrain-promote")),
}


def _project_copy(directory: Path, config: dict[str, Any]) -> Path:
    """A project directory of its own: prefect.yaml, the flows (copied, not linked), config."""
    directory.mkdir()
    shutil.copy(ROOT / "prefect.yaml", directory / "prefect.yaml")
    shutil.copytree(
        ROOT / "flows", directory / "flows", ignore=shutil.ignore_patterns("__pycache__")
    )
    (directory / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return directory


def _runs_requested_by(server: Server, deployment_id: str, request_id: str) -> list[dict[str, Any]]:
    runs = _runs_of(server, deployment_id)
    return [run for run in runs if run["parameters"].get("request_id") == request_id]


def _worker_logs_say(server: Server, run_id: str, worker: str) -> bool:
    return f"Worker '{worker}' submitting flow run '{run_id}'" in _logs(server, run_id)


def _files_under(directory: Path) -> set[str]:
    return {str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file()}


def _aliases_in_postgres(postgres: Postgres, database: str) -> dict[str, str]:
    """The registered-model aliases as MLflow's backend store keeps them: alias -> version."""
    rows = postgres.psql(
        database,
        "SELECT alias, version FROM registered_model_aliases "
        f"WHERE name = '{TWO_WORKERS_MODEL}' ORDER BY alias",
    )
    return dict(line.split("|") for line in rows.split())


def test_two_workers_in_separate_directories_run_the_chain(
    server: Server, postgres: Postgres, tmp_path: Path
) -> None:
    """The monitor deployment on worker A, retrain and promote on worker B, each in its own copy
    of the project with its own PREFECT_HOME. They share no file: the log is a PostgreSQL table,
    the registry is MLflow's (an `mlflow server` whose backend store is PostgreSQL)."""
    warehouse = postgres.url(postgres.create_database("warehouse"))
    demo_log_to_sql(warehouse)
    mlflow_database = postgres.create_database("mlflow")
    with mlflow_server_running(postgres.url(mlflow_database)) as mlflow:
        config = merge(
            merge(repo_raw_config(), LATENCY_GUARD_ASIDE),
            {
                "name": TWO_WORKERS_MODEL,
                # path: the lock and the monitoring history, in each copy
                "registry": {"kind": "mlflow", "tracking_uri": mlflow.uri},
                "reports": {"path": "reports"},  # in each copy: nobody else writes there
                "orchestration": {"on_busy": "drop"},
            },
        )
        config["data"]["source"] = {"kind": "sql", "url": warehouse, "table": "weather_log"}
        assert not Path(config["registry"]["path"]).is_absolute()
        copies = {worker: _project_copy(tmp_path / worker, config) for worker in WORKERS}
        runs = _run_the_chain_on_two_workers(server, copies, tmp_path)
        # The champion alias moved in MLflow: v0001 bootstrapped by the monitor on worker A,
        # then v0002 registered and promoted on worker B.
        assert _aliases_in_postgres(postgres, mlflow_database) == {"champion": "2"}
        artifacts = _files_under(mlflow.artifacts)

    files = {worker: _files_under(copy) for worker, copy in copies.items()}
    # The models went to MLflow's artifact store, not into either copy.
    assert sum(name.endswith("MLmodel") for name in artifacts) == 2
    for worker in WORKERS:
        assert not [name for name in files[worker] if name.endswith(("MLmodel", ".pkl"))]
    # The monitor's HTML reports went to MLflow too, as artifacts of its monitoring run (issue
    # 26), and left neither copy: a worker keeps nothing that matters.
    assert any(name.endswith("reports/drift.html") for name in artifacts)
    for worker in WORKERS:
        assert not [name for name in files[worker] if name.endswith(".html")], worker
    # Which worker ran which run: the worker's own log line on each run (logs arrive late).
    for run_id, worker in runs.items():
        _wait_for(
            functools.partial(_worker_logs_say, server, run_id, worker),
            60,
            f"the log line of {worker} submitting run {run_id}",
        )
        other = "worker-b" if worker == "worker-a" else "worker-a"
        assert not _worker_logs_say(server, run_id, other)


def _run_the_chain_on_two_workers(
    server: Server, copies: dict[str, Path], logs: Path
) -> dict[str, str]:
    """Deploy from each copy onto its pool, start its worker there, run the monitor deployment
    and wait for the chain it triggers; stop the workers. The worker each run should be on."""
    envs = {
        worker: {
            **server.env,
            **MLFLOW_ENVIRONMENT,
            "PREFECT_HOME": str(copy / ".prefect"),
            "PWD": str(copy),
        }
        for worker, copy in copies.items()
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for worker, (pool, deployments) in WORKERS.items():
            handle = Server(server.url, envs[worker], copies[worker], server.postgres, "")
            created = _cli(handle, "work-pool", "create", pool, "--type", "process")
            assert created.returncode == 0, created.stderr
            for name in deployments:  # one at a time: with several names, --pool is ignored
                deployed = _cli(handle, "deploy", "--name", name, "--pool", pool)
                assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
            processes.append(
                subprocess.Popen(
                    [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--name", worker],
                    cwd=copies[worker],
                    env=envs[worker],
                    stdout=(logs / f"{worker}.log").open("wb"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        monitor = _deployment(server, "monitor", "autoretrain-monitor")
        retrain = _deployment(server, "retrain", "autoretrain-retrain")
        promote = _deployment(server, "promote", "autoretrain-promote")
        assert monitor["work_pool_name"] == "autoretrain-monitoring"
        assert retrain["work_pool_name"] == promote["work_pool_name"] == "autoretrain-training"

        monitor_run = _run_deployment(server, monitor["id"], {})
        finished = _final_state(server, monitor_run)
        assert finished["state"]["type"] == "COMPLETED", _logs(server, monitor_run)
        summary = _artifacts(server, monitor_run)[f"{TWO_WORKERS_MODEL}-monitor-summary"]
        assert "status      retrain-requested" in summary["data"]
        # Earlier tests ran these deployments too (a deployment keeps its id when redeployed):
        # the runs of this chain are those that name the monitor run as their request.
        retrain_runs = _wait_for(
            lambda: _runs_requested_by(server, retrain["id"], monitor_run), 60, "a retrain run"
        )
        assert len(retrain_runs) == 1
        retrained = _final_state(server, retrain_runs[0]["id"])
        assert retrained["state"]["type"] == "COMPLETED", _logs(server, retrained["id"])
        outcome = _artifacts(server, retrained["id"])[f"{TWO_WORKERS_MODEL}-retrain-outcome"]
        assert "registered challenger v0002" in outcome["data"]
        promote_runs = _wait_for(
            lambda: _runs_requested_by(server, promote["id"], monitor_run), 60, "a promote run"
        )
        assert len(promote_runs) == 1
        promoted = _final_state(server, promote_runs[0]["id"])
        assert promoted["state"]["type"] == "COMPLETED", _logs(server, promoted["id"])
        verdict = _artifacts(server, promoted["id"])[f"{TWO_WORKERS_MODEL}-comparison-verdict"]
        assert "PROMOTE" in verdict["data"]
    finally:
        stop_processes([(process, signal.SIGINT) for process in processes], grace=20)
    return {monitor_run: "worker-a", retrained["id"]: "worker-b", promoted["id"]: "worker-b"}
