"""Helpers of the tests that start real processes (a Prefect server, a worker, Evidently's UI,
a browser): free ports, waiting for a condition, stopping what they started by its PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.postgres import Postgres  # which imports free_port from here


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[Any], first: int) -> None:
    """Stop a process group we started: first signal, then SIGKILL after a grace period."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, first)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def stop_processes(processes: Sequence[tuple[subprocess.Popen[Any], int]], grace: float) -> None:
    """Stop process groups we started, each with its first signal, all at once: one shared grace
    period of seconds for all of them, then SIGKILL to those still running (stop_process, one
    after the other, gave each its own)."""
    running = [(process, first) for process, first in processes if process.poll() is None]
    for process, first in running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, first)
    deadline = time.monotonic() + grace
    for process, _ in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 1.0) -> Any:
    """condition's first true value, polled every interval; fails after timeout seconds, scaled
    for the pytest-xdist workers sharing the cores (scaled)."""
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def start_answering(
    argv: list[str],
    health_url: str,
    what: str,
    log: Path,
    env: dict[str, str],
    timeout: float,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a server in its own process group (output to log), once health_url answers; stopped
    again, and the test failed, when it exits or does not answer within timeout (scaled)."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: process.poll() is not None or answers(health_url),
            timeout,
            f"{what} to answer {health_url}",
            interval=0.5,
        )
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}: see {log}")
    except BaseException:
        stop_process(process, signal.SIGTERM)
        raise
    return process


@contextlib.contextmanager
def evidently_ui(workspace: Path, logs: Path, secret: str | None = None) -> Iterator[str]:
    """`evidently ui` over workspace on a free port of 127.0.0.1 (writes need secret when given);
    its URL once it answers. Stopped by its PID."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_answering(
        [
            *(str(Path(sys.executable).parent / "evidently"), "ui"),
            *("--workspace", str(workspace), "--host", "127.0.0.1", "--port", str(port)),
            *(("--secret", secret) if secret is not None else ()),
        ],
        f"{url}/api/version",
        "evidently ui",
        logs,
        {**os.environ, "DO_NOT_TRACK": "1"},  # no telemetry (offline)
        120,
    )
    try:
        yield url
    finally:
        stop_process(process, signal.SIGTERM)


def start_prefect_server(
    port: int, env: dict[str, str], cwd: Path, log: Path
) -> subprocess.Popen[bytes]:
    """`prefect server start` on 127.0.0.1:port with env (its database: SQLite in PREFECT_HOME
    unless PREFECT_API_DATABASE_CONNECTION_URL names another), once it answers /health."""
    return start_answering(
        [
            *(str(Path(sys.executable).parent / "prefect"), "server", "start"),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        f"http://127.0.0.1:{port}/api/health",
        "prefect server",
        log,
        env,
        90,
        cwd,
    )


def prefect_server_environment(api_url: str, home: Path) -> dict[str, str]:
    """This process's environment without its PREFECT_ settings, for a Prefect process of the
    server at api_url with PREFECT_HOME home (a server's UI told where its API is)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": api_url,
            "PREFECT_UI_API_URL": api_url,  # the UI of a server on another port than 4200
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # no telemetry (offline)
        }
    )
    return env


def prefect_database_url(postgres: Postgres) -> str:
    """A new database of postgres for a Prefect server's own state, as its
    PREFECT_API_DATABASE_CONNECTION_URL (asyncpg: the driver of Prefect's server)."""
    return postgres.url(postgres.create_database("prefect"), driver="asyncpg")


@contextlib.contextmanager
def prefect_server_on(postgres: Postgres, directory: Path) -> Iterator[str]:
    """A real `prefect server start` whose database is a new one of postgres (PREFECT_HOME and
    its log in directory), on a free port; its API URL once it answers. Stopped by its PID.

    Under concurrent writes the temporary SQLite server answers 503 (database locked) without
    Retry-After, and Prefect's client backs off 2 to 128 s each time: on PostgreSQL it does not.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = prefect_server_environment(url, directory / "prefect-home")
    env["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_database_url(postgres)
    process = start_prefect_server(port, env, directory, directory / "prefect-server.log")
    try:
        yield url
    finally:
        stop_process(process, signal.SIGTERM)


def session_api_url() -> str:
    """The API URL of the session's Prefect test server (the prefect_server fixture), for a
    process the test starts to run its flows there instead of on a temporary server."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the prefect_server fixture sets PREFECT_API_URL"
    return str(url)


@contextlib.contextmanager
def prefect_api(api_url: str) -> Iterator[None]:
    """This process's Prefect client (flows, tasks, get_client) on the server at api_url, as
    prefect_test_harness sets it for its own server; the logs and events still queued are sent
    before the context ends."""
    import prefect.context
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: api_url}),
        # the harness's own step: code in a context copied before this one sees it too
        prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()),
    ):
        yield
        APILogWorker.drain_all()
        EventsWorker.drain_all()


def answers(url: str) -> bool:
    """Whether url answers 200 now (a server's /health while it starts)."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def api_call(api_url: str, method: str, path: str, **body: Any) -> Any:
    """One call of a server's JSON API (Prefect's REST API in the server tests); raises on an
    error status."""
    response = httpx.request(method, f"{api_url}{path}", json=body or None, timeout=30)
    response.raise_for_status()
    return response.json()


def scaled(seconds: float) -> float:
    """A deadline for a machine running pytest-xdist workers: seconds (set for one test at a
    time on 2 cores) times the workers per core, never less. `make test` runs 3 workers on 2
    cores here: a server that starts in 20 s alone takes up to 1.5 times that beside two others."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return seconds * max(1.0, workers / (os.cpu_count() or 1))
