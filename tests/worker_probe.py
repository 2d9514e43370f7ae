"""Preloaded by a fleet's Dask workers in a test (after tasks.orchestration.dask_worker): each
worker writes where it came from and the Prefect API its settings name, as it starts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENVIRONMENT = "AUTORETRAIN_TEST_WORKER_PROBE"  # the directory the workers write to


def dask_setup(worker: Any) -> None:
    from prefect.settings import get_current_settings

    seen = {"pid": os.getpid(), "parent": os.getppid(), "api": get_current_settings().api.url}
    Path(os.environ[ENVIRONMENT], f"{os.getpid()}.json").write_text(json.dumps(seen))
