"""A busy Prefect API, on purpose: httpx's transports in this process answer chosen requests
with 503 Service Unavailable, as the temporary SQLite server does when its database is locked.

The 503s carry `Retry-After: 0`, so every retry (Prefect's client honours the header, and so does
the project's) goes at once: the tests wait for nothing.

Rules, as JSON:
- `times`: the first request of each route (method and path, ids masked) is answered 503 this
  many times in a row, then let through (a transient error);
- `always`: [route, pattern] pairs: a request of that route whose body matches the regular
  expression is answered 503 every time;
- `log`: a file each answer is appended to, one JSON line (what it was, and whether it was a
  503), so a test sees what other processes injected.

In a test, `install(monkeypatch, rules)`; in Dask workers, the fleet preloads this module with
the rules in $AUTORETRAIN_FLAKY_API (see `worker_preload`).
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ENVIRONMENT = "AUTORETRAIN_FLAKY_API"
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def route_of(request: httpx.Request) -> str:
    """`POST /task_runs/{id}/set_state`: the method and the path under /api, ids masked."""
    path = _ID.sub("{id}", request.url.path)
    return f"{request.method} {path.split('/api', 1)[-1]}"


@dataclass
class FlakyApi:
    times: int = 0
    always: tuple[tuple[str, str], ...] = ()
    log: Path | None = None
    _first: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    _failed: dict[str, int] = field(default_factory=dict)
    _passed: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: httpx.Request) -> httpx.Response | None:
        """A 503 for this request, or None to let it through."""
        route = route_of(request)
        try:
            body = request.content
        except httpx.RequestNotRead:  # a streamed body: never chosen
            return None
        with self._lock:
            text = body.decode(errors="replace")
            if any(route == where and re.search(rx, text) for where, rx in self.always):
                self._record(route, "always", 0)
                return _unavailable(request)
            if (str(request.url), body) != self._first.setdefault(route, (str(request.url), body)):
                return None  # not the route's first request
            failed = self._failed.get(route, 0)
            if failed < self.times:
                self._failed[route] = failed + 1
                self._record(route, "transient", failed + 1)
                return _unavailable(request)
            if self.times and route not in self._passed:
                self._passed.add(route)
                self._record(route, "passed", failed)
        return None

    def _record(self, route: str, kind: str, failed: int) -> None:
        if self.log is not None:
            with self.log.open("a") as handle:
                record = {"route": route, "kind": kind, "failed": failed, "pid": os.getpid()}
                handle.write(json.dumps(record) + "\n")


def _unavailable(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        503,
        headers={"Retry-After": "0"},
        json={"exception_message": "Service Unavailable"},
        request=request,
    )


def _patch(flaky: FlakyApi, setattr_: Any) -> None:
    sync_send = httpx.HTTPTransport.handle_request
    async_send = httpx.AsyncHTTPTransport.handle_async_request

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        return flaky.answer(request) or sync_send(self, request)

    async def handle_async_request(
        self: httpx.AsyncHTTPTransport, request: httpx.Request
    ) -> httpx.Response:
        return flaky.answer(request) or await async_send(self, request)

    setattr_(httpx.HTTPTransport, "handle_request", handle_request)
    setattr_(httpx.AsyncHTTPTransport, "handle_async_request", handle_async_request)


def from_rules(rules: dict[str, Any]) -> FlakyApi:
    return FlakyApi(
        times=int(rules.get("times", 0)),
        always=tuple((route, text) for route, text in rules.get("always", ())),
        log=Path(rules["log"]) if rules.get("log") else None,
    )


def install(monkeypatch: pytest.MonkeyPatch, rules: dict[str, Any]) -> FlakyApi:
    """Make this process's Prefect API busy until the test ends."""
    flaky = from_rules(rules)
    _patch(flaky, monkeypatch.setattr)
    return flaky


def worker_preload(monkeypatch: pytest.MonkeyPatch, rules: dict[str, Any]) -> None:
    """Make the Prefect API busy in the fleet's Dask workers too (they preload this module)."""
    from tasks.orchestration import fleet

    monkeypatch.setenv(ENVIRONMENT, json.dumps(rules))
    monkeypatch.setattr(fleet, "WORKER_PRELOAD", (*fleet.WORKER_PRELOAD, __name__))


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def dask_setup(worker: Any) -> None:
    """Called by a Dask worker that preloads this module: patch that process for good."""
    _patch(from_rules(json.loads(os.environ[ENVIRONMENT])), setattr)
