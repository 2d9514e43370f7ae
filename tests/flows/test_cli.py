"""The README's first command as a user runs it: a script, from another directory, cold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, register_demo_champions
from tests.outputs import output_differences, prefect_from, snippet

pytestmark = pytest.mark.e2e


def _run(
    script: str, *args: str, cwd: Path, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    environment["PREFECT_HOME"] = str(
        home
    )  # a fresh Prefect home: a cold start, like a new machine
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, str(ROOT / "flows" / script), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_monitor_script_runs_the_loop_then_finds_nothing_new_to_promote(write_config, tmp_path):
    config_path = write_config({"registry": {"path": "registry"}, "reports": {"path": "reports"}})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    first = _run("monitor.py", "--config", str(config_path), cwd=elsewhere, home=tmp_path / "home")

    assert first.returncode == 0, first.stderr[-3000:]
    # What README.md and docs/index.md show (docs/snippets/demo-first-run.txt), number for
    # number up to the last printed digit; paths, ids and the latency guard's timings masked.
    assert output_differences(snippet("demo-first-run.txt"), first.stdout) == []
    assert "No champion was registered: bootstrapped one." in first.stdout
    assert "window      [2014-01-01 00:00, 2014-04-01 00:00) (90 rows" in first.stdout
    assert "decision    RETRAIN" in first.stdout
    assert "status      promoted; champion v0001 -> v0002" in first.stdout
    assert (tmp_path / "reports" / "seattle-weather").is_dir()

    # Same window again: every column drifted against the new champion's reference (its
    # training rows), but it scores its own holdout's f1 here, so with when-harmful (the
    # default) the drift does not hurt it and nothing is retrained.
    second = _run("monitor.py", "--config", str(config_path), cwd=elsewhere, home=tmp_path / "home")

    assert second.returncode == 0, second.stderr[-3000:]
    assert "No champion was registered" not in second.stdout
    assert "decision    NONE" in second.stdout
    assert "retrain_on_drift when-harmful: not harmful: realised f1 (macro)" in second.stdout
    assert "champion v0002 -> v0002" in second.stdout
    for line in snippet("demo-second-run.txt").splitlines():  # what the docs say it prints
        assert line in second.stdout.splitlines()


def test_rollback_script_restores_the_previous_champion(write_config, tmp_path):
    config_path = write_config({"registry": {"path": "registry"}, "reports": {"path": "reports"}})
    home = tmp_path / "home"
    # Where a promotion leaves the registry: v0001 was champion, v0002 is (the first test runs
    # the monitor that gets there; here it is the rollback script's turn, cold).
    register_demo_champions(tmp_path / "registry", 2)

    without_reason = _run("rollback.py", "--config", str(config_path), cwd=tmp_path, home=home)
    rollback = _run(
        "rollback.py",
        "--config",
        str(config_path),
        "--reason",
        "bad forecasts",
        "--actor",
        "on-call",
        cwd=tmp_path,
        home=home,
    )

    assert without_reason.returncode == 2
    assert "--reason" in without_reason.stderr  # who and why are recorded: why is required
    assert rollback.returncode == 0, rollback.stderr[-3000:]
    assert (
        "champion of seattle-weather: v0002 -> v0001 (rollback by on-call: bad forecasts)"
        in rollback.stdout
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"policy": {"drift_treshold": 0.4}}, "policy.drift_treshold: unknown key"),
        (
            {"policy": {"performance_threshold": 1.5}},
            "policy.performance_threshold: Input should be less than or equal to 1",
        ),
        (
            {"data": {"target_column": "temp_max"}},
            "cannot be both a feature and the timestamp, target or prediction column",
        ),
        (
            {
                "data": {
                    "source": {
                        "kind": "sql",
                        "url": "${AUTORETRAIN_UNSET_URL}",
                        "table": "log",
                        "path": None,
                        "format": None,
                    }
                }
            },
            "data.source.url: environment variable AUTORETRAIN_UNSET_URL is not set",
        ),
        (
            {"model": {"params": {"n_estimators": "many"}}},
            "model.params.n_estimators: must be an int in the range [1, inf)",
        ),
    ],
)
def test_bad_config_fails_fast_with_the_key_and_touches_nothing(
    write_config, tmp_path, overrides, expected
):
    config_path = write_config({**overrides, "registry": {"path": "registry"}})

    run = _run("monitor.py", "--config", str(config_path), cwd=tmp_path, home=tmp_path / "home")

    assert run.returncode == 2
    assert expected in run.stderr
    assert not (tmp_path / "registry").exists()
    # Failed before any Prefect server started: the temporary server would create its database.
    assert not (tmp_path / "home" / "prefect.db").exists()


@pytest.mark.parametrize(
    ("rewrite", "expected"),
    [
        (lambda text: text.encode("utf-16"), "not UTF-8 text (it looks like UTF-16)"),
        (
            lambda text: (text + "name: another-model\n").encode(),
            "key 'name' is written twice (lines 1 and ",
        ),
    ],
    ids=["utf-16", "duplicate-key"],
)
def test_unreadable_config_text_fails_fast_with_exit_2(write_config, tmp_path, rewrite, expected):
    config_path = write_config({"registry": {"path": "registry"}})
    config_path.write_bytes(rewrite(config_path.read_text(encoding="utf-8")))

    run = _run("monitor.py", "--config", str(config_path), cwd=tmp_path, home=tmp_path / "home")

    assert run.returncode == 2
    assert run.stderr.startswith("error: ")
    assert expected in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "registry").exists()
    assert not (tmp_path / "home" / "prefect.db").exists()


def test_temporary_server_that_does_not_start_in_time_is_one_line_and_exit_2(
    write_config, tmp_path, monkeypatch
):
    # 0 s stands for a machine too busy to start the server within the (user's) timeout.
    config_path = write_config({"registry": {"path": "registry"}})
    too_short = {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "0"}

    run = _run(
        "monitor.py",
        "--config",
        str(config_path),
        cwd=tmp_path,
        home=tmp_path / "home",
        env=too_short,
    )

    assert run.returncode == 2, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: the temporary Prefect server did not start within 0 s; the machine may be busy: "
        "raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS and try again, or start a server "
        f"({prefect_from(tmp_path, monkeypatch)} server start) and set PREFECT_API_URL"
    ]
    assert not (tmp_path / "registry").exists()
