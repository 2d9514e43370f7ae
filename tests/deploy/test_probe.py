"""deploy/probe.py: the image's HEALTHCHECK and the wait of its entrypoint, on local servers."""

from __future__ import annotations

import http.server
import importlib.util
import socket
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

PROBE = Path(__file__).resolve().parents[2] / "deploy" / "probe.py"


def load_probe() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("probe", PROBE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


probe = load_probe()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_service_is_healthy_when_its_url_answers_2xx(server: str) -> None:
    assert probe.problem(f"http://{server}/health") is None
    assert (
        probe.problem(f"http://{server}/other")
        == f"http://{server}/other: HTTP Error 503: Service Unavailable"
    )
    assert probe.problem(f"tcp://{server}") is None
    port = closed_port()
    assert "Connection refused" in (probe.problem(f"tcp://127.0.0.1:{port}") or "")
    assert probe.problem("ftp://example/x") == "ftp://example/x: not an http(s):// or tcp:// URL"


def test_the_healthcheck_probes_the_role_s_url(
    server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTORETRAIN_HEALTH_URL", f"http://{server}/health")
    assert probe.main([]) == 0
    monkeypatch.setenv("AUTORETRAIN_HEALTH_URL", f"http://127.0.0.1:{closed_port()}/health")
    assert probe.main([]) == 1
    assert "unhealthy: http://127.0.0.1:" in capsys.readouterr().err


def test_a_container_without_a_service_is_healthy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTORETRAIN_HEALTH_URL", raising=False)
    assert probe.main([]) == 0  # a flow run or the CLI: nothing to probe


def test_the_wait_ends_when_every_url_answers_or_at_its_deadline(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    started: list[http.server.ThreadingHTTPServer] = []

    def start_later() -> None:  # the dependency comes up while the probe waits
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        started.append(httpd)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()

    timer = threading.Timer(1.5, start_later)
    timer.start()
    try:
        urls = [f"tcp://{server}", f"http://127.0.0.1:{port}/health"]
        assert probe.main(["--wait", "60", *urls]) == 0
        assert f"probe: http://127.0.0.1:{port}/health answers" in capsys.readouterr().err
    finally:
        timer.join()
        for httpd in started:
            httpd.shutdown()
            httpd.server_close()
    assert probe.main(["--wait", "1", f"tcp://127.0.0.1:{closed_port()}"]) == 1
    assert "unhealthy: tcp://127.0.0.1:" in capsys.readouterr().err
