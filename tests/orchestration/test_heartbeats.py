"""Flow runs keep their heartbeats and end without joining the heartbeat thread
(tasks/orchestration/heartbeats.py), on the locked Prefect and a real server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from prefect import flow, flow_engine
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

import tasks.orchestration.runtime  # noqa: F401  (what every flow module imports: installs it)
from tasks.orchestration import heartbeats

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]


@dataclass
class Watched:
    """The heartbeats a run sent (by flow run name) and the threads the run joined."""

    sent: dict[str, int] = field(default_factory=dict)
    threads: dict[str, threading.Thread] = field(default_factory=dict)
    first: dict[str, threading.Event] = field(default_factory=dict)
    joined: list[threading.Thread] = field(default_factory=list)


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> Iterator[Watched]:
    seen = Watched()
    emit = flow_engine.FlowRunEngine._emit_flow_run_heartbeat
    join = threading.Thread.join

    def counted(engine: Any, *args: Any, **kwargs: Any) -> None:
        name = engine.flow_run.name
        seen.sent[name] = seen.sent.get(name, 0) + 1
        seen.threads[name] = threading.current_thread()
        emit(engine, *args, **kwargs)
        seen.first.setdefault(name, threading.Event()).set()

    def recorded(thread: threading.Thread, timeout: float | None = None) -> None:
        seen.joined.append(thread)
        join(thread, timeout)

    monkeypatch.setattr(flow_engine.FlowRunEngine, "_emit_flow_run_heartbeat", counted)
    monkeypatch.setattr(threading.Thread, "join", recorded)
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}):
        yield seen


def _after_first_heartbeat(seen: Watched, name: str) -> str:
    """A flow body: wait until the run's heartbeat thread has sent its first heartbeat."""
    assert seen.first.setdefault(name, threading.Event()).wait(60), f"{name}: no heartbeat"
    return name


def _run_parent_and_child(seen: Watched) -> None:
    @flow(flow_run_name="child")
    def child() -> str:
        return _after_first_heartbeat(seen, "child")

    @flow(flow_run_name="parent")
    def parent() -> list[str]:
        return [child(), _after_first_heartbeat(seen, "parent")]

    assert parent() == ["child", "parent"]


def test_flow_runs_send_heartbeats_and_never_join_their_thread(watched: Watched) -> None:
    assert flow_engine._send_heartbeats is heartbeats.send_heartbeats_without_join

    _run_parent_and_child(watched)

    threads = watched.threads
    assert set(threads) == {"parent", "child"}
    assert not [t for t in watched.joined if t in threads.values()]
    for name, thread in threads.items():
        thread.join(10)  # the thread stops by itself, within a second of its flow's end
        assert not thread.is_alive(), f"{name}'s heartbeat thread still runs"
    # One heartbeat each (the first; the next one was 30 s away): none after the end.
    assert watched.sent == {"parent": 1, "child": 1}


def test_prefects_own_context_joins_the_thread_the_check_above_would_see_it(
    watched: Watched, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert heartbeats._PREFECT_SEND_HEARTBEATS is not None
    monkeypatch.setattr(flow_engine, "_send_heartbeats", heartbeats._PREFECT_SEND_HEARTBEATS)

    _run_parent_and_child(watched)

    assert set(watched.threads) == {"parent", "child"}
    joined = [t for t in watched.joined if t in watched.threads.values()]
    assert len(joined) == 2


def test_install_leaves_a_prefect_without_the_private_function_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(heartbeats, "_PREFECT_SEND_HEARTBEATS", None)
    before = flow_engine._send_heartbeats
    assert heartbeats.install() is False
    assert flow_engine._send_heartbeats is before
