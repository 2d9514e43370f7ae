"""Events, the model-wide slots and duplicate requests, under a temporary Prefect server."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from datetime import timedelta

import pytest
from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

from flows.monitor import monitor_flow
from flows.promote import promote_flow
from flows.retrain import retrain_flow
from tasks.config import load_config
from tasks.core.reasons import codes
from tasks.errors import AutoretrainError
from tasks.orchestration import runtime
from tasks.stores.registry import LocalRegistry
from tests.helpers import make_decision, read_artifact, record_tls_contexts

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]


def _versions(config_path) -> list[str]:
    config = load_config(config_path)
    return [v.version for v in LocalRegistry(config.registry.path, config.name).list_versions()]


def _events(model: str, prefix: str = "autoretrain.") -> list[tuple[str, dict]]:
    async def read() -> list[tuple[str, dict]]:
        async with get_client() as client:
            page = await client.read_events(
                filter=EventFilter(
                    event=EventNameFilter(prefix=[prefix]),
                    resource=EventResourceFilter(id=[f"autoretrain.model.{model}"]),
                ),
                limit=50,
            )
        return [(event.event, dict(event.payload)) for event in page.events]

    return asyncio.run(read())


def _poll_events(model: str, expected: set[str], timeout: float = 120) -> list[tuple[str, dict]]:
    """Events are written asynchronously: poll until the expected names are there (a deadline,
    not a count of tries: a busy server takes longer)."""
    deadline = time.monotonic() + timeout
    found = _events(model)
    while not expected <= {name for name, _ in found} and time.monotonic() < deadline:
        time.sleep(0.5)
        found = _events(model)
    return found


def test_events_mode_requests_a_retrain_instead_of_running_it(write_config, tmp_path):
    config_path = write_config(
        {"name": "events-mode", "registry": {"path": str(tmp_path / "registry")}}
    )

    result = monitor_flow(str(config_path), mode="events")

    assert result.status == "retrain-requested"
    assert result.comparison is None
    assert _versions(config_path) == ["v0001"]  # only the bootstrapped champion
    events = _poll_events(
        "events-mode",
        {
            "autoretrain.retrain.requested",
            "autoretrain.drift.detected",
            "autoretrain.performance.degraded",
        },
    )
    by_name = {name: payload for name, payload in events}
    requested = by_name["autoretrain.retrain.requested"]
    assert requested["config_path"] == str(config_path)
    assert requested["as_of"] == "2014-04-01T00:00:00"
    assert requested["request_id"]
    # The retrain deployment passes them on: its change-aware window reads their streak.
    assert requested["breaches"] == ",".join(result.decision.confirmed)
    assert requested["breaches"]
    assert by_name["autoretrain.drift.detected"]["drifted_columns"] == ["temp_max", "temp_min"]
    assert by_name["autoretrain.performance.degraded"]["performance"] < 0.45
    # The bootstrap ran inline and said so with events too.
    assert "autoretrain.challenger.registered" in by_name
    assert "autoretrain.model.promoted" in by_name
    # Beside the sentences, each reason's code and numbers, as the records keep them.
    drift = by_name["autoretrain.drift.detected"]
    assert [r["code"] for r in drift["reason_codes"]] == codes(result.decision.reason_codes)
    promoted = by_name["autoretrain.model.promoted"]
    assert result.bootstrap is not None
    assert [r["code"] for r in promoted["reason_codes"]] == codes(result.bootstrap.reason_codes)
    assert "bootstrap" in codes(result.bootstrap.reason_codes)


def test_the_history_shows_the_verdict_of_the_promote_run_a_request_started(
    write_config, tmp_path, capsys
):
    from tasks.cli.history import main as history_main
    from tasks.stores.history import open_history

    config_path = write_config(
        {"name": "events-history", "registry": {"path": str(tmp_path / "registry")}}
    )
    result = monitor_flow(str(config_path), mode="events")
    request = result.retrain_request
    assert request is not None

    # What the retrain and promote deployments run, with the parameters their triggers render
    # from the events' payloads (prefect.yaml): separate runs, after the monitor recorded.
    as_of = "2014-04-01T00:00:00"
    breaches = ",".join(result.decision.confirmed)
    retrained = retrain_flow(
        str(config_path), as_of, request.reason, request_id=request.request_id, breaches=breaches
    )
    promoted = promote_flow(
        str(config_path),
        as_of,
        retrained.version,
        reason=request.reason,
        request_id=request.request_id,
    )

    assert promoted.status == "promoted"
    (row,) = open_history(tmp_path / "registry").rows("events-history")
    assert (row["status"], row["retrained"], row["promoted"]) == ("promoted", 1, 1)
    assert row["request_id"] == request.request_id
    capsys.readouterr()
    assert history_main(["show", "--config", str(config_path)]) == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("2014-")]
    assert line.endswith("promoted           P")


def test_inline_mode_never_emits_a_retrain_request(write_config, tmp_path):
    config_path = write_config(
        {"name": "inline-mode", "registry": {"path": str(tmp_path / "registry")}}
    )

    result = monitor_flow(str(config_path), mode="inline")

    assert result.status == "promoted"
    names = {name for name, _ in _poll_events("inline-mode", {"autoretrain.model.promoted"})}
    assert "autoretrain.retrain.requested" not in names
    assert {"autoretrain.drift.detected", "autoretrain.challenger.registered"} <= names


def test_the_same_request_never_retrains_twice(write_config, tmp_path):
    config_path = write_config(
        {"name": "duplicates", "registry": {"path": str(tmp_path / "registry")}}
    )

    first = retrain_flow(str(config_path), request_id="monitor-run-1")
    again = retrain_flow(str(config_path), request_id="monitor-run-1")

    assert (first.status, first.version) == ("registered", "v0001")
    assert again.status == "duplicate" and again.version is None
    assert _versions(config_path) == ["v0001"]
    # Promotion of one challenger happens once too: a second event for it is a no-op.
    assert promote_flow(str(config_path), challenger_version="v0001").status in {
        "promoted",
        "rejected",
    }
    assert promote_flow(str(config_path), challenger_version="v0001").status == "duplicate"
    # Each no-op says why in the UI, not only in the logs.
    retrain_note = read_artifact("duplicates-retrain-outcome")
    promote_note = read_artifact("duplicates-promote-outcome")
    assert retrain_note is not None and promote_note is not None
    assert retrain_note.description == "retrain status: duplicate"
    assert "request monitor-run-1 was already handled" in str(retrain_note.data)
    assert promote_note.description == "promote status: duplicate"
    assert "v0001 was already judged" in str(promote_note.data)


def test_drop_ends_a_second_retrain_at_once(write_config, tmp_path):
    config_path = write_config(
        {
            "name": "drop",
            "registry": {"path": str(tmp_path / "registry")},
            "orchestration": {"on_busy": "drop"},
        }
    )
    retrain_flow(str(config_path))  # creates the slot's limit; the first retrain is not contended

    with concurrency("autoretrain-retrain-drop", occupy=1, strict=True):
        outcome = retrain_flow(str(config_path))

    assert outcome.status == "dropped"
    assert "this request is dropped (on_busy: drop)" in outcome.message
    assert _versions(config_path) == ["v0001"]


def test_queue_waits_for_the_running_retrain_then_runs(write_config, tmp_path, monkeypatch):
    config_path = write_config(
        {
            "name": "queue",
            "registry": {"path": str(tmp_path / "registry")},
            "orchestration": {"on_busy": "queue"},
        }
    )
    retrain_flow(str(config_path))
    # The waiter's own slot requests, seen from the inside: when it asks and when it gets in.
    asking, granted = threading.Event(), threading.Event()
    real_concurrency = runtime.concurrency

    @contextlib.contextmanager
    def observed(name, *args, **kwargs):
        asking.set()
        with real_concurrency(name, *args, **kwargs):
            granted.set()
            yield

    monkeypatch.setattr(runtime, "concurrency", observed)
    holding = threading.Event()
    release = threading.Event()

    def hold_slot() -> None:
        with concurrency("autoretrain-retrain-queue", occupy=1, strict=True):
            holding.set()
            release.wait(timeout=300)

    holder = threading.Thread(target=hold_slot)
    holder.start()
    assert holding.wait(timeout=60)
    results = []
    waiter = threading.Thread(target=lambda: results.append(retrain_flow(str(config_path))))
    waiter.start()

    assert asking.wait(timeout=120)  # the second retrain reached the slot (however busy we are)
    assert not granted.wait(timeout=5)  # ... and it queues behind the holder
    assert waiter.is_alive()
    assert _versions(config_path) == ["v0001"]  # ... and nothing trained meanwhile
    release.set()
    holder.join(timeout=60)
    waiter.join(timeout=300)
    assert granted.is_set()
    assert results and results[0].status == "registered" and results[0].version == "v0002"


def test_queue_gives_up_after_queue_timeout_with_the_fix_in_the_message(write_config, tmp_path):
    model = {"name": "queue-timeout", "registry": {"path": str(tmp_path / "registry")}}
    # The first retrain, with the slot free, waits as long as it needs: on a busy machine even
    # a free slot can take more than 2 s to be granted.
    retrain_flow(str(write_config(model)))
    config_path = write_config(
        {**model, "orchestration": {"on_busy": "queue", "queue_timeout": "2s"}}
    )

    with (
        concurrency("autoretrain-retrain-queue-timeout", occupy=1, strict=True),
        pytest.raises(
            AutoretrainError,
            match=r"waited 0:00:02 .* giving up \(raise orchestration.queue_timeout",
        ),
    ):
        retrain_flow(str(config_path))

    assert _versions(config_path) == ["v0001"]
    assert load_config(config_path).orchestration.queue_timeout == timedelta(seconds=2)


def test_monitor_events_report_only_judged_breaches():
    from tasks.core.outcomes import monitor_events
    from tasks.core.policy import Breaches, TriggerDecision
    from tasks.core.signals import ColumnDrift, Performance, Signals

    columns = (
        ColumnDrift("a", "K-S p_value", 0.01, 0.05, True),
        ColumnDrift("b", "K-S p_value", 0.5, 0.05, False),
    )
    signals = Signals(90, 300, 0.5, columns, Performance("f1 (macro)", 0.3, 80, "champion"))

    def decision(breaches: Breaches) -> TriggerDecision:
        return make_decision(
            reasons=("...",),
            breaches=breaches,
            confirmed=(),
        )

    both = monitor_events(decision(Breaches(True, None, True, False)), signals)
    performance_not_judged = monitor_events(decision(Breaches(True, None, None, False)), signals)
    healthy = monitor_events(decision(Breaches(False, False, False, False)), signals)

    assert [name for name, _ in both] == ["drift.detected", "performance.degraded"]
    assert both[0][1]["drifted_columns"] == ["a"] and both[1][1]["labelled_rows"] == 80
    assert [name for name, _ in performance_not_judged] == ["drift.detected"]
    assert healthy == []


def test_an_estimated_breach_is_reported_as_its_own_event():
    from tasks.core.outcomes import monitor_events
    from tasks.core.policy import Breaches
    from tasks.core.signals import EstimatedPerformance, Signals

    signals = Signals(
        90, 300, 0.0, (), None, estimate=EstimatedPerformance("f1 (macro)", 0.41, 90, 0.8)
    )
    decision = make_decision(
        action="retrain",
        breaches=Breaches(False, None, None, False, estimated_performance=True),
        performance=None,
        confirmed=("estimated_performance",),
        estimated_performance=0.41,
        holdout_score=0.8,
    )

    ((name, payload),) = monitor_events(decision, signals)

    assert name == "performance.estimate-degraded"
    assert payload["confirmed"] is True
    assert payload["estimated_performance"] == 0.41
    assert payload["summary"] == (
        "estimated f1 (macro) 0.410 < threshold 0.450 on 90 rows, before their labels "
        "(label-free estimate); decision retrain"
    )


def test_a_run_knows_whether_a_deployment_started_it_without_asking_the_api(monkeypatch):
    # prefect.runtime.deployment.id read the flow run from the API on every call of a run no
    # deployment started: two requests per monitor run, each model's in a fleet.
    import uuid

    import prefect.runtime.deployment
    from prefect import flow
    from prefect.context import FlowRunContext
    from prefect.context import _deployment_id as started_by

    def no_read(*args, **kwargs):
        raise AssertionError("the flow run was read from the API")

    monkeypatch.setattr(prefect.runtime.deployment, "_get_flow_run", no_read)
    deployment = uuid.uuid4()

    @flow
    def probe() -> tuple[str | None, bool, str | None, str | None]:
        plain = runtime._deployment_id()
        deployed = runtime.is_deployment_run()
        token = started_by.set(deployment)  # a subflow of a deployment's run
        try:
            inherited = runtime._deployment_id()
        finally:
            started_by.reset(token)
        context = FlowRunContext.get()
        assert context is not None and context.flow_run is not None
        context.flow_run.deployment_id = deployment  # the deployment's run itself
        own = runtime._deployment_id()
        context.flow_run.deployment_id = None
        return plain, deployed, inherited, own

    assert probe() == (None, False, str(deployment), str(deployment))
    assert runtime._deployment_id() is None  # outside any run


def test_a_flow_runs_prefect_clients_and_events_build_no_tls_context(write_config, monkeypatch):
    # Prefect's client reads the CA bundle for each client it opens (~16 ms of CPU): a fleet's
    # model that bootstraps and retrains opened 17. With tasks/orchestration/tls.py installed (by
    # runtime, which every flow module imports), a flow run's clients (the run's own, its task
    # runs', its concurrency slot's, the project's events) share the process's one context.
    from prefect import flow, task

    config = load_config(write_config())
    built = record_tls_contexts(monkeypatch)

    @task
    def step(number: int) -> int:
        return number

    @flow
    def emits(events: int) -> list[int]:
        with runtime.model_slot(config, "retrain"):
            sent = []
            for number in range(events):
                sent.append(step(number))
                runtime.emit_model_event(config, "probe.sent", {"number": number})
            return sent

    emits(1)  # the first run of the process may build the one context
    built.clear()
    assert emits(3) == [0, 1, 2]
    assert built == []

    def numbers() -> list[int]:
        sent = _events(config.name, "autoretrain.probe.sent")
        return sorted(payload["number"] for _, payload in sent)

    deadline = time.monotonic() + 120  # events are written asynchronously
    while len(numbers()) < 4 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert numbers() == [0, 0, 1, 2]
