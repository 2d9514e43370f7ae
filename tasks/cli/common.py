"""What the flow scripts share when run from a terminal."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from tasks.config import Config, load_config
from tasks.errors import AutoretrainError
from tasks.orchestration.local import (
    console_without_user_tracebacks,
    describe_prefect_failure,
    local_run_settings,
)

DEFAULT_CONFIG = os.environ.get("AUTORETRAIN_CONFIG", "config.yaml")


def prepare_environment() -> None:
    """Quiet defaults for a local run: no telemetry from the temporary Prefect server (offline)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        help="path of config.yaml (default: %(default)s, or $AUTORETRAIN_CONFIG)",
    )
    add_debug_option(parser)
    return parser


def add_debug_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an error, show Prefect's tracebacks and the error's own (default: one line; "
        "the run's log on the Prefect server keeps the tracebacks either way)",
    )


def report_error(error: AutoretrainError, debug: bool = False) -> int:
    """Print a user-fixable error as one `error: ...` message (its traceback too under --debug);
    the exit code 2."""
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    print(f"error: {error}", file=sys.stderr)
    return 2


def run_cli(
    config_path: str,
    call: Callable[[], Any],
    render: Callable[[Any], str],
    *,
    check: Callable[[Config], None] | None = None,
    debug: bool = False,
) -> int:
    """Run a flow call; print its summary; turn a user-fixable error into a message and exit 2.

    Before any Prefect server starts, the config is validated and `check` (the stores the run
    needs: tasks/steps/preflight.py) runs on it, so a bad key, a missing data directory or
    column, or a version that does not exist fails in about a second. An error inside the run
    is one line on the console (Prefect's tracebacks stay in the run's log; --debug shows them).
    A Prefect server that cannot be reached or started is reported in one line, exit 2.
    """

    def preflight() -> None:
        config = load_config(config_path)
        if check is not None:
            check(config)

    return run_checked(preflight, call, render, debug=debug)


def run_checked(
    preflight: Callable[[], None],
    call: Callable[[], Any],
    render: Callable[[Any], str],
    *,
    debug: bool = False,
    exit_code: Callable[[Any], int] = lambda result: 0,
) -> int:
    """run_cli's work, with any preflight: it runs before Prefect starts; an AutoretrainError
    from it or from the call is one `error: ...` line and exit 2 (with tracebacks under debug);
    after the call, its rendered result and exit_code(result)."""
    prepare_environment()
    try:
        preflight()
    except AutoretrainError as error:
        return report_error(error, debug)
    # local_run_settings also while describing a failure: it names the timeout used
    with local_run_settings(), console_without_user_tracebacks(enabled=not debug):
        try:
            result = call()
        except AutoretrainError as error:
            return report_error(error, debug)
        except Exception as error:
            problem = describe_prefect_failure(error)
            if problem is None:
                raise  # a bug: keep its traceback
            print(f"error: {problem}", file=sys.stderr)
            return 2
    print(render(result))
    return exit_code(result)
