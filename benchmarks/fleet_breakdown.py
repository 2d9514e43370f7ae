"""Where one model's CPU goes in a fleet: the monitor flow of N models run in this process, in
turn, against the Prefect server at PREFECT_API_URL, with a clock around each part.

Each part's time is the CPU of the run's own thread (time.thread_time) spent inside its
functions, exclusive of the parts nested in it (the registry's calls inside training count as
the registry's). What no part claims in that thread is Prefect's engine (task and flow runs,
their states, parameters, logging) and the project's glue between the steps. Prefect's client
also works in threads of its own (its API requests, logs and events go out from there): the
process's CPU beyond the run's thread. The server's CPU is measured by the caller
(benchmarks/fleet.py), on its processes.

    python benchmarks/fleet_breakdown.py FLEET_FILE [--runs 1] [--json OUT]

Runs every ready model of FLEET_FILE once untimed (the bootstrap, unless --timed-first), then
--runs times timed; prints one JSON object: seconds per model by part.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import inspect
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# (part, module, attribute): the attribute is looked up by its callers at call time, so the
# wrapper placed on the module is the one they call. A class's public methods are all wrapped.
PARTS: tuple[tuple[str, str, str], ...] = (
    ("config: read and validate", "tasks.orchestration.runtime", "load_config"),
    ("reading the window", "tasks.steps.monitoring", "load_window"),
    ("data-quality checks", "tasks.steps.monitoring", "check_window_quality"),
    ("drift tests (every row, the profile)", "tasks.adapters.evidently_report", "_exact_drift"),
    ("drift profile (load)", "tasks.steps.monitoring", "load_profile"),
    ("champion's predictions, estimate", "tasks.steps.monitoring", "_window_predictions"),
    ("champion's predictions, estimate", "tasks.steps.monitoring", "predict_labels"),
    ("champion's predictions, estimate", "tasks.steps.monitoring", "estimate_window"),
    ("Evidently: HTML reports", "tasks.adapters.evidently_report", "ReportDrawing"),
    ("Evidently: HTML reports", "tasks.adapters.evidently_report", "_measure_drift"),
    ("Evidently: HTML reports", "tasks.steps.monitoring", "add_report_header"),
    ("the metric (every labelled row)", "tasks.adapters.evidently_report", "_measure_performance"),
    ("Evidently: dashboard snapshot", "tasks.steps.dashboards", "add_window_point"),
    ("training", "tasks.steps.training", "fit_model"),
    ("promotion gate (bootstrap, scores)", "tasks.steps.promotion", "compare_models"),
    ("registry", "tasks.stores.registry._journal", "ModelRegistry"),
    ("registry", "tasks.stores.registry.local", "LocalRegistry"),
    ("history store", "tasks.stores.history._store", "MonitorHistory"),
    ("Prefect: artifacts and events", "tasks.orchestration.artifacts", "call_api"),
    ("Prefect: artifacts and events", "tasks.orchestration.runtime", "call_api"),
)
ENGINE = "Prefect engine and the flow's glue (the run's thread)"
THREADS = "Prefect client's threads (API requests, logs, events)"


class Clock:
    """Exclusive thread CPU per part, for calls made in one thread."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.seconds: dict[str, float] = {}
        self.stack: list[str] = []
        self.last = time.thread_time()

    def _charge(self) -> None:
        now = time.thread_time()
        if self.stack:
            part = self.stack[-1]
            self.seconds[part] = self.seconds.get(part, 0.0) + now - self.last
        self.last = now

    def wrap(self, part: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != self.thread:
                return function(*args, **kwargs)
            self._charge()
            self.stack.append(part)
            try:
                return function(*args, **kwargs)
            finally:
                self._charge()
                self.stack.pop()

        return timed


def install(clock: Clock) -> None:
    for part, module_name, attribute in PARTS:
        module = importlib.import_module(module_name)
        target = getattr(module, attribute, None)
        if target is None:  # a part of another tree's code (--baseline): not in this one
            continue
        if inspect.isclass(target):
            for name, member in list(vars(target).items()):
                if not name.startswith("_") and inspect.isfunction(member):
                    setattr(target, name, clock.wrap(part, member))
        else:
            setattr(module, attribute, clock.wrap(part, target))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("fleet")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timed-first", action="store_true", help="time the first run too")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    started = time.process_time()
    import evidently  # noqa: F401  (what a worker preloads)

    from flows.monitor import monitor_flow
    from tasks.config import load_fleet

    # The models run as a fleet's worker runs them (orchestration.task_runs auto); a --baseline
    # tree from before it runs them plainly.
    steps = importlib.import_module("tasks.orchestration.tasks")
    fleet_model_run = getattr(steps, "fleet_model_run", contextlib.nullcontext)

    imports = time.process_time() - started
    import logging

    logging.disable(logging.WARNING)  # the per-model lines; errors still raise
    members = load_fleet(Path(args.fleet)).ready
    if not args.timed_first:
        for member in members:
            with fleet_model_run():
                monitor_flow(str(member.config_path), None, "inline")
    clock = Clock()
    install(clock)
    timed_start = time.monotonic()  # the system's monotonic clock: the caller's too
    process0, thread0, wall0 = time.process_time(), time.thread_time(), time.perf_counter()
    clock.last = thread0
    statuses: dict[str, int] = {}
    for _ in range(args.runs):
        for member in members:
            with fleet_model_run():
                result = monitor_flow(str(member.config_path), None, "inline")
            statuses[result.status] = statuses.get(result.status, 0) + 1
    process, thread = time.process_time() - process0, time.thread_time() - thread0
    runs = len(members) * args.runs
    parts = {part: seconds / runs for part, seconds in clock.seconds.items()}
    parts[ENGINE] = (thread - sum(clock.seconds.values())) / runs
    parts[THREADS] = (process - thread) / runs
    print(
        json.dumps(
            {
                "models": runs,
                "process_cpu": process / runs,
                "wall": (time.perf_counter() - wall0) / runs,
                "timed": [timed_start, time.monotonic()],
                "imports_cpu": imports,
                "parts": parts,
                "statuses": statuses,
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
