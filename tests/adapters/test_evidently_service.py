"""Dashboards on an `evidently ui` service (reports.workspace as a URL): every machine adds to
one project; a service that refuses, hangs or is down is reported, never raised.

The tests marked slow start a real `evidently ui --secret` and read what it holds over HTTP.
"""

from __future__ import annotations

import http.server
import json
import logging
import multiprocessing
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from tasks.adapters import evidently_workspace
from tasks.adapters.evidently_workspace import (
    PANEL_TITLES,
    DashboardWriteError,
    EvidentlyService,
    WindowPoint,
    add_window_point,
    project_id_for,
    remove_project,
)
from tasks.config import Config
from tasks.core.outcomes import DashboardUpdate
from tasks.core.signals import ColumnDrift, Performance, Signals
from tasks.secrets import SecretValue
from tasks.steps.dashboards import (
    record_dashboard,
    replay_location,
    reset_backtest_dashboard,
    workspace_location,
)
from tests.browser import chromium, evidently_panel_points, require_chromium, save_screenshot
from tests.helpers import make_decision, repo_config
from tests.processes import evidently_ui, free_port

SECRET = f"ui-{uuid.uuid4().hex}"  # random per session: nothing else can contain it
SECRET_ENV = "AUTORETRAIN_TEST_EVIDENTLY_SECRET"
FEATURES = ["temp_max", "wind"]


def _point(day: int = 0) -> WindowPoint:
    return WindowPoint(
        as_of=datetime(2014, 1, 1) + timedelta(days=day),
        status="healthy",
        champion="v0001",
        drift_share=0.25,
        drift_threshold=0.5,
        column_scores={"temp_max": 0.03, "wind": 0.4},
        performance=0.6,
        performance_threshold=0.45,
        current_rows=90,
        labelled_rows=60,
        retrained=False,
        promoted=False,
    )


def _signals(day: int) -> Signals:
    """A healthy window; the later, the more drift and the lower the metric."""
    return Signals(
        current_rows=90,
        reference_rows=300,
        drift_share=0.25 + day / 120,
        columns=(ColumnDrift("temp_max", "K-S p_value", 0.2 - day / 300, 0.05, False),),
        performance=Performance("f1 (macro)", 0.6 - day / 300, 80 - day // 3, "champion"),
    )


def _record(config: Config, day: int = 0, **options: Any) -> DashboardUpdate:
    moment = datetime(2014, 4, 1) + timedelta(days=day)
    decision = make_decision(action="none", reasons=())
    return record_dashboard(config, moment, "v0001", _signals(day), decision, "healthy", **options)


def _config(
    base: Path, url: str, name: str, secret: str | None = "${" + SECRET_ENV + "}", **retries: Any
) -> Config:
    changes: dict[str, Any] = {
        "name": name,
        "registry.path": "registry",
        "reports.path": "reports",
        "reports.workspace": url,
        "reports.workspace_retries": {"attempts": 3, "backoff_seconds": 0.01, **retries},
    }
    if secret is not None:
        changes["reports.workspace_secret"] = secret
    return repo_config(changes, base_dir=base)


# --- the retries, on a stand-in client ----------------------------------------------------------


class FakeClient:
    """The calls the writer makes of Evidently's RemoteWorkspace, on a dict; fails as told."""

    def __init__(self, store: dict[str, Any], failures: list[Exception], fail_at: str) -> None:
        self.store, self.failures, self.fail_at = store, failures, fail_at

    def _maybe_fail(self, call: str) -> None:
        if self.failures and call == self.fail_at:
            raise self.failures.pop(0)

    def search_project(self, name: str) -> list[Any]:
        self._maybe_fail("search_project")
        return [p for p in self.store.setdefault("projects", []) if p.name == name]

    def add_project(self, project: Any) -> Any:
        self.store.setdefault("projects", []).append(project)
        return project

    def get_dashboard(self, project_id: Any) -> Any:
        from evidently.sdk.models import DashboardModel

        return self.store.get("dashboard", DashboardModel(tabs=[], panels=[]))

    def save_dashboard(self, project_id: Any, dashboard: Any) -> None:
        self.store["dashboard"] = dashboard

    def add_run(self, project_id: Any, snapshot: Any) -> Any:
        snapshot_id = uuid.uuid4()
        self.store.setdefault("snapshots", []).append(
            {"id": str(snapshot_id), "metadata": snapshot.dump_dict()["metadata"]}
        )
        self._maybe_fail("add_run")  # after the write: the answer is what gets lost
        return type("Ref", (), {"id": snapshot_id})()

    def snapshots(self, project_id: Any) -> list[dict[str, Any]]:
        return list(self.store.get("snapshots", []))


def _fake_service(
    monkeypatch: pytest.MonkeyPatch, failures: list[Exception], fail_at: str
) -> tuple[EvidentlyService, dict[str, Any]]:
    store: dict[str, Any] = {"connects": 0}

    def connect(service: EvidentlyService) -> FakeClient:
        store["connects"] += 1
        return FakeClient(store, failures, fail_at)

    monkeypatch.setattr(evidently_workspace, "_connect", connect)
    service = EvidentlyService(
        "http://evidently.test:8000", SecretValue(SECRET, variables=("S",)), 3, 0.0
    )
    return service, store


def _http_error(status: int, detail: str) -> requests.HTTPError:
    response = requests.Response()
    response.status_code, response.reason = status, "Reason"
    response._content = json.dumps({"detail": detail}).encode()
    response.request = requests.Request("POST", "http://evidently.test:8000/api/v2/x").prepare()
    return requests.HTTPError(f"{status}", response=response)


def test_a_retry_after_a_lost_answer_does_not_add_the_snapshot_twice(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    lost = requests.ConnectionError("('Connection aborted.', RemoteDisconnected())")
    service, store = _fake_service(monkeypatch, [lost], fail_at="add_run")

    with caplog.at_level(logging.WARNING):
        written = add_window_point(service, "model-a", "d", "f1 (macro)", FEATURES, _point())

    assert written.attempts == 2 and store["connects"] == 2
    assert [s["id"] for s in store["snapshots"]] == [written.snapshot_id]
    assert written.project_id == str(project_id_for("model-a"))
    assert [p.title for p in store["dashboard"].panels] == list(PANEL_TITLES)
    assert "failed (attempt 1 of 3)" in caplog.text


@pytest.mark.parametrize(
    ("failure", "attempts", "expected"),
    [
        (
            _http_error(503, "busy"),
            3,
            "the Evidently UI service at http://evidently.test:8000 answered HTTP 503 (busy) to "
            "POST /api/v2/x, 3 attempts over 0 s",
        ),
        (
            _http_error(403, "Not enough permissions"),
            1,  # a refusal is not retried
            "the Evidently UI service at http://evidently.test:8000 refused the write (HTTP 403 "
            "Not enough permissions): reports.workspace_secret (from $S) is not the service's "
            "--secret",
        ),
        (
            _http_error(422, f"bad snapshot {SECRET}"),
            1,
            "answered HTTP 422 (bad snapshot **********) to POST /api/v2/x",
        ),
    ],
)
def test_errors_are_retried_only_when_another_attempt_may_help(
    failure: Exception, attempts: int, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, store = _fake_service(monkeypatch, [failure] * 5, fail_at="search_project")

    with pytest.raises(DashboardWriteError) as raised:
        add_window_point(service, "model-a", "d", "f1 (macro)", FEATURES, _point())

    assert store["connects"] == attempts
    assert expected in str(raised.value)
    assert SECRET not in str(raised.value)


@pytest.fixture
def hung_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_a_service_that_never_answers_times_out_and_is_retried(hung_port: int) -> None:
    service = EvidentlyService(f"http://127.0.0.1:{hung_port}", None, 2, 0.01, timeout_seconds=0.5)

    with pytest.raises(DashboardWriteError) as raised:
        remove_project(service, "model-a")

    assert str(raised.value) == (
        f"the Evidently UI service at http://127.0.0.1:{hung_port} did not answer within 0.5 s, "
        "2 attempts over 0.01 s"
    )


def test_a_url_that_is_not_an_evidently_service_is_named() -> None:
    class Other(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"application": "Prefect"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Other)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(DashboardWriteError) as raised:
            remove_project(EvidentlyService(url, None, 3, 0.01), "model-a")
    finally:
        server.shutdown()
        server.server_close()

    assert str(raised.value) == (
        f"{url} is not an Evidently UI service: GET /api/version did not name 'Evidently UI' "
        "(check reports.workspace)"
    )


def test_a_replay_tries_a_service_once_per_window(tmp_path: Path) -> None:
    service = EvidentlyService("http://127.0.0.1:8000", None, attempts=4)

    assert replay_location(service) == EvidentlyService("http://127.0.0.1:8000", None, attempts=1)
    assert replay_location(tmp_path) == tmp_path


# --- a real `evidently ui --secret` ----------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("evidently-service")
    with evidently_ui(base / "workspace", base / "evidently-ui.log", secret=SECRET) as url:
        yield url


@pytest.fixture
def secret_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


def _projects(url: str, name: str) -> list[dict[str, Any]]:
    return [p for p in httpx.get(f"{url}/api/projects", timeout=10).json() if p["name"] == name]


def _snapshots(url: str, project_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/projects/{project_id}/snapshots", timeout=10)
    response.raise_for_status()
    return list(response.json())


def _panel_titles(url: str, project_id: str) -> list[str]:
    dashboard = httpx.get(f"{url}/api/v2/dashboards/{project_id}", timeout=10).json()
    return [panel["title"] for panel in dashboard["panels"]]


@pytest.mark.slow
@pytest.mark.usefixtures("secret_in_environment")
def test_two_machines_add_their_runs_to_one_project(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    updates = []
    for day, machine in enumerate(("machine-a", "machine-b")):
        directory = tmp_path / machine
        directory.mkdir()
        monkeypatch.chdir(directory)  # its own working directory, config, registry and reports
        updates.append(_record(_config(directory, service, "two-machines"), day=30 * day))

    (project,) = _projects(service, "two-machines")
    snapshots = _snapshots(service, project["id"])
    assert len(snapshots) == 2
    assert sorted(s["timestamp"][:10] for s in snapshots) == ["2014-04-01", "2014-05-01"]
    assert _panel_titles(service, project["id"]) == list(PANEL_TITLES)
    page = f"{service}/projects/{project['id']}"
    assert updates == [DashboardUpdate(True, f"project 'two-machines': {page}")] * 2
    assert httpx.get(page, timeout=10).status_code == 200
    assert not list(tmp_path.rglob("workspace"))  # nothing written on the machines


def _race(url: str, barrier: Any, worker: int) -> None:
    service = EvidentlyService(url, SecretValue(SECRET, variables=(SECRET_ENV,)), 3, 0.01)
    find_or_create = evidently_workspace._project
    waited = False

    def at_once(workspace: Any, name: str, description: str) -> Any:
        nonlocal waited
        if not waited:  # the first write: every writer looks for the project at the same time
            waited = True
            barrier.wait(timeout=60)
        return find_or_create(workspace, name, description)

    evidently_workspace._project = at_once  # in this forked process only
    for day in range(2):
        add_window_point(service, "raced", "d", "f1 (macro)", FEATURES, _point(10 * worker + day))


@pytest.mark.slow
def test_machines_that_create_the_project_at_once_create_one(service: str) -> None:
    context = multiprocessing.get_context("fork")  # spawn re-imports Evidently: ~20 s each
    barrier = context.Barrier(3)
    workers = [context.Process(target=_race, args=(service, barrier, w)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]

    (project,) = _projects(service, "raced")
    assert project["id"] == str(project_id_for("raced"))
    assert len(_snapshots(service, project["id"])) == 6
    assert _panel_titles(service, project["id"]) == list(PANEL_TITLES)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        (
            "${" + SECRET_ENV + "}",
            "refused the write (HTTP 403 Not enough permissions): reports.workspace_secret (from "
            f"${SECRET_ENV}) is not the service's --secret",
        ),
        (
            None,
            "refused the write (HTTP 403 Not enough permissions): the service has a --secret: "
            "set reports.workspace_secret to it",
        ),
    ],
)
def test_a_refused_write_is_reported_at_once_and_writes_nothing(
    secret: str | None,
    expected: str,
    service: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(SECRET_ENV, f"not-{SECRET}")
    config = _config(tmp_path, service, "refused", secret)

    with caplog.at_level(logging.WARNING):
        update = _record(config)

    assert not update.updated
    assert update.detail == f"the Evidently UI service at {service} {expected}"
    assert "retrying" not in caplog.text  # a refusal is not retried
    assert f"the dashboard was NOT updated: {update.detail} (the decision stands)" in caplog.text
    assert _projects(service, "refused") == []
    assert SECRET not in update.detail + caplog.text


@pytest.mark.slow
@pytest.mark.usefixtures("secret_in_environment")
def test_a_service_that_is_down_is_retried_then_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = _config(tmp_path, url, "down", attempts=3, backoff_seconds=0.01)

    with caplog.at_level(logging.WARNING):
        update = _record(config)

    assert update == DashboardUpdate(
        False,
        f"cannot connect to the Evidently UI service at {url} ([Errno 111] Connection refused), "
        "3 attempts over 0.03 s",
    )
    assert caplog.text.count("writing to the Evidently UI service failed (attempt") == 2
    assert SECRET not in caplog.text


@pytest.mark.slow
@pytest.mark.usefixtures("secret_in_environment")
def test_the_backtest_replaces_its_project_on_the_service(service: str, tmp_path: Path) -> None:
    config = _config(tmp_path, service, "replayed")
    location = workspace_location(config)
    for _ in range(2):  # two replays of two windows each
        assert reset_backtest_dashboard(config, location)
        for day in (0, 30):
            update = _record(config, day, workspace=replay_location(location), backtest=True)
            assert update.updated, update

    (project,) = _projects(service, "replayed (backtest)")
    assert len(_snapshots(service, project["id"])) == 2
    assert _projects(service, "replayed") == []


@pytest.mark.slow
def test_a_backtest_that_cannot_reset_its_project_goes_on_without_it(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    assert _record(_config(tmp_path, service, "unreset"), backtest=True).updated
    monkeypatch.setenv(SECRET_ENV, "wrong")
    config = _config(tmp_path, service, "unreset")

    with caplog.at_level(logging.WARNING):
        ready = reset_backtest_dashboard(config, workspace_location(config))

    assert not ready
    assert len(_projects(service, "unreset (backtest)")) == 1  # left as it was
    assert "could not reset the backtest's project: the Evidently UI service at" in caplog.text
    assert "the replay goes on without its dashboard" in caplog.text


@pytest.mark.slow
@pytest.mark.usefixtures("secret_in_environment")
def test_the_services_dashboard_draws_both_machines_points(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_chromium()
    for day, machine in enumerate(("machine-a", "machine-b")):
        directory = tmp_path / machine
        directory.mkdir()
        monkeypatch.chdir(directory)
        update = _record(_config(directory, service, "in-the-browser"), day=30 * day)
    page = update.detail.split(": ", 1)[1]

    series = {title: 2 for title in PANEL_TITLES}
    series[PANEL_TITLES[1]] = 1  # the one feature the signals carry
    series[PANEL_TITLES[-1]] = 0  # these signals checked no data quality: no bar, not a 0
    with chromium() as driver:
        shown = evidently_panel_points(driver, page, series)
        save_screenshot(driver, tmp_path / "evidently-service-dashboard.png")

    assert shown["Share of drifted columns"] == {"drift share": 2, "threshold": 2}
    assert shown["Drift score of each feature"] == {"temp_max": 2}
    assert shown["Performance against its threshold"] == {
        "f1 (macro) (realised)": 2,
        "retrain threshold": 2,
    }
    assert shown["Rows and labelled rows per window"] == {"rows": 2, "labelled rows": 2}
    assert shown["Retrains and promotions"] == {"retrained": 2, "promoted": 2}  # bars of 0
