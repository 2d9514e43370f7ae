"""autoretrain COMMAND [options]: every script of the project behind one command.

`autoretrain monitor --config config.yaml` runs what `python flows/monitor.py --config
config.yaml` runs, `autoretrain registry list` what `python -m tasks.cli.registry list` runs;
`autoretrain COMMAND --help` shows a command's options. The command is the console script of
pyproject.toml; it imports only the command it runs (a flow's module after its options and
checks: tasks/cli/scripts.py).
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable

from tasks.cli.scripts import SCRIPTS, launch
from tasks.exiting import skip_exit_collection

# command: (module whose main(argv) runs it, what it does)
COMMANDS: dict[str, tuple[str, str]] = {
    "monitor": ("flows.monitor", "measure the current window; retrain and promote if needed"),
    "retrain": ("flows.retrain", "train a challenger and register it"),
    "promote": (
        "flows.promote",
        "compare the challenger with the champion; promote on the verdict",
    ),
    "rollback": (
        "flows.rollback",
        "make the previous champion (or a named version) champion again",
    ),
    "backtest": (
        "flows.backtest",
        "replay the log window by window under each retraining strategy",
    ),
    "fleet": ("flows.fleet", "monitor every model of a fleet file"),
    "registry": (
        "tasks.cli.registry",
        "list versions, show the alias history, verify the registry, print a model card",
    ),
    "history": ("tasks.cli.history", "show the monitoring history as a table or a plot"),
    "alerts": ("tasks.cli.alerts", "create or update the alert automations"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items()]
    return "\n".join(
        [
            "usage: autoretrain COMMAND [options]   (autoretrain COMMAND --help: its options)",
            "",
            "commands:",
            *lines,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command argv names with the rest of argv; its exit code."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"autoretrain: unknown command '{command}'\n\n{usage()}", file=sys.stderr)
        return 2
    if command in SCRIPTS:  # a flow script: its options and checks before its imports
        run: Callable[[list[str]], int] = functools.partial(launch, command)
    else:
        run = importlib.import_module(COMMANDS[command][0]).main
    skip_exit_collection()  # a second of garbage collection at the end otherwise
    program = sys.argv[0]
    sys.argv[0] = f"autoretrain {command}"  # what argparse shows in the command's usage line
    try:
        return run(rest)
    except BrokenPipeError:
        # The reader went away (`autoretrain registry list | head`): not an error of ours.
        # Python's recipe: point stdout at /dev/null so that the exit flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command a pipe cut short
    finally:
        sys.argv[0] = program


if __name__ == "__main__":
    sys.exit(main())
