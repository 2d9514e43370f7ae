"""What the flow scripts share when run from a terminal: running the flow call (their options
and the checks before it are tasks/cli/scripts.py's)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from tasks.cli.scripts import report_error
from tasks.errors import AutoretrainError
from tasks.orchestration.local import (
    console_without_user_tracebacks,
    describe_prefect_failure,
    local_run_settings,
)


def prepare_environment() -> None:
    """Quiet defaults for a local run: no telemetry from the temporary Prefect server (offline)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def run_flow_call(
    call: Callable[[], Any],
    render: Callable[[Any], str],
    *,
    debug: bool = False,
    exit_code: Callable[[Any], int] = lambda result: 0,
) -> int:
    """Run a flow call; print its rendered result; the exit code.

    An AutoretrainError from the call is one `error: ...` line on the console and exit 2
    (Prefect's tracebacks stay in the run's log; --debug shows them). A Prefect server that
    cannot be reached or started is reported in one line, exit 2. After the call: its rendered
    result and exit_code(result).
    """
    prepare_environment()
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
