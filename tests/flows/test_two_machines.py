"""Proof: two machines, nothing shared but services.

Two copies of the project (two directories, each with its own config.yaml, PREFECT_HOME,
registry.path and reports.path, and its own working directory) share only services: a
PostgreSQL database (the monitoring history, history.url, and MLflow's backend store), an MLflow
server (the registry and the reports), an `evidently ui` service (the dashboard) and a Prefect
server. The monitor runs over six consecutive windows of the demo log, alternating the copy
that runs each window, each run a process of its own (`python flows/monitor.py`). Its
decisions (confirmation streaks, cooldown, retrains, promotions, champions) are those of the
same six windows run on one machine with everything local; the Evidently project holds six
snapshots and draws six points; each run's reports are artifacts of its MLflow run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from flows.monitor import monitor_flow
from tasks.core.outcomes import MonitorResult
from tests.browser import chromium, evidently_panel_points, require_chromium, save_screenshot
from tests.helpers import DEMO_DATA, LATENCY_GUARD_ASIDE, ROOT, merge, repo_raw_config
from tests.postgres import Postgres
from tests.processes import evidently_ui
from tests.registry_backends import MLFLOW_ENVIRONMENT, MlflowServer, mlflow_server_running

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.mlflow,
    pytest.mark.slow,
    pytest.mark.usefixtures("prefect_server"),
]

NAME = "two-machines"
# Six consecutive monthly windows of the demo's drifted year (its labelling changed in 2013-04;
# the bootstrapped champion knows 2012): a breach seen once, then confirmed (retrain, rejected),
# the cooldown, a severe breach that skips it (retrain, rejected), then one that promotes, and
# the new champion's first window.
WINDOWS = ("2013-10-01", "2013-11-01", "2013-12-01", "2014-01-01", "2014-02-01", "2014-03-01")
MACHINES = ("machine-a", "machine-b")
SECRET = f"ui{uuid.uuid4().hex}"
SECRET_ENV = "AUTORETRAIN_TEST_EVIDENTLY_SECRET"
SHARE_PANEL = "Share of drifted columns"


def _raw_config(overrides: dict[str, Any]) -> dict[str, Any]:
    return merge(
        merge(repo_raw_config(), LATENCY_GUARD_ASIDE),
        merge(
            {
                "name": NAME,
                "data": {"source": {"path": str(DEMO_DATA)}},
            },
            overrides,
        ),
    )


def _machine(directory: Path, services: dict[str, Any]) -> Path:
    """A project copy: its config.yaml, whose own paths are relative to it."""
    directory.mkdir(parents=True)
    raw = _raw_config(
        {
            "registry": {"kind": "mlflow", "tracking_uri": services["mlflow"], "path": "registry"},
            "history": {"url": services["history"]},
            "reports": {
                "path": "reports",
                "keep": 30,
                "workspace": services["evidently"],
                "workspace_secret": "${" + SECRET_ENV + "}",
            },
        }
    )
    (directory / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return directory


def _environment(directory: Path) -> dict[str, str]:
    """A machine's environment: its own PREFECT_HOME, the shared Prefect server's API."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return {
        **env,
        **MLFLOW_ENVIRONMENT,
        "PREFECT_HOME": str(directory / ".prefect"),
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        SECRET_ENV: SECRET,
        "OMP_NUM_THREADS": "1",
        "PWD": str(directory),
    }


def _monitor(directory: Path, as_of: str) -> str:
    """`python flows/monitor.py --config config.yaml --as-of as_of` run from directory."""
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "flows" / "monitor.py"),
            "--config",
            "config.yaml",
            "--as-of",
            as_of,
        ],
        cwd=directory,
        env=_environment(directory),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"{directory.name} {as_of}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _facts(
    as_of: str,
    decision: str,
    confirmed: str,
    reasons: str,
    status: str,
    before: str,
    after: str,
) -> dict[str, str]:
    """What must be the same on one machine and on two: the policy's memory at work."""
    return {
        "as_of": as_of,
        "decision": decision,
        "confirmed": confirmed,  # the confirmation streak's verdict
        "reasons": reasons,  # the streak's counts, the cooldown's remaining days
        "status": status,  # retrained, promoted or rejected, cooldown, unconfirmed
        "champion_before": before,
        "champion_after": after,
    }


def _from_result(as_of: str, result: MonitorResult) -> dict[str, str]:
    decision = result.decision
    return _facts(
        f"{as_of}T00:00:00",
        decision.action,
        ",".join(decision.confirmed),
        "\n".join(decision.reasons),
        result.status,
        result.champion_before or "",
        result.champion_after or "",
    )


def _from_mlflow_run(run: Any) -> dict[str, str]:
    tags = run.data.tags
    return _facts(
        tags["autoretrain.as_of"],
        tags["autoretrain.decision"],
        tags["autoretrain.confirmed"],
        tags["autoretrain.reasons"],
        tags["autoretrain.status"],
        tags["autoretrain.champion_before"],
        tags["autoretrain.champion"],
    )


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, postgres: Postgres
) -> Iterator[dict[str, Any]]:
    """The shared services: PostgreSQL (history, MLflow's store), MLflow, Evidently's UI."""
    base = tmp_path_factory.mktemp("services")
    history = postgres.url(postgres.create_database("history"))
    with (
        mlflow_server_running(postgres.url(postgres.create_database("mlflow"))) as mlflow,
        evidently_ui(base / "workspace", base / "evidently-ui.log", secret=SECRET) as evidently,
    ):
        yield {"history": history, "mlflow": mlflow.uri, "evidently": evidently, "server": mlflow}


def test_two_machines_decide_as_one(services: dict[str, Any], tmp_path: Path) -> None:
    mlflow: MlflowServer = services["server"]

    # One machine, everything local: the baseline.
    local = tmp_path / "one-machine"
    local.mkdir()
    raw = _raw_config({"registry": {"path": str(local / "registry")}})
    raw["reports"] = {"path": str(local / "reports"), "workspace": str(local / "workspace")}
    (local / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    baseline = [
        _from_result(as_of, monitor_flow(str(local / "config.yaml"), as_of)) for as_of in WINDOWS
    ]
    # The windows exercise the policy's memory (streaks, cooldown) and move the champion.
    statuses = [facts["status"] for facts in baseline]
    assert statuses[:3] == ["unconfirmed", "rejected", "cooldown"], statuses
    assert "promoted" in statuses, statuses
    assert baseline[-1]["champion_before"] != baseline[0]["champion_before"]

    # Two machines, alternating, nothing shared but the services.
    machines = [_machine(tmp_path / name, services) for name in MACHINES]
    outputs = [_monitor(machines[i % 2], as_of) for i, as_of in enumerate(WINDOWS)]

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow.uri)
    experiment = client.get_experiment_by_name(f"autoretrain-{NAME}")
    assert experiment is not None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.`autoretrain.kind` = 'monitor'",
        order_by=["attributes.start_time ASC"],
    )
    assert [_from_mlflow_run(run) for run in runs] == baseline

    # Each run's reports are artifacts of its MLflow run, linked from the summary it printed.
    for output, run in zip(outputs, runs, strict=True):
        assert f"/#/experiments/{experiment.experiment_id}/runs/{run.info.run_id}" in output
        listed = sorted(a.path for a in client.list_artifacts(run.info.run_id, "reports"))
        assert listed == ["reports/drift.html", "reports/performance.html"]
        assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"summary.txt"}
    # ... and left no report on either machine.
    for machine in machines:
        assert not list(machine.glob("reports/**/*.html"))

    # The dashboard: one project on the service, six snapshots, six points drawn.
    url = services["evidently"]
    (project,) = [p for p in httpx.get(f"{url}/api/projects").json() if p["name"] == NAME]
    snapshots = httpx.get(f"{url}/api/projects/{project['id']}/snapshots", timeout=10).json()
    assert len(snapshots) == len(WINDOWS)
    require_chromium()
    with chromium() as driver:
        shown = evidently_panel_points(driver, f"{url}/projects/{project['id']}", {SHARE_PANEL: 2})
        save_screenshot(driver, tmp_path / "two-machines-evidently.png")
    assert shown[SHARE_PANEL] == {"drift share": len(WINDOWS), "threshold": len(WINDOWS)}
