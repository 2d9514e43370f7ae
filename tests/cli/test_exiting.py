"""Processes end without the last garbage collection over their imports (tasks/exiting.py):
the flow scripts, `autoretrain` and a fleet's Dask workers."""

from __future__ import annotations

import argparse
import atexit
import gc
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from tasks import exiting
from tasks.cli import scripts
from tasks.orchestration import dask_worker
from tasks.orchestration.forkserver import WORKER_IMPORTS, WORKER_PRELOAD
from tests.helpers import ROOT

# Run in a process of its own: the observer is registered first, so it runs last, after the
# handlers registered later (atexit runs them in reverse), and reports what the exit collects.
OBSERVED_EXIT = """
import atexit, gc
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))
from tasks.exiting import skip_exit_collection
{call}
"""


def _exit_of(call: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", OBSERVED_EXIT.format(call=call)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_a_process_freezes_its_objects_as_it_exits_so_the_last_collection_skips_them() -> None:
    assert _exit_of("skip_exit_collection(); skip_exit_collection()") == "frozen at exit: True"


def test_without_it_a_process_exits_with_everything_left_to_collect() -> None:
    assert _exit_of("pass") == "frozen at exit: False"


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> list[Callable[..., Any]]:
    """What the code under test registers with atexit (nothing registered for real)."""
    seen: list[Callable[..., Any]] = []
    monkeypatch.setattr(exiting, "_registered", False)
    monkeypatch.setattr(atexit, "register", seen.append)
    return seen


def test_it_is_registered_once_per_process(registered: list[Callable[..., Any]]) -> None:
    exiting.skip_exit_collection()
    exiting.skip_exit_collection()
    assert registered == [gc.freeze]


def run(args: argparse.Namespace) -> int:
    """This module as a flow script's module, for launch below."""
    return 0


def test_a_flow_script_registers_it_once_its_module_is_imported(
    registered: list[Callable[..., Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
        raise scripts.ConfigError("the check failed")

    def no_options(parser: argparse.ArgumentParser) -> None:
        pass

    checked = scripts.Script(__name__, no_options, lambda parser, args: None)
    monkeypatch.setitem(scripts.SCRIPTS, "checked", checked)
    monkeypatch.setitem(scripts.SCRIPTS, "refused", scripts.Script(__name__, no_options, refuse))

    assert scripts.launch("refused", []) == 2  # answered before the imports: nothing to skip
    assert registered == []
    assert scripts.launch("checked", []) == 0
    assert registered == [gc.freeze]


def test_the_console_script_registers_it(registered: list[Callable[..., Any]]) -> None:
    from flows.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["history", "--help"])
    assert exited.value.code == 0
    assert registered == [gc.freeze]


def test_a_fleets_dask_workers_and_their_fork_server_register_it_as_they_import_it() -> None:
    # Imported last, after what every model needs, by a spawned worker and by the fork server
    # (whose forked workers inherit the registration).
    assert WORKER_PRELOAD[-1] == WORKER_IMPORTS[-1] == dask_worker.__name__
    assert _exit_of(f"import {dask_worker.__name__}") == "frozen at exit: True"
