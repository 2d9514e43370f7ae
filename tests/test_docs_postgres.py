"""The PostgreSQL commands of docs/operations.md, run for real.

tests/test_docs.py checks every documented command with `--help`; for `su postgres -c '...'`
that proves little. Here the section's shell lines run as written, in another directory and on
a free port, and the cluster they make must answer and hold the documented databases.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.postgres import Postgres, require_postgres
from tests.processes import free_port
from tests.test_docs import extract_commands

pytestmark = pytest.mark.slow

OPERATIONS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
DOCUMENTED_DIRECTORY = "/var/tmp/autoretrain-pg"
DOCUMENTED_PORT = "5433"
DOCUMENTED_BINDIR = "/usr/lib/postgresql/15/bin"


def postgres_section() -> str:
    text = OPERATIONS.read_text()
    match = re.search(r"^## PostgreSQL\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert match, "docs/operations.md has no '## PostgreSQL' section"
    return match.group(1)


def system_commands() -> list[str]:
    """The section's shell lines that are not project commands (those test_docs checks)."""
    lines = [command.line for command in extract_commands(postgres_section())]
    return [line for line in lines if ".venv/bin/" not in line and not line.startswith("make ")]


def _as_reader(line: str, directory: str, port: str, bindir: str) -> str:
    line = line.replace(DOCUMENTED_DIRECTORY, directory).replace(DOCUMENTED_PORT, port)
    line = line.replace(DOCUMENTED_BINDIR, bindir)
    if os.geteuid() != 0:  # what the docs say a reader who is not root does
        match = re.fullmatch(r"su postgres -s /bin/bash -c (.*)", line)
        if match:
            line = shlex.split(match.group(1))[0]
        elif line.startswith("chown "):
            line = "true"
    return line


def test_the_section_documents_the_cluster_the_server_and_the_source() -> None:
    section = postgres_section()
    commands = system_commands()
    assert [line.split()[0] for line in commands] == ["mkdir", "chown"] + ["su"] * 7
    assert (
        "PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://postgres@127.0.0.1:5433/prefect"
        in section
    )
    assert "url: postgresql+psycopg://postgres@127.0.0.1:5433/warehouse" in section
    assert "--backend-store-uri postgresql+psycopg://postgres@127.0.0.1:5433/mlflow" in section
    assert "url: postgresql+psycopg://postgres@127.0.0.1:5433/history" in section


def test_the_documented_postgresql_commands_make_a_cluster_that_answers() -> None:
    bindir = require_postgres()
    directory = tempfile.mkdtemp(prefix="autoretrain-docs-pg-")
    os.rmdir(directory)  # the documented mkdir -p makes it
    port = str(free_port())
    *start, stop = [_as_reader(line, directory, port, str(bindir)) for line in system_commands()]
    assert "stop" in stop

    def run(line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            line, shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=120
        )

    try:
        for line in start:
            result = run(line)
            assert result.returncode == 0, f"{line}: {result.stdout}{result.stderr}"
        cluster = Postgres(port=int(port), bindir=bindir, directory=Path(directory))
        databases = cluster.psql("postgres", "SELECT datname FROM pg_database").split()
        assert {"prefect", "warehouse", "mlflow", "history"} <= set(databases)
        stopped = run(stop)
        assert stopped.returncode == 0, stopped.stderr
        assert not (Path(directory) / "data" / "postmaster.pid").exists()
    finally:
        if (Path(directory) / "data" / "postmaster.pid").exists():
            run(stop)
        shutil.rmtree(directory, ignore_errors=True)
