"""How numpy asks the kernel for memory in the monitor's process.

numpy asks for transparent huge pages (`madvise(MADV_HUGEPAGE)`) on every array of 4 MiB or
more. On a machine whose THP `defrag` setting is `madvise` (this project's VMs:
`/sys/kernel/mm/transparent_hugepage/defrag`), each first touch of such memory may stall in the
kernel's memory compaction: a 1M-row window's monitoring spent 2.1-2.5 s of system CPU with it
and 1.1-1.4 s without, the user time unchanged (benchmarks/million_rows.py, docs/benchmarks.md).
The monitor turns it off when it starts measuring a window; setting `NUMPY_MADVISE_HUGEPAGE=1`
in the environment keeps numpy's default.
"""

from __future__ import annotations

import importlib
import os

_ENVIRONMENT = "NUMPY_MADVISE_HUGEPAGE"


def avoid_huge_pages() -> bool:
    """Stop numpy from asking for transparent huge pages in this process, unless
    NUMPY_MADVISE_HUGEPAGE is set (numpy then does as it says); whether they are now off."""
    if os.environ.get(_ENVIRONMENT) is not None:
        return os.environ[_ENVIRONMENT] == "0"
    multiarray = importlib.import_module("numpy._core.multiarray")
    setter = getattr(multiarray, "_set_madvise_hugepage", None)
    if setter is None:  # another numpy: leave it as it is
        return False
    setter(False)
    return True
