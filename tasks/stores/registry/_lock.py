"""The lock that serialises one model's writers: its alias changes above all.

The alias journal (_journal.py) takes it around every read-check-write of the aliases and the
history (set_alias, rollback, the roll-forward of an interrupted change, verify), and a backend
around what it must allocate one writer at a time (the local registry's next version id). Any
lock that excludes the other writers of the same model will do: the registry takes one in its
constructor (`open_registry(..., lock=...)`), and both backends default to FileAliasLock, which
excludes the writers of this machine.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Protocol

from tasks.stores.registry._files import lock_file


class AliasLock(Protocol):
    """Excludes the other writers of one model while held; not re-entrant (never taken twice by
    one writer). Each hold() is a fresh context manager, so threads may share the object."""

    def hold(self) -> contextlib.AbstractContextManager[None]: ...


class FileAliasLock:
    """An exclusive flock(2) on a file: excludes the processes and threads of this machine that
    lock the same file, and is released by the kernel when its holder dies."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def hold(self) -> contextlib.AbstractContextManager[None]:
        return lock_file(self.path)

    def __repr__(self) -> str:
        return f"FileAliasLock({str(self.path)!r})"
