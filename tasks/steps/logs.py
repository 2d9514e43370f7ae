"""One logger for the steps: the Prefect run's logger inside a run, the module's logger outside.

The steps are plain functions, called by the thin Prefect tasks of `tasks.orchestration.tasks`
and directly by the backtest and the tests; their lines belong in the run's log in the first
case and in ordinary logging in the others.
"""

from __future__ import annotations

import logging
from typing import Any


def step_logger(name: str) -> logging.Logger | logging.LoggerAdapter[Any]:
    """The current Prefect run's logger, or logging.getLogger(name) when no run is active."""
    from prefect.context import FlowRunContext, TaskRunContext
    from prefect.logging import get_run_logger

    if TaskRunContext.get() is None and FlowRunContext.get() is None:
        return logging.getLogger(name)
    return get_run_logger()
