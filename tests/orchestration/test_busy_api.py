"""A busy Prefect API: 503 Service Unavailable, as the temporary SQLite server answers under a
fleet. Every Prefect call of a monitor run (retrain and promote inline) is retried, so the run
completes; a call that keeps failing ends the run with an error saying how often it was retried.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

from flows.monitor import monitor_flow
from tasks.errors import PrefectApiError
from tasks.orchestration.retries import CLIENT_MAX_RETRIES
from tests.flaky_api import install, read_log

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

# More than Prefect's default of 5 retries, within the project's budget.
TIMES = 6

# The kinds of call a monitor run with an inline retrain and promotion makes. (Task run states
# travel as events, over Prefect's websocket, which takes them without touching the database.)
ROUTES = {
    "POST /flow_runs/",  # the run, its retrain and promote subflows
    "POST /flow_runs/{id}/set_state",
    "GET /flow_runs/{id}",
    "POST /task_runs/",  # the steps
    "POST /artifacts/",  # summary, comparison, step outcomes
    "POST /events",  # autoretrain.* events
    "POST /logs/",
    "GET /v2/concurrency_limits/autoretrain-retrain-busy-api",  # the model's retrain slot
    "POST /v2/concurrency_limits/",
    "POST /v2/concurrency_limits/increment-with-lease",
    "POST /v2/concurrency_limits/decrement-with-lease",
}


def _events(model: str, count: int) -> list[Any]:
    """The model's events, once `count` are there (events are written asynchronously)."""

    async def read() -> list[Any]:
        async with get_client() as client:
            page = await client.read_events(
                filter=EventFilter(
                    event=EventNameFilter(prefix=["autoretrain."]),
                    resource=EventResourceFilter(id=[f"autoretrain.model.{model}"]),
                ),
                limit=50,
            )
        return list(page.events)

    deadline = time.monotonic() + 60
    events = asyncio.run(read())
    while len(events) < count and time.monotonic() < deadline:
        time.sleep(0.5)
        events = asyncio.run(read())
    return events


def test_every_prefect_call_of_a_run_is_retried_through_a_busy_api(
    write_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = write_config(
        {"name": "busy-api", "registry": {"path": str(tmp_path / "registry")}}
    )
    log = tmp_path / "injected.jsonl"
    install(monkeypatch, {"times": TIMES, "log": str(log)})

    result = monitor_flow(str(config_path), mode="inline")
    monkeypatch.undo()  # the server answers again, for the checks below

    assert result.status == "promoted", result.status
    assert result.champion_after == "v0002"
    # The first call of each route was answered 503 six times in a row, then went through.
    records = read_log(log)
    recovered = {r["route"] for r in records if r["kind"] == "passed" and r["failed"] == TIMES}
    assert recovered >= ROUTES, (sorted(ROUTES - recovered), sorted(recovered))
    assert not [r for r in records if r["kind"] == "transient" and r["failed"] > TIMES]

    # The events went once each, with the run as a related resource (deployment triggers
    # match on those): the 503s never reached the server.
    # bootstrap: registered, promoted; monitor: drift, performance; retrain: registered, promoted
    expected = ["challenger.registered", "drift.detected", "model.promoted", "performance.degraded"]
    expected += ["challenger.registered", "model.promoted"]
    events = _events("busy-api", len(expected))
    seen = sorted(e.event.removeprefix("autoretrain.") for e in events)
    assert seen == sorted(expected), seen
    promoted = next(e for e in events if e.event == "autoretrain.model.promoted")
    assert "flow-run" in {related.role for related in promoted.related}


def test_an_event_the_api_never_takes_ends_the_run_saying_how_often_it_was_retried(
    write_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = write_config(
        {"name": "busy-events", "registry": {"path": str(tmp_path / "registry")}}
    )
    install(monkeypatch, {"always": [["POST /events", "autoretrain.retrain.requested"]]})

    with pytest.raises(PrefectApiError) as raised:
        monitor_flow(str(config_path), mode="events")

    message = str(raised.value)
    assert message.startswith(
        "emitting autoretrain.retrain.requested for busy-events: the Prefect API kept failing "
        f"(503 Service Unavailable to POST /api/events); retried {CLIENT_MAX_RETRIES} times by "
        "Prefect's client over "
    )
    assert re.search(r"over \d+ s \(PREFECT_CLIENT_MAX_RETRIES\); the server stayed busy", message)


def test_the_approval_pause_waits_and_times_out_through_a_busy_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.orchestration.test_approval import ask_for_approval

    log = tmp_path / "injected.jsonl"
    install(monkeypatch, {"times": TIMES, "log": str(log)})

    approval = ask_for_approval(3)
    monkeypatch.undo()

    assert not approval.approved and approval.reviewer == "(nobody)"
    assert approval.note == "no answer within the approval timeout of 3 s"
    recovered = {r["route"] for r in read_log(log) if r["kind"] == "passed"}
    # Pausing, saving the form, polling the run's state, setting it running again.
    assert {"POST /flow_runs/{id}/set_state", "GET /flow_runs/{id}"} <= recovered, recovered
    assert any(route.startswith("POST /flow_runs/{id}/input") for route in recovered), recovered
