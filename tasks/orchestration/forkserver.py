"""Where a fleet's local Dask workers come from: forked from one process that has imported what
every model needs, instead of each worker starting a fresh Python and importing it again.

Dask starts its worker processes with multiprocessing's `spawn` by default: each worker is a
new interpreter that imports Prefect, scikit-learn, pandas and Evidently (4.4 s in one quiet
process), two or more of them at once on the same cores, while the fleet's own process is still
importing the same modules. With `forkserver`, one server process imports them once and every
worker is a fork of it (copy-on-write: its pages are shared until written). The command line
starts that server before it imports the flow (tasks/cli/scripts.py), so the server's imports run
on the other core while the fleet's process imports and creates its flow run; a run that does
not start from the command line (a deployment's) starts it as it creates the cluster.

A worker forked from the server has the server's environment and the Prefect settings read
from it at import. The cluster hands each worker what changed in the fleet process's
environment since it started the server (`worker_environment`: a variable set since reaches the
models too), and the worker's setup (dask_worker.py) has Prefect read its settings again:
PREFECT_API_URL and the client's retries are this run's in the worker itself, as they are in
each model's task run (Prefect hands a task the settings of the run that submitted it).

Where the platform has no forkserver (Windows), the workers are spawned as before.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tasks.config import FleetConfig

# What every model needs, imported by each worker as it starts (Dask's preload): the flows with
# Prefect and scikit-learn (~2 s), Evidently (~2.5 s, ~280 MB), then the worker's setup.
WORKER_PRELOAD = ("flows.monitor", "evidently", "tasks.orchestration.dask_worker")
# Imported by the server once, before its first fork, in the order a spawned worker imports
# them: Prefect (with its logging) before Dask's worker.
WORKER_IMPORTS = ("flows.monitor", "distributed", *WORKER_PRELOAD[1:])
METHOD_KEY = "distributed.worker.multiprocessing-method"
# The server's own thread settings: one thread a worker (the cluster's threads_per_worker), as
# Dask's nanny sets them for a spawned worker before its imports (its default
# distributed.nanny.pre-spawn-environ). A forked worker's numerical libraries were loaded in the
# server and read the server's environment then, not the worker's: without these, each forked
# worker's OpenMP ran a thread per core (2 workers x 2 threads on 2 cores, the idle ones spinning).
SERVER_THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

# This process's environment when it first started the server (None: never started here); a
# server multiprocessing restarts later starts with a newer one, which differs from it in fewer
# variables.
_started_with: dict[str, str] | None = None


def start_method() -> str:
    """How the workers start: forked from the server where the platform can, else spawned."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def start_forkserver() -> bool:
    """Start the server the workers are forked from, now, importing WORKER_IMPORTS; True when
    it runs. A second call finds it running and does nothing; it ends with this process.

    Neither Dask nor Evidently is imported here: the command line calls it before Prefect
    sets up its logging, and `distributed` imported before that would keep its own.
    """
    global _started_with
    if start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    if _started_with is None:
        _started_with = dict(os.environ)
    # Dask sets a list of its own on its first forkserver context: the server runs by then,
    # with this one.
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(WORKER_IMPORTS))
    with _environment(SERVER_THREADS):  # the server's, not this process's
        forkserver.ensure_running()
    return True


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """os.environ with values while the block runs (a process started then inherits them)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def start_for_fleet(settings: FleetConfig) -> bool:
    """start_forkserver for a fleet whose run starts a local Dask cluster (runner dask, no
    dask_address); True when the server runs."""
    if settings.runner != "dask" or settings.dask_address:
        return False
    return start_forkserver()


def stop_forkserver() -> None:
    """End the server at once, as a fleet that cannot run ends: it would otherwise end only
    after its imports, holding this process's output open for seconds (a caller reading it,
    a pipe or a test, waits for that). Nothing to do without one."""
    from multiprocessing import forkserver

    # multiprocessing has no public stop: its own tests use ForkServer._stop, which waits for
    # the server to notice; killed first, it has nothing left to finish.
    server = forkserver._forkserver
    pid = getattr(server, "_forkserver_pid", None)
    stop = getattr(server, "_stop", None)
    if pid is None or stop is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    stop()


def worker_environment(overrides: dict[str, str]) -> dict[str, str]:
    """What a worker's environment needs on top of the one it starts with: the overrides, and,
    for a worker forked from the server, the variables this process set or changed since it
    started the server (a spawned worker inherits this process's environment as it is).

    Only the differences: the workers' environment is otherwise the server's, which is this
    process's, so no more of it (a credential, say) travels through Dask's worker options.
    """
    started_with = _started_with
    if started_with is None:
        return dict(overrides)
    changed = {key: value for key, value in os.environ.items() if started_with.get(key) != value}
    return {**changed, **overrides}
