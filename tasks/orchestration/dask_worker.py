"""Preloaded by each worker of a fleet's local Dask cluster (tasks/orchestration/fleet.py,
WORKER_PRELOAD), after the imports every model needs: the worker process ends without the
last garbage collection over them (tasks/exiting.py), so the fleet's end does not wait for it.
"""

from __future__ import annotations

from typing import Any

from tasks.exiting import skip_exit_collection


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, called once as the worker starts."""
    skip_exit_collection()
