"""A user error fails a command in one line and exit 2: before Prefect starts when the stores can
tell, and without Prefect's tracebacks (unless --debug) when only the run can.

Each command runs as a user runs it: the installed `autoretrain`, a fresh PREFECT_HOME, no
PREFECT_API_URL, so any flow run would start a temporary server (it says "Starting temporary
server" and creates PREFECT_HOME/prefect.db).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.dummy import DummyClassifier

from tasks.stores.registry import LocalRegistry
from tests.helpers import make_lineage, merge, repo_raw_config
from tests.processes import scaled

AUTORETRAIN = Path(sys.executable).parent / "autoretrain"
SERVER_STARTED = "Starting temporary server"


def run_command(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    environment["PREFECT_HOME"] = str(cwd / "prefect-home")
    return subprocess.run(
        [str(AUTORETRAIN), *argv],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def output_lines(run: subprocess.CompletedProcess[str]) -> list[str]:
    return (run.stdout + run.stderr).splitlines()


def _registry_with_champions(path: Path, champions: int) -> None:
    registry = LocalRegistry(path, "seattle-weather")
    frame = pd.DataFrame({"x": [0.0, 1.0], "y": [0, 1]})
    for _ in range(champions):
        model = DummyClassifier().fit(frame[["x"]], frame["y"])
        record = registry.register(model, frame, make_lineage())
        registry.set_alias("champion", record.version, reason="test", action="promote")
    LocalRegistry(path, "seattle-weather")  # reopened: the versions' statuses catch up here


# (name, config overrides, champions registered beforehand, argv after the command's name,
#  the one line expected)
CASES = [
    (
        "monitor-without-its-data-directory",
        {"data": {"source": {"path": "no-such-directory"}}},
        0,
        ["monitor"],
        "error: data directory not found: {tmp}/no-such-directory (set data.source.path in the "
        "config)",
    ),
    (
        "monitor-with-a-column-the-log-lacks",
        {"data": {"numerical_features": ["precipitation", "humidity"]}},
        0,
        ["monitor"],
        "error: columns ['humidity'] are not in {data}/weather-2012.parquet; it has "
        "['precipitation', 'temp_max', 'temp_min', 'timestamp', 'weather', 'wind']. Fix the "
        "column names in the config's data section or the data.",
    ),
    (
        "retrain-without-its-data-directory",
        {"data": {"source": {"path": "no-such-directory"}}},
        0,
        ["retrain"],
        "error: data directory not found: {tmp}/no-such-directory (set data.source.path in the "
        "config)",
    ),
    (
        "backtest-without-its-data-directory",
        {"data": {"source": {"path": "no-such-directory"}}},
        0,
        ["backtest", "--step", "30d"],
        "error: data directory not found: {tmp}/no-such-directory (set data.source.path in the "
        "config)",
    ),
    (
        "monitor-with-its-registry-under-a-file",
        {"registry": {"path": "a-file/registry"}},
        0,
        ["monitor"],
        "error: registry.path {tmp}/a-file/registry is not a directory: {tmp}/a-file is a file "
        "(check registry.path)",
    ),
    (
        "rollback-to-a-version-that-does-not-exist",
        {},
        2,
        ["rollback", "--to", "v0009", "--reason", "test"],
        "error: no model version v0009 in {tmp}/registry/models/seattle-weather",
    ),
    (
        "rollback-of-the-first-champion",
        {},
        1,
        ["rollback", "--reason", "test"],
        "error: v0001 is the first champion: there is no earlier one to roll back to",
    ),
    (
        "rollback-without-a-registry",
        {},
        0,
        ["rollback", "--reason", "test"],
        "error: no registry at {tmp}/registry: run the monitor first (it registers the first "
        "champion), or check registry.path",
    ),
    (
        "promote-a-version-that-does-not-exist",
        {},
        1,
        ["promote", "--challenger", "v0009"],
        "error: no model version v0009 in {tmp}/registry/models/seattle-weather",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "champions", "argv", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_user_error_the_stores_show_fails_before_prefect_in_one_line(
    write_config: Callable[..., Path],
    tmp_path: Path,
    overrides: dict[str, object],
    champions: int,
    argv: list[str],
    expected: str,
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    config = write_config({"registry": {"path": "registry"}, **overrides})
    if champions:
        _registry_with_champions(tmp_path / "registry", champions)
    data = Path(__file__).resolve().parents[2] / "data" / "seattle"

    run = run_command(*argv[:1], "--config", str(config), *argv[1:], cwd=tmp_path)

    assert run.returncode == 2, run.stderr[-3000:]
    assert output_lines(run) == [expected.format(tmp=tmp_path, data=data)]
    assert SERVER_STARTED not in run.stderr
    assert not (tmp_path / "prefect-home" / "prefect.db").exists()
    if not champions:
        assert not (tmp_path / "registry").exists()  # a failed check leaves nothing behind


@pytest.mark.e2e
def test_a_user_error_inside_a_run_is_one_line_and_its_traceback_only_under_debug(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    # Nothing before 2012 in the log: the checks pass (the log and its columns are there), and
    # only the run finds that its training window holds no labelled rows.
    config = write_config({"registry": {"path": "registry"}})
    argv = ["retrain", "--config", str(config), "--as-of", "2011-01-01"]
    message = (
        "error: no labelled rows to train on in [2010-04-06 00:00, 2010-10-03 00:00): check "
        "windows.training and the data's dates"
    )

    quiet = run_command(*argv, cwd=tmp_path)
    debug = run_command(*argv, "--debug", cwd=tmp_path)

    assert quiet.returncode == debug.returncode == 2, quiet.stderr[-3000:]
    lines = output_lines(quiet)
    assert SERVER_STARTED in quiet.stderr  # this one needed the run
    assert "Traceback" not in quiet.stderr
    assert [line for line in lines if line.startswith("error: ")] == [message]
    # Prefect's own lines: the server, the flow run, its tasks; each failure in one line.
    assert not any(line.startswith("  File ") for line in lines)
    assert len(lines) <= 20, "\n".join(lines)
    assert debug.stderr.count("Traceback (most recent call last)") >= 3
    assert message in debug.stderr.splitlines()


def _write_fleet(tmp_path: Path, models: dict[str, dict[str, object]], **defaults: object) -> Path:
    """A fleet file of the repo config's defaults (the bundled log, a registry under tmp_path)
    and models, each with its own overrides."""
    raw = repo_raw_config()
    del raw["name"]
    data = Path(__file__).resolve().parents[2] / "data" / "seattle"
    fleet_defaults = merge(
        raw, {"data": {"source": {"path": str(data)}}, "registry": {"path": "registry"}}
    )
    (tmp_path / "models").mkdir()
    for model, overrides in models.items():
        (tmp_path / "models" / f"{model}.yaml").write_text(
            yaml.safe_dump({"name": model, **overrides}, sort_keys=False)
        )
    fleet = {
        "name": "fleet-checked",
        "models": ["models/*.yaml"],
        "defaults": merge(fleet_defaults, defaults),
    }
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet, sort_keys=False))
    return path


NO_DATA = {"data": {"source": {"path": "no-such-directory"}}}
FLEET_CASES = [
    (
        "every-model-without-its-data-directory",
        {"model-a": {}, "model-b": {}},
        NO_DATA,
        [
            "error: model-a, model-b: data directory not found: {tmp}/no-such-directory (set "
            "data.source.path in the config)"
        ],
    ),
    (
        "each-model-with-its-own-problem",
        {
            "model-a": {"data": {"source": {"path": "{tmp}/no-such-directory"}}},
            "model-b": {"registry": {"path": "{tmp}/a-file/registry"}},
            "model-c": {"policy": {"drift_treshold": 0.5}},
        },
        {},
        [
            "error: no model of fleet fleet-checked can run:",
            "  model-a: data directory not found: {tmp}/no-such-directory (set data.source.path "
            "in the config)",
            "  model-b: registry.path {tmp}/a-file/registry is not a directory: {tmp}/a-file is a "
            "file (check registry.path)",
            "  model-c: {tmp}/models/model-c.yaml: invalid configuration",
            "    policy.drift_treshold: unknown key (check the spelling; see docs/configuration.md)",
        ],
    ),
]


@pytest.mark.parametrize(
    ("models", "defaults", "expected"),
    [case[1:] for case in FLEET_CASES],
    ids=[case[0] for case in FLEET_CASES],
)
def test_a_fleet_whose_models_cannot_run_fails_before_prefect_naming_them(
    tmp_path: Path,
    models: dict[str, dict[str, object]],
    defaults: dict[str, object],
    expected: list[str],
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    filled = yaml.safe_load(yaml.safe_dump(models).replace("{tmp}", str(tmp_path)))
    fleet = _write_fleet(tmp_path, filled, **defaults)

    run = run_command("fleet", "--fleet", str(fleet), cwd=tmp_path)

    assert run.returncode == 2, run.stderr[-3000:]
    assert output_lines(run) == [line.format(tmp=tmp_path) for line in expected]
    assert SERVER_STARTED not in run.stderr
    assert not (tmp_path / "prefect-home" / "prefect.db").exists()
    assert not (tmp_path / "registry").exists()


def test_a_fleet_check_shows_its_traceback_only_under_debug(tmp_path: Path) -> None:
    fleet = _write_fleet(tmp_path, {"model-a": {}}, **NO_DATA)
    message = (
        f"error: model-a: data directory not found: {tmp_path}/no-such-directory (set "
        "data.source.path in the config)"
    )

    quiet = run_command("fleet", "--fleet", str(fleet), cwd=tmp_path)
    debug = run_command("fleet", "--fleet", str(fleet), "--debug", cwd=tmp_path)

    assert quiet.returncode == debug.returncode == 2, debug.stderr[-3000:]
    assert output_lines(quiet) == [message]
    assert "Traceback (most recent call last)" in debug.stderr
    assert "tasks/steps/preflight.py" in debug.stderr
    assert debug.stderr.splitlines()[-1] == message
    assert SERVER_STARTED not in debug.stderr


@pytest.mark.parametrize(
    ("settings", "started"),
    [
        ({}, True),  # a local Dask cluster: its workers' server starts now
        ({"dask_address": "tcp://10.0.0.5:8786"}, False),  # a cluster of its own
        ({"runner": "deployments"}, False),  # the work pool's workers
    ],
)
def test_a_fleet_starts_its_workers_fork_server_before_its_models_checks_and_stops_it_if_they_fail(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, object],
    started: bool,
) -> None:
    import argparse

    from tasks.cli import scripts
    from tasks.errors import AutoretrainError
    from tasks.orchestration import forkserver

    calls: list[str] = []

    def start() -> bool:
        calls.append("started")
        return True

    monkeypatch.setattr(forkserver, "start_forkserver", start)
    monkeypatch.setattr(forkserver, "stop_forkserver", lambda: calls.append("stopped"))

    def check(tmp: Path, **defaults: object) -> None:
        fleet = _write_fleet(tmp, {"model-a": {}}, **defaults)
        raw = yaml.safe_load(fleet.read_text())
        fleet.write_text(yaml.safe_dump({**raw, **settings}, sort_keys=False))
        scripts._check_fleet(argparse.ArgumentParser(), argparse.Namespace(fleet=str(fleet)))

    (tmp_path / "runs").mkdir()
    check(tmp_path / "runs")
    assert calls == (["started"] if started else [])

    if started:  # (the other runners' models are checked where they run)
        calls.clear()
        (tmp_path / "fails").mkdir()
        with pytest.raises(AutoretrainError, match="data directory not found"):
            check(tmp_path / "fails", **NO_DATA)
        assert calls == ["started", "stopped"]


# The server's imports never end here: stopping it must not wait for them. The server is
# multiprocessing's own record of it (its PID), not a child found by its command line: the
# child's command line reads empty while it execs (CI found none there once).
STOPPED = """
import multiprocessing.forkserver
import psutil
from tasks.orchestration import forkserver
from tasks.orchestration.forkserver import start_forkserver, stop_forkserver
forkserver.WORKER_IMPORTS = ("tests.hanging_import",)
assert start_forkserver()
server = psutil.Process(multiprocessing.forkserver._forkserver._forkserver_pid)
assert server.ppid() == psutil.Process().pid and server.is_running()
stop_forkserver()
print("gone:", not psutil.pid_exists(server.pid))
stop_forkserver()  # none left: nothing to do
"""


def test_stopping_the_fork_server_ends_it_without_waiting_for_its_imports(tmp_path: Path) -> None:
    # Output to files and its own process group, ended whatever happens: a server left
    # importing forever would hold pipes open, and reading them would wait for it.
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", STOPPED],
            cwd=Path(__file__).resolve().parents[2],
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        process.wait(timeout=scaled(120))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert (process.returncode, out.read_text().strip()) == (0, "gone: True"), err.read_text()


def _imported_modules(*argv: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run a flow script as a user does, under -X importtime: its result and the top-level
    packages it imported."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in run.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return run, imported


HEAVY = {"prefect", "sklearn", "scipy", "evidently"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "script", ["monitor", "retrain", "promote", "rollback", "backtest", "fleet"]
)
def test_a_scripts_help_imports_none_of_prefect_scikit_learn_or_pandas(
    script: str, tmp_path: Path
) -> None:
    run, imported = _imported_modules(str(ROOT / "flows" / f"{script}.py"), "--help", cwd=tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("usage: "), run.stdout
    assert "--config" in run.stdout or "--fleet" in run.stdout
    assert imported.isdisjoint(HEAVY | {"pandas", "numpy"}), sorted(imported & HEAVY)


def test_a_bad_config_key_is_reported_before_prefect_or_evidently_is_imported(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = write_config({"policy": {"drift_treshold": 0.5}})

    run, imported = _imported_modules(
        str(ROOT / "flows" / "monitor.py"), "--config", str(config), cwd=tmp_path
    )

    assert run.returncode == 2
    assert "policy.drift_treshold: unknown key" in run.stderr
    # (scikit-learn is: the config's model.estimator is validated by importing it)
    assert imported.isdisjoint({"prefect", "evidently"}), sorted(imported & HEAVY)


def test_a_missing_data_directory_is_reported_before_prefect_is_imported(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = write_config({"data": {"source": {"path": str(tmp_path / "no-such-data")}}})

    run, imported = _imported_modules(
        str(ROOT / "flows" / "monitor.py"), "--config", str(config), cwd=tmp_path
    )

    assert run.returncode == 2
    assert [line for line in run.stderr.splitlines() if not line.startswith("import time:")] == [
        f"error: data directory not found: {tmp_path / 'no-such-data'} (set data.source.path in the config)"
    ]
    assert "prefect" not in imported
