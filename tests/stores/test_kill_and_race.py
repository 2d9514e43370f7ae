"""The real flows in separate processes: killed with SIGKILL at random moments, or racing.

Each process talks to the session's Prefect test server, so no temporary server starts.
"""

from __future__ import annotations

import os
import random
import shutil
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
RETRAIN_AND_PROMOTE = """
import contextlib
import sys
import flows.promote
import flows.retrain
from flows.promote import promote_flow
from flows.retrain import retrain_flow

flows.retrain.model_slot = flows.promote.model_slot = lambda *a: contextlib.nullcontext()
print("ready", flush=True)
version = retrain_flow(sys.argv[1], None, "kill test").version
print(promote_flow(sys.argv[1], None, version).status, flush=True)
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
    """A failed assertion must not leave a flow process running (or holding a slot)."""
    yield
    while _started:
        process = _started.pop()
        if process.poll() is None:
            process.kill()
            process.communicate()


def _start(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _started.append(process)
    return process


def _retrain_and_promote(config: Path) -> subprocess.Popen[str]:
    process = _start("-c", RETRAIN_AND_PROMOTE, str(config))
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"  # imports done: the work starts now
    return process


def test_killed_at_random_moments_during_retrain_and_promote(
    tmp_path: Path, champion_template: Path
) -> None:
    config = _workspace(tmp_path, champion_template)
    root = tmp_path / "registry"
    # One run to completion: it promotes v0002 and measures how long the work takes.
    calibration = _retrain_and_promote(config)
    started = time.monotonic()
    out, err = calibration.communicate(timeout=300)
    work_seconds = time.monotonic() - started
    assert calibration.returncode == 0, err[-3000:]
    assert out.strip() == "promoted"
    _assert_consistent(root)

    rng = random.Random(SEED)
    killed = 0
    for iteration in range(KILL_ITERATIONS):
        process = _retrain_and_promote(config)
        started = time.monotonic()
        delay = rng.uniform(0, work_seconds)
        time.sleep(delay)
        if process.poll() is None:
            process.kill()  # SIGKILL: no cleanup of any kind
            killed += 1
        else:  # it finished first: aim the next kills within the time a run really takes
            work_seconds = min(work_seconds, time.monotonic() - started)
        process.communicate(timeout=60)
        registry = _assert_consistent(root)
        assert registry.get_alias("champion") == "v0002", f"iteration {iteration}, {delay:.2f} s"

    print(f"work {work_seconds:.1f} s; {killed} of {KILL_ITERATIONS} runs killed mid-work")
    assert killed >= KILL_ITERATIONS // 2  # most runs were killed mid-work, not after it
    # A later run trusts nothing the killed ones left and completes.
    final = _retrain_and_promote(config)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err[-3000:]
    assert out.strip() in {"promoted", "rejected"}
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
