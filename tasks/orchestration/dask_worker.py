"""Preloaded by each worker of a fleet's local Dask cluster (forkserver.py, WORKER_PRELOAD),
after the imports every model needs.

Imported, the process ends without the last garbage collection over them (tasks/exiting.py), so
the fleet's end does not wait for it: a spawned worker imports it as it starts, the fork server
before its first fork (its forked workers inherit that, and the server itself ends at once, not a
second after the fleet's output, which a caller reading that output would wait for). Its setup
has Prefect read its settings from the worker's environment again: a forked worker imported
Prefect in the server, with the server's environment. It also quiets Prefect's warning, once per
model, that the model's timeout cannot interrupt a worker thread: the fleet knows (its deadline
waits TIMEOUT_GRACE_SECONDS more for a model stuck in a C call, then makes it an error row).
"""

from __future__ import annotations

import logging
from typing import Any

from tasks.exiting import skip_exit_collection

# Imported by a spawned worker as it starts, and by the fork server before its first fork
# (forkserver.py): a forked worker and the server itself inherit this.
skip_exit_collection()


# The start of the format string of Prefect's warning (prefect/task_engine.py, run_context), logged
# for every task with a timeout that runs outside the main thread: every model of a Dask fleet.
THREAD_TIMEOUT_WARNING = "Timeout of %s seconds configured for this task, but the task is running"


class WithoutThreadTimeoutWarning(logging.Filter):
    """Drops THREAD_TIMEOUT_WARNING (from the terminal and the run's logs in the UI alike: a
    filter of the logger, not of a handler); passes every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(THREAD_TIMEOUT_WARNING))


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, called once as the worker starts."""
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()
    quiet_thread_timeout_warning()


def quiet_thread_timeout_warning() -> None:
    """Filters THREAD_TIMEOUT_WARNING out of Prefect's task run logger, once."""
    task_runs = logging.getLogger("prefect.task_runs")
    if not any(isinstance(f, WithoutThreadTimeoutWarning) for f in task_runs.filters):
        task_runs.addFilter(WithoutThreadTimeoutWarning())
