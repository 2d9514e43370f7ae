"""File helpers of the registry: digests, fsync, atomic JSON, append-only lines, file locks."""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.errors import RegistryError
from tasks.stores.files import write_bytes_atomic
from tasks.stores.registry._types import HistoryEntry

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_parquet_file(path: Path) -> pd.DataFrame:
    """A Parquet file of the registry as a frame, opened by Arrow's own file reader.

    pandas.read_parquet opens a local path as a Python file object, and Arrow's reader drops its
    last reference to that object on one of Arrow's threads, which must take the GIL to do so.
    At the end of a short command (`autoretrain registry verify`) that can happen while the
    interpreter finalizes, and the process aborts after its work is done ("terminate called
    without an active exception", apache/arrow#34314): 4 runs in 268 on 2 busy cores. Given a
    pyarrow file system, pandas hands Arrow the path, and Arrow's threads hold nothing of Python.
    """
    import pandas as pd
    from pyarrow.fs import LocalFileSystem

    return pd.read_parquet(str(path.absolute()), filesystem=LocalFileSystem())


def fsync_path(path: Path) -> None:
    """Flush a file or directory to disk, so a rename that follows never points at nothing."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace path with text (UTF-8) in one step, flushed to disk: write_bytes_atomic."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace path with data as indented JSON (keys sorted), in one step like write_text_atomic."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True))


def actor_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


@contextlib.contextmanager
def lock_file(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def drop_partial_line(path: Path) -> None:
    """Cut a last line without its newline: its write never finished, so it never committed."""
    if not path.is_file():
        return
    content = path.read_bytes()
    if content and not content.endswith(b"\n"):
        keep = content.rfind(b"\n") + 1
        logger.warning("dropping a half-written last line of %s", path)
        with path.open("r+b") as out:
            out.truncate(keep)
            out.flush()
            os.fsync(out.fileno())


def append_line(path: Path, entry: HistoryEntry) -> None:
    with path.open("a") as out:
        out.write(json.dumps(asdict(entry)) + "\n")
        out.flush()
        os.fsync(out.fileno())


def read_calibration(path: Path, version: str) -> dict[str, Any]:
    """A version's calibration file as a JSON object; RegistryError if it is not one."""
    try:
        data = json.loads(path.read_text())
    except ValueError as error:
        raise RegistryError(f"calibration of {version} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise RegistryError(f"calibration of {version} is not a JSON object")
    return data
