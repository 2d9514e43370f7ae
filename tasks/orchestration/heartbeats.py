"""Flow runs end without waiting out their heartbeat thread's nap.

Prefect's sync flow engine keeps a heartbeat thread per flow run (PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
180 s by default; zombie-run automations watch those events). The thread sleeps in steps of
`time.sleep(1)` and checks a stop flag between steps, and at the end of the run the engine joins
it: every flow run, subflows included, then waits for the rest of the current second, 0.5 s on
average. A monitor run that bootstraps a champion holds three to five flow runs: 1.5-2.5 s of
each model's wall time went to those joins (cProfile, benchmarks/fleet.py's demo models: 6.1 s
a model before, 3.5 s after), and the core did nothing meanwhile.

Prefect's async engine already leaves the thread to stop on its own (`join_on_exit=False`):
the thread sees the stop flag within a second, sends nothing more and ends (it is a daemon
thread). `install` makes the sync engine do the same; the heartbeats themselves are unchanged.
Checked against the locked Prefect (tests/orchestration/test_heartbeats.py); with a Prefect
that no longer has the private `_send_heartbeats`, nothing is installed and runs wait as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from prefect import flow_engine

_PREFECT_SEND_HEARTBEATS = getattr(flow_engine, "_send_heartbeats", None)


@contextlib.contextmanager
def send_heartbeats_without_join(engine: Any, join_on_exit: bool = True) -> Iterator[None]:
    """Prefect's heartbeat context for `engine`'s flow run, ended without joining its thread.

    join_on_exit: Prefect's argument, ignored: the thread is never joined.
    """
    assert _PREFECT_SEND_HEARTBEATS is not None  # install() checked it
    with _PREFECT_SEND_HEARTBEATS(engine, join_on_exit=False):
        yield


def install() -> bool:
    """Put `send_heartbeats_without_join` in place of the engine's; False where this Prefect
    has no `_send_heartbeats` to replace."""
    if _PREFECT_SEND_HEARTBEATS is None:
        return False
    flow_engine._send_heartbeats = send_heartbeats_without_join
    return True
