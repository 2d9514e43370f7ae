"""The throwaway PostgreSQL cluster of the tests (tests/postgres.py): gone after a failure, and
a missing PostgreSQL skips outside CI but fails in CI."""

from __future__ import annotations

import socket

import pytest

from tests import postgres as postgres_module
from tests.postgres import require_postgres, throwaway_postgres


class BodyFailed(Exception):
    pass


@pytest.mark.slow
def test_a_failing_body_still_stops_and_removes_the_cluster() -> None:
    bindir = require_postgres()

    with pytest.raises(BodyFailed), throwaway_postgres(bindir) as cluster:
        assert cluster.psql("postgres", "SELECT 1").strip() == "1"
        raise BodyFailed

    assert not cluster.directory.exists()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection((cluster.host, cluster.port), timeout=5),
    ):
        pass


def test_missing_postgresql_skips_and_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(postgres_module, "find_bindir", lambda: None)
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception, match=r"apt-get install -y postgresql"):
        require_postgres()


def test_missing_postgresql_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_module, "find_bindir", lambda: None)
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match=r"initdb and pg_ctl are not installed"):
        require_postgres()
