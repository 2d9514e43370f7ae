"""Monitor runs from two machines (two working directories, configs, registries and report
directories) add their snapshots to one project of a real `evidently ui --secret`; a wrong
secret or a service that is down leaves the decision as it was and says so in the CLI summary,
the run's log and its Prefect artifact; the secret shows in none of them."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from flows.monitor import main as monitor_main
from tasks.stores.history import open_history
from tests.flows.test_secret_leaks import (
    Outputs,
    _flush_run_logs_and_events,
    _read_prefect_records,
    _server_database,
)
from tests.helpers import DEMO_DATA, LATENCY_GUARD_ASIDE, merge, read_artifact, repo_raw_config
from tests.processes import evidently_ui, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

SECRET = f"ui{uuid.uuid4().hex}"  # random per session: nothing else can contain it
SECRET_ENV = "AUTORETRAIN_TEST_EVIDENTLY_SECRET"
NAME = "remote-dashboard"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("evidently-service")
    with evidently_ui(base / "workspace", base / "evidently-ui.log", secret=SECRET) as url:
        yield url


def _machine(directory: Path, workspace: str) -> Path:
    """A project copy's config.yaml: its own registry and reports, relative to it."""
    directory.mkdir(parents=True, exist_ok=True)
    raw = merge(
        merge(repo_raw_config(), LATENCY_GUARD_ASIDE),
        {
            "name": NAME,
            "data": {"source": {"path": str(DEMO_DATA)}},
            # A healthy year after bootstrapping: one snapshot, no retrain.
            "policy": {"performance_threshold": 0.35},
            "windows": {"as_of": "2016-01-01", "current": "365d", "holdout": "365d"},
            "bootstrap": {"training_start": "2014-01-01", "training_end": "2015-01-01"},
            "registry": {"path": "registry"},
            "reports": {
                "path": "reports",
                "workspace": workspace,
                "workspace_secret": "${" + SECRET_ENV + "}",
                "workspace_retries": {"attempts": 3, "backoff_seconds": 0.01},
            },
        },
    )
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _run(directory: Path, monkeypatch: pytest.MonkeyPatch, capfd: Any) -> str:
    """The monitor's CLI run from directory with --config config.yaml; its output."""
    monkeypatch.chdir(directory)
    capfd.readouterr()
    assert monitor_main(["--config", "config.yaml"]) == 0
    captured = capfd.readouterr()
    return captured.out + captured.err


def _project(url: str) -> dict[str, Any]:
    (project,) = [
        p for p in httpx.get(f"{url}/api/projects", timeout=10).json() if p["name"] == NAME
    ]
    return dict(project)


def _snapshots(url: str, project_id: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{url}/api/projects/{project_id}/snapshots", timeout=10).json())


def _summary_artifact() -> Any:
    artifact = read_artifact(f"{NAME}-monitor-summary")
    assert artifact is not None
    return artifact


def test_two_machines_share_one_project_and_a_failing_service_leaves_the_decision(
    service: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    since = datetime.now(UTC)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    machine_a, machine_b = tmp_path / "machine-a", tmp_path / "machine-b"
    _machine(machine_a, service)
    _machine(machine_b, service)
    outputs = Outputs()

    # Two machines, one window each: both points in the one project.
    for machine in (machine_a, machine_b):
        out = _run(machine, monkeypatch, capfd)
        outputs.add(f"CLI output on {machine.name}", out)
        assert "status      healthy" in out
    project = _project(service)
    assert len(_snapshots(service, project["id"])) == 2
    page = f"{service}/projects/{project['id']}"
    assert f"dashboard   project '{NAME}': {page}\n" in out
    assert _summary_artifact().description == "Monitor status: healthy"

    # A wrong secret: refused at once; the decision and its history row stand.
    monkeypatch.setenv(SECRET_ENV, f"not-{SECRET}")
    refused = _run(machine_b, monkeypatch, capfd)
    outputs.add("CLI output, wrong secret", refused)
    problem = (
        f"the Evidently UI service at {service} refused the write (HTTP 403 Not enough "
        f"permissions): reports.workspace_secret (from ${SECRET_ENV}) is not the service's "
        "--secret"
    )
    assert "status      healthy" in refused
    assert f"dashboard   NOT updated: {problem} (the decision stands)" in refused
    artifact = _summary_artifact()
    assert artifact.description == "Monitor status: healthy; dashboard NOT updated"
    assert artifact.data.startswith(
        f"**Warning: the Evidently dashboard was NOT updated** by this run: {problem}."
    )
    outputs.add("the artifact, wrong secret", artifact.data)

    # The service down: tried three times, then the same; the decision stands.
    monkeypatch.setenv(SECRET_ENV, SECRET)
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    _machine(machine_a, down)
    unreachable = _run(machine_a, monkeypatch, capfd)
    outputs.add("CLI output, service down", unreachable)
    assert "status      healthy" in unreachable
    assert (
        f"dashboard   NOT updated: cannot connect to the Evidently UI service at {down} "
        "([Errno 111] Connection refused), 3 attempts over 0.03 s (the decision stands)"
    ) in unreachable
    outputs.add("the artifact, service down", _summary_artifact().data)

    assert len(_snapshots(service, project["id"])) == 2  # neither failing run added a point
    for machine in (machine_a, machine_b):
        # each machine ran its window twice: the rerun replaced the record (issue 24), whose
        # decision stands although the dashboard failed
        rows = open_history(machine / "registry").rows(NAME)
        assert [(row["status"], row["runs"]) for row in rows] == [("healthy", 2)]

    # The secret shows nowhere: outputs, logs, artifacts, run records, files on the machines.
    _flush_run_logs_and_events()
    for where, text in _read_prefect_records(since, NAME, "prefect.flow-run.Completed").items():
        outputs.add(where, text)
    outputs.add("python logging (caplog)", caplog.text)
    for file in sorted(p for p in tmp_path.rglob("*") if p.is_file()):
        outputs.add(f"file {file.relative_to(tmp_path)}", file.read_bytes())
    for where, data in _server_database():
        outputs.add(where, data)
    outputs.assert_secret_never_shows(SECRET)
    assert NAME in outputs.joined("prefect server database")  # the scan reads the runs
    assert "the dashboard was NOT updated: " in outputs.texts["prefect run logs"]
