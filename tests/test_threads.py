"""The suite's processes run one OpenMP thread each unless told otherwise (tests/__init__.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime in this worker)

from tests.worker_probe import openmp_threads

# openmp_threads in a new process that imports nothing of tests/ (which would set the threads).
CHILD = """
import json, sklearn.ensemble, threadpoolctl
pools = threadpoolctl.threadpool_info()
print(json.dumps([pool["num_threads"] for pool in pools if pool["user_api"] == "openmp"]))
"""


def test_this_worker_and_a_process_it_starts_run_the_threads_the_suite_set(tmp_path) -> None:
    expected = int(os.environ["OMP_NUM_THREADS"])  # 1, unless whoever ran pytest set it
    assert openmp_threads() == [expected]
    # The child imports nothing of tests/: it has the setting from this worker's environment.
    child = subprocess.check_output([sys.executable, "-c", CHILD], cwd=tmp_path, text=True)
    assert json.loads(child) == [expected]
