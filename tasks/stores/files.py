"""Writing a file in one step, for every store: a reader sees the old file or the new, never half."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace path with data through a temporary file beside it and a rename; a failure leaves
    path as it was and no temporary file. durable: flushed to disk before the rename, so a crash
    of the machine also leaves one of the two (the registry's records); a file that is drawn again
    (an HTML report) can skip that wait."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
