"""The order pytest-xdist hands modules to its workers, and where the time went.

`make test` runs `--dist loadfile`: a module is one unit of work, given to the next free worker in
the order of the collection. pytest-xdist's own reordering (`--loadscope-reorder`, on by default)
puts the modules with the most tests first, so the few-test, slow modules (the benchmarks' toys,
the fleet's) came last and the suite ended with one worker running them alone. The Makefile
turns that off (`--no-loadscope-reorder`) and this hook orders the modules longest first (the
longest-processing-time rule: the short ones then fill the gaps at the end). A module's tests keep
their order and stay together.

A module's expected seconds: its sum of test durations in the last run on this checkout (pytest's
cache, written at the end of each run), else the table below (a fresh clone, CI), else an
estimate from its markers. At the end of a run the terminal summary prints the seconds per worker
and the slowest modules, so the next slow module is seen, and the CPU seconds the run used (this
process and every process it and its workers waited for) and how many cores that kept busy: a
change that only waits shows in the wall time, one that computes more in the CPU seconds. Both
move with the machine's speed of the hour (docs/benchmarks.md, "Where the suite's CPU goes").
"""

from __future__ import annotations

import resource
import time
from collections import defaultdict
from typing import Any

import pytest

CACHE_KEY = "autoretrain/module_seconds"

# Seconds per module (setup + call + teardown of its tests) in a 2-worker `make test` on the
# 2-core machine of docs/benchmarks.md (2026-12-04, 19:55); only the order matters, so rough
# numbers do.
KNOWN_SECONDS: dict[str, float] = {
    "tests/test_benchmarks.py": 795,
    "tests/orchestration/test_server_integration.py": 360,
    "tests/flows/test_two_machines.py": 245,
    "tests/flows/test_fleet.py": 190,
    "tests/flows/test_cli.py": 170,
    "tests/orchestration/test_fleet_server.py": 150,
    "tests/cli/test_fail_fast.py": 145,
    "tests/stores/test_kill_and_race.py": 140,
    "tests/flows/test_mlflow_reports.py": 120,
    "tests/flows/test_flows.py": 105,
    "tests/flows/test_bad_input.py": 95,
    "tests/orchestration/test_approval.py": 85,
    "tests/stores/test_registry.py": 80,
    "tests/test_docs.py": 80,
    "tests/orchestration/test_prefect_ui_pages.py": 70,
    "tests/flows/test_shared_registry.py": 65,
    "tests/orchestration/test_orchestration.py": 65,
    "tests/steps/test_backtest.py": 50,
    "tests/flows/test_secret_leaks.py": 50,
    "tests/flows/test_watch_flows.py": 45,
}
# A module not in the table: seconds per test by its heaviest marker.
MARKER_SECONDS = {"server": 30.0, "e2e": 10.0, "slow": 5.0}
PLAIN_SECONDS = 0.05


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _estimate(item: pytest.Item) -> float:
    marks = {mark.name for mark in item.iter_markers()}
    return max([MARKER_SECONDS[m] for m in marks if m in MARKER_SECONDS], default=PLAIN_SECONDS)


def module_seconds(items: list[pytest.Item], measured: dict[str, float]) -> dict[str, float]:
    """Each module's expected seconds: measured, else the table, else its markers' estimate."""
    estimated: dict[str, float] = defaultdict(float)
    for item in items:
        estimated[_module(item.nodeid)] += _estimate(item)
    return {
        module: measured.get(module, KNOWN_SECONDS.get(module, guess))
        for module, guess in estimated.items()
    }


def longest_first(items: list[pytest.Item], seconds: dict[str, float]) -> list[pytest.Item]:
    """The items, their modules ordered by seconds, longest first; ties and tests keep order."""
    first_seen = {
        module: n for n, module in enumerate(dict.fromkeys(_module(i.nodeid) for i in items))
    }
    return sorted(
        items, key=lambda item: (-seconds[_module(item.nodeid)], first_seen[_module(item.nodeid)])
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):
        return  # not a pytest-xdist worker: one process runs the modules in any order alike
    cache = getattr(config, "cache", None)
    measured = cache.get(CACHE_KEY, {}) if cache is not None else {}
    items[:] = longest_first(items, module_seconds(items, measured))


class Timings:
    """Test durations by worker and by module, as the reports reach this process."""

    def __init__(self) -> None:
        self.by_worker: dict[str, float] = defaultdict(float)
        self.by_module: dict[str, float] = defaultdict(float)

    def add(self, report: pytest.TestReport) -> None:
        node = getattr(report, "node", None)  # pytest-xdist: the worker that ran it
        worker = node.gateway.id if node is not None else "main"
        self.by_worker[worker] += report.duration
        self.by_module[_module(report.nodeid)] += report.duration


TIMINGS = Timings()
STARTED = time.monotonic()  # when conftest.py imports this module, before the collection
OWN_AT_START = resource.getrusage(resource.RUSAGE_SELF)


def cpu_line(
    own: resource.struct_rusage,
    children: resource.struct_rusage,
    wall: float,
    own_at_start: resource.struct_rusage,
) -> str:
    """The run's CPU seconds (user + system) from getrusage of this process (since own_at_start)
    and of its children, beside its wall time: how many cores it kept busy on average."""
    mine = own.ru_utime + own.ru_stime - (own_at_start.ru_utime + own_at_start.ru_stime)
    theirs = children.ru_utime + children.ru_stime
    total = mine + theirs
    return (
        f"CPU: {total:.0f} s in {wall:.0f} s of wall time ({total / wall:.2f} cores busy on "
        f"average; {mine:.0f} s in this process, {theirs:.0f} s in the workers and the processes "
        "it or they started and waited for)"
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    TIMINGS.add(report)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or not TIMINGS.by_module:
        return
    terminalreporter.section("seconds of tests per worker, slowest modules (tests/schedule.py)")
    for worker, seconds in sorted(TIMINGS.by_worker.items()):
        terminalreporter.write_line(f"{worker}: {seconds:.0f} s")
    slowest = sorted(TIMINGS.by_module.items(), key=lambda entry: -entry[1])[:15]
    for module, seconds in slowest:
        terminalreporter.write_line(f"{seconds:8.1f} s  {module}")
    terminalreporter.write_line(
        cpu_line(
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
            time.monotonic() - STARTED,
            OWN_AT_START,
        )
    )
    cache = getattr(config, "cache", None)
    if cache is not None and not config.getoption("keyword") and not config.getoption("markexpr"):
        # Only a run of whole modules (no -k, no -m) says how long a module takes.
        known = cache.get(CACHE_KEY, {})
        known.update({module: round(seconds, 1) for module, seconds in TIMINGS.by_module.items()})
        cache.set(CACHE_KEY, known)
