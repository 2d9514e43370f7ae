"""The test suite. Importing it (pytest imports this package before tests/conftest.py, in the main
process and in each xdist worker) sets one OpenMP thread a process, before anything loads
scikit-learn, whose OpenMP runtime reads OMP_NUM_THREADS once, when it loads; every process a test
starts inherits it.

Why: OpenMP (scikit-learn's histogram boosting and pairwise code) otherwise starts a thread per
core in every process, and an idle OpenMP thread spins. With 3 xdist workers and the processes
they start on 2 cores, that spinning took a fifth of the in-process tests' CPU (tests/core,
tests/steps and tests/adapters: 157 -> 127 CPU s and 96 -> 80 s; docs/benchmarks.md). A test (or
the user running pytest) may still set its own.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
