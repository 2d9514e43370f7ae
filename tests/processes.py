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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx


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


@contextlib.contextmanager
def evidently_ui(workspace: Path, logs: Path, secret: str | None = None) -> Iterator[str]:
    """`evidently ui` over workspace on a free port of 127.0.0.1 (writes need secret when given);
    its URL once it answers. Stopped by its PID."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            *(str(Path(sys.executable).parent / "evidently"), "ui"),
            *("--workspace", str(workspace), "--host", "127.0.0.1", "--port", str(port)),
            *(("--secret", secret) if secret is not None else ()),
        ],
        env={**os.environ, "DO_NOT_TRACK": "1"},  # no telemetry (offline)
        stdout=logs.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: process.poll() is not None or answers(f"{url}/api/version"),
            120,
            "evidently ui to answer",
            interval=0.5,
        )
        if process.poll() is not None:
            raise AssertionError(f"evidently ui exited with {process.returncode}: see {logs}")
        yield url
    finally:
        stop_process(process, signal.SIGTERM)


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
    time on 2 cores) times the workers per core, never less. `make test` runs 4 workers on 2
    cores here: a server that starts in 20 s alone takes up to twice that beside three others."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return seconds * max(1.0, workers / (os.cpu_count() or 1))
