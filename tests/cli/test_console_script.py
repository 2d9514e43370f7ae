"""The `autoretrain` command: every script of the project by name, with its own options."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from flows.cli import COMMANDS, main
from tests.helpers import ROOT

INSTALLED = Path(sys.executable).parent / "autoretrain"


def test_the_command_lists_every_command_and_refuses_an_unknown_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    assert main([]) == 2
    assert capsys.readouterr().out == listed
    assert main(["retrian"]) == 2
    error = capsys.readouterr().err

    for command in (
        "monitor",
        "retrain",
        "promote",
        "rollback",
        "backtest",
        "fleet",
        "registry",
        "history",
        "alerts",
    ):
        assert f"\n  {command} " in listed
    assert "autoretrain: unknown command 'retrian'" in error
    assert "commands:" in error


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_is_its_script_under_its_own_name(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: autoretrain {command} ")
    assert sys.argv[0] != f"autoretrain {command}"  # put back afterwards


@pytest.mark.slow  # starts processes
def test_the_installed_command_runs_what_the_module_runs(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = write_config({"registry": {"path": str(tmp_path / "no-registry-here")}})

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, "list", "--config", str(config)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    by_command = run(str(INSTALLED), "registry")
    by_module = run(sys.executable, "-m", "tasks.cli.registry")

    assert by_command.returncode == by_module.returncode == 2
    assert by_command.stderr == by_module.stderr
    assert f"no registry at {tmp_path / 'no-registry-here'}" in by_command.stderr
