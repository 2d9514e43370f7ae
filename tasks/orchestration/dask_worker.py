"""Preloaded by each worker of a fleet's local Dask cluster (forkserver.py, WORKER_PRELOAD),
after the imports every model needs.

Imported, the process ends without the last garbage collection over them (tasks/exiting.py), so
the fleet's end does not wait for it: a spawned worker imports it as it starts, the fork server
before its first fork (its forked workers inherit that, and the server itself ends at once, not a
second after the fleet's output, which a caller reading that output would wait for). Its setup
has Prefect read its settings from the worker's environment again: a forked worker imported
Prefect in the server, with the server's environment.
"""

from __future__ import annotations

from typing import Any

from tasks.exiting import skip_exit_collection

# Imported by a spawned worker as it starts, and by the fork server before its first fork
# (forkserver.py): a forked worker and the server itself inherit this.
skip_exit_collection()


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, called once as the worker starts."""
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()
