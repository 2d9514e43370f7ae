"""A throwaway PostgreSQL cluster for the tests: a temporary directory, a loopback port, trust.

`initdb` and `pg_ctl` come from PATH or Debian's /usr/lib/postgresql/<version>/bin (package
`postgresql`). `initdb` refuses to run as root, so as root the cluster belongs to the `postgres`
user. Without the binaries the tests skip and say so; in CI (CI set) they fail instead, since
.ci/run installs PostgreSQL and a silently skipped database test proves nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.processes import free_port

SUPERUSER = "postgres"  # the cluster's superuser (initdb -U), whoever owns the files
INSTALL_HINT = "apt-get install -y postgresql (.ci/run installs it)"


@dataclass(frozen=True)
class Postgres:
    """A running cluster: reached on 127.0.0.1:port as SUPERUSER, no password (trust)."""

    port: int
    bindir: Path
    directory: Path  # data/, the server log and the socket directory

    host: str = "127.0.0.1"
    user: str = SUPERUSER

    def url(self, database: str, driver: str = "psycopg") -> str:
        """A SQLAlchemy URL of one database, e.g. postgresql+asyncpg://... for Prefect."""
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, prefix: str, time_zone: str | None = None) -> str:
        """Create a database named prefix and a unique suffix (its sessions in time_zone, else
        the cluster's); its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        if time_zone:
            self.psql("postgres", f"ALTER DATABASE \"{name}\" SET timezone TO '{time_zone}'")
        return name

    def psql(self, database: str, sql: str) -> str:
        """Run one SQL statement with psql; its rows, unaligned, one a line."""
        result = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
                "-X",  # no ~/.psqlrc
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql -c {sql!r} failed: {result.stderr.strip()}")
        return result.stdout


def find_bindir() -> Path | None:
    """The directory of initdb, pg_ctl and psql: PATH first, then Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        bindir = Path(on_path).resolve().parent
        if (bindir / "pg_ctl").exists():
            return bindir
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def require_postgres() -> Path:
    """The bindir; skip (or, in CI, fail) saying what to install when PostgreSQL is missing."""
    bindir = find_bindir()
    if bindir is None:
        message = f"PostgreSQL's initdb and pg_ctl are not installed: {INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return bindir


def _as_owner(owner: str | None) -> dict[str, Any]:
    return {"user": owner, "group": owner} if owner else {}


@contextlib.contextmanager
def throwaway_postgres(bindir: Path) -> Iterator[Postgres]:
    """initdb in a new temporary directory, start on a free loopback port; stop and delete the
    cluster afterwards, also when the body fails."""
    # Not under pytest's tmp directories: those are 0700 root's, which the postgres user
    # cannot enter.
    directory = Path(tempfile.mkdtemp(prefix="autoretrain-pg-"))
    owner = SUPERUSER if os.geteuid() == 0 else None  # initdb refuses root
    if owner:
        shutil.chown(directory, owner, owner)
    data = directory / "data"
    port = free_port()

    def run(*args: str) -> None:
        result = subprocess.run(
            [str(bindir / args[0]), *args[1:]],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **_as_owner(owner),
        )
        if result.returncode != 0:
            log = directory / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}{tail}")

    try:
        run("initdb", "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {port} -k {directory} -c fsync=off"
        log = str(directory / "server.log")
        run("pg_ctl", "-D", str(data), "-l", log, "-o", options, "-w", "start")
        yield Postgres(port=port, bindir=bindir, directory=directory)
    finally:
        # Also after a failed or timed-out start: whatever wrote postmaster.pid is stopped.
        if (data / "postmaster.pid").exists():
            # immediate: no shutdown checkpoint, the cluster is thrown away
            run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(directory, ignore_errors=True)
