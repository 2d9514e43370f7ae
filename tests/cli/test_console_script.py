"""The `autoretrain` command: every script of the project by name, with its own options."""

from __future__ import annotations

import os
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


@pytest.mark.slow  # starts processes
def test_a_reader_that_goes_away_is_not_a_traceback(tmp_path: Path) -> None:
    # `autoretrain registry list | head -1`: the command's next print meets a closed pipe.
    (tmp_path / "chatty_command.py").write_text(
        "def main(argv):\n    for n in range(100_000):\n        print('line', n)\n    return 0\n"
    )
    program = (
        "import sys, flows.cli as cli; "
        "cli.COMMANDS['chatty'] = ('chatty_command', 'prints a lot'); "
        "sys.exit(cli.main(['chatty']))"
    )
    shell = f'"{sys.executable}" -c "{program}" | head -1; echo "exit ${{PIPESTATUS[0]}}" >&2'
    done = subprocess.run(
        ["bash", "-c", shell],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.stdout == "line 0\n"
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr
    assert done.stderr.strip().endswith("exit 141")
