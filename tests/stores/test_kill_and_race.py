"""The real flows in separate processes: killed with SIGKILL at random moments, or racing.

Each process talks to the session's Prefect test server, so no temporary server starts.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tasks.stores.registry import LocalRegistry
from tests.helpers import DEMO_DATA, LATENCY_GUARD_ASIDE, ROOT, merge, repo_raw_config
from tests.stores.test_registry_crashes import (
    MODEL_NAME,
    _assert_consistent,
    _config,
    _register_champion,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

KILL_ITERATIONS = 8
SEED = 20261125

# A SIGKILLed run keeps the model's Prefect concurrency slot until its lease expires (300 s),
# and the next run would queue behind it. This test is about the registry, whose own file lock
# keeps it consistent, so the driver takes the Prefect slot out of the way.
# Each run is a process of its own, forked from this driver once it has imported the flows (a
# fresh interpreter each time spent ~4 s of CPU on the imports before its work began): for each
# line on stdin it forks a run, prints its PID, waits for it and prints how it ended.
RETRAIN_AND_PROMOTE = """
import contextlib
import multiprocessing
import sys
import flows.promote
import flows.retrain
from flows.promote import promote_flow
from flows.retrain import retrain_flow

flows.retrain.model_slot = flows.promote.model_slot = lambda *a: contextlib.nullcontext()


def work(config):
    version = retrain_flow(config, None, "kill test").version
    print("status", promote_flow(config, None, version).status, flush=True)


fork = multiprocessing.get_context("fork")
print("ready", flush=True)
for _ in sys.stdin:
    run = fork.Process(target=work, args=(sys.argv[1],))
    run.start()
    print("started", run.pid, flush=True)
    run.join()
    print("ended", run.exitcode, flush=True)
"""


@pytest.fixture(scope="module")
def champion_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flows-template") / "registry"
    _register_champion(_config(root))
    return root


def _workspace(tmp_path: Path, template: Path) -> Path:
    """A registry copied from the template and a config pointing at it; returns the config."""
    registry = tmp_path / "registry"
    shutil.copytree(template, registry)
    config = merge(
        merge(repo_raw_config(), LATENCY_GUARD_ASIDE),  # racing runs time on busy cores
        {
            "data": {"source": {"path": str(DEMO_DATA)}},
            "registry": {"path": str(registry)},
            "reports": {"path": str(tmp_path / "reports")},
            "model": {"params": {"n_estimators": 10, "random_state": 0, "n_jobs": 1}},
        },
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _environment() -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
    }


_started: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_process_left_behind() -> Iterator[None]:
    """A failed assertion must not leave a flow process running (or holding a slot): each is
    its own process group, with the runs it forked."""
    yield
    while _started:
        process = _started.pop()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)


def _start(*args: str, stderr: Path | None = None) -> subprocess.Popen[str]:
    """A Python process of the flows (output piped; stderr to a file when given: a long-lived
    process's logs would fill the pipe no one reads while it runs)."""
    with contextlib.ExitStack() as files:  # the child keeps its own copy of the log's handle
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr is None else files.enter_context(stderr.open("w")),
            text=True,
            start_new_session=True,
        )
    _started.append(process)
    return process


class _Runs:
    """The driver of RETRAIN_AND_PROMOTE: each start() forks one retrain-and-promote run."""

    def __init__(self, config: Path) -> None:
        self.log = config.parent / "runs.log"
        self.driver = _start("-c", RETRAIN_AND_PROMOTE, str(config), stderr=self.log)
        assert self._line() == "ready", self._logged()

    def _line(self) -> str:
        assert self.driver.stdout is not None
        return self.driver.stdout.readline().strip()

    def _logged(self) -> str:
        return self.log.read_text()[-3000:]

    def start(self) -> int:
        """Fork a run; its PID once it runs."""
        assert self.driver.stdin is not None
        self.driver.stdin.write("run\n")
        self.driver.stdin.flush()
        started = self._line()
        assert started.startswith("started "), started
        return int(started.split()[1])

    def end(self) -> tuple[int, str]:
        """Wait for the run: its exit code (-9: killed) and the status it printed ("": none)."""
        status = ""
        while not (line := self._line()).startswith("ended "):
            assert line.startswith("status "), f"{line!r}\n{self._logged()}"
            status = line.removeprefix("status ")
        return int(line.split()[1]), status

    def run(self) -> str:
        """One run to the end: the status it printed."""
        self.start()
        code, status = self.end()
        assert code == 0, self._logged()
        return status

    def close(self) -> None:
        """End the driver: its stdin closes, it reads no more lines and exits."""
        self.driver.communicate(timeout=60)
        assert self.driver.returncode == 0, self._logged()


def test_killed_at_random_moments_during_retrain_and_promote(
    tmp_path: Path, champion_template: Path
) -> None:
    config = _workspace(tmp_path, champion_template)
    root = tmp_path / "registry"
    runs = _Runs(config)
    # One run to completion: it promotes v0002 and measures how long the work takes.
    started = time.monotonic()
    assert runs.run() == "promoted"
    work_seconds = time.monotonic() - started
    _assert_consistent(root)

    rng = random.Random(SEED)
    killed = 0
    for iteration in range(KILL_ITERATIONS):
        pid = runs.start()
        started = time.monotonic()
        delay = rng.uniform(0, work_seconds)
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):  # it ended and the driver reaped it
            os.kill(pid, signal.SIGKILL)  # no cleanup of any kind
        code, _ = runs.end()
        if code == -signal.SIGKILL:
            killed += 1
        else:  # it finished first: aim the next kills within the time a run really takes
            assert code == 0, f"iteration {iteration}: exit code {code}"
            work_seconds = min(work_seconds, time.monotonic() - started)
        registry = _assert_consistent(root)
        assert registry.get_alias("champion") == "v0002", f"iteration {iteration}, {delay:.2f} s"

    print(f"work {work_seconds:.1f} s; {killed} of {KILL_ITERATIONS} runs killed mid-work")
    assert killed >= KILL_ITERATIONS // 2  # most runs were killed mid-work, not after it
    # A later run trusts nothing the killed ones left and completes.
    assert runs.run() in {"promoted", "rejected"}
    runs.close()
    _assert_consistent(root)


def test_two_retrains_at_once_register_two_versions(
    tmp_path: Path, champion_template: Path
) -> None:
    config = _workspace(tmp_path, champion_template)
    runs = [_start(str(ROOT / "flows" / "retrain.py"), "--config", str(config)) for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    registered = sorted(out.strip().removeprefix("registered challenger ") for out, _ in outputs)
    assert registered == ["v0002", "v0003"]
    registry = _assert_consistent(tmp_path / "registry")
    assert registry.get_alias("champion") == "v0001"
    assert registry.get_alias("challenger") in registered
    assert (
        sorted(e.to_version or "" for e in registry.history() if e.action == "register")
        == registered
    )


def test_two_monitors_at_once_end_with_one_champion_and_a_matching_history(
    tmp_path: Path, champion_template: Path
) -> None:
    config = _workspace(tmp_path, champion_template)
    runs = [_start(str(ROOT / "flows" / "monitor.py"), "--config", str(config)) for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]

    codes = [run.returncode for run in runs]
    assert 0 in codes and set(codes) <= {0, 2}, [err[-2000:] for _, err in outputs]
    for run, (_, err) in zip(runs, outputs, strict=True):
        if run.returncode == 2:  # the loser of the race says so and changes nothing
            assert "another run changed it" in err or "run the promotion again" in err
    registry = _assert_consistent(tmp_path / "registry")
    champion = registry.get_alias("champion")
    assert champion in {"v0002", "v0003"}, [out[-2000:] for out, _ in outputs]
    moves = [e for e in registry.history() if e.alias == "champion"]
    assert [(e.from_version, e.to_version) for e in moves[1:]] == [("v0001", champion)]
    assert LocalRegistry(tmp_path / "registry", MODEL_NAME).verify().ok
