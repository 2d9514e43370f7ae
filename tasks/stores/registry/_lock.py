"""The lock that serialises one model's writers: its alias changes above all.

The alias journal (_journal.py) takes it around every read-check-write of the aliases and the
history (set_alias, rollback, the roll-forward of an interrupted change, verify), and a backend
around what it must allocate one writer at a time (the local registry's next version id). Any
lock that excludes the other writers of the same model will do: the registry takes one in its
constructor (`open_registry(..., lock=...)`), and both backends default to FileAliasLock, which
excludes the writers of this machine. With an MLflow registry and the history in PostgreSQL
(history.url), open_registry takes AdvisoryAliasLock instead: a PostgreSQL advisory lock that
excludes the writers of every machine using that database.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from tasks.errors import RegistryError
from tasks.secrets import SecretValue
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


def advisory_lock_key(model_name: str) -> int:
    """The model's advisory lock key: a signed 64-bit number from SHA-256 of its name, the
    same on every machine and Python (unlike hash(), salted per process)."""
    digest = hashlib.sha256(f"autoretrain.alias-lock:{model_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryAliasLock:
    """A PostgreSQL session advisory lock (pg_advisory_lock) on the model's key, held on a
    connection of its own for the duration of hold(): excludes the writers of every machine
    that reach the same database, and is released by the server when its holder's connection
    ends (a killed process included)."""

    def __init__(self, url: SecretValue, model_name: str, where: str = "history.url") -> None:
        self.url = url
        self.model_name = model_name
        self.key = advisory_lock_key(model_name)
        self.where = where  # the database as messages show it
        self._engine: Any = None

    def __repr__(self) -> str:
        return f"AdvisoryAliasLock({self.where!r}, {self.model_name!r}, key={self.key})"

    def _connect(self) -> Any:
        import sqlalchemy as sa

        if self._engine is None:
            # No pool: each hold() is a connection of its own, closed (and so released) after.
            self._engine = sa.create_engine(self.url.reveal(), poolclass=sa.pool.NullPool)
        return self._engine.connect()

    @contextlib.contextmanager
    def _held(self) -> Iterator[None]:
        import sqlalchemy as sa

        try:
            connection = self._connect()
            connection.execute(sa.select(sa.func.pg_advisory_lock(self.key)))
            connection.commit()  # a session lock: no transaction stays open while it is held
        except sa.exc.SQLAlchemyError as error:
            raise RegistryError(
                f"cannot take the alias lock of {self.model_name} at {self.where}: "
                f"{self.url.redact(str(error))} (check history.url: the database is up and "
                "reachable)"
            ) from None
        try:
            yield
        finally:
            try:
                connection.execute(sa.select(sa.func.pg_advisory_unlock(self.key)))
                connection.commit()
            except sa.exc.SQLAlchemyError:
                pass  # the connection is gone, and the server released the lock with it
            finally:
                connection.close()

    def hold(self) -> contextlib.AbstractContextManager[None]:
        return self._held()
