"""Preloaded by a fleet's Dask workers in a test (after tasks.orchestration.dask_worker): each
worker writes where it came from, the Prefect API its settings name and its OpenMP threads, as it
starts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENVIRONMENT = "AUTORETRAIN_TEST_WORKER_PROBE"  # the directory the workers write to


def openmp_threads() -> list[int]:
    """The threads of each OpenMP runtime loaded in this process, as threadpoolctl sees them."""
    import threadpoolctl

    pools = threadpoolctl.threadpool_info()
    return [pool["num_threads"] for pool in pools if pool["user_api"] == "openmp"]


def dask_setup(worker: Any) -> None:
    from prefect.settings import get_current_settings

    seen = {
        "pid": os.getpid(),
        "parent": os.getppid(),
        "api": get_current_settings().api.url,
        "openmp threads": openmp_threads(),
    }
    Path(os.environ[ENVIRONMENT], f"{os.getpid()}.json").write_text(json.dumps(seen))
