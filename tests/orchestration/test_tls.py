"""Prefect's clients share one TLS context a process (tasks/orchestration/tls.py), the one
Prefect's settings ask for. A run's clients against a real server: test_orchestration.py."""

from __future__ import annotations

import ssl

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import (
    PREFECT_API_SSL_CERT_FILE,
    PREFECT_API_TLS_INSECURE_SKIP_VERIFY,
    PREFECT_API_URL,
    temporary_settings,
)

import tasks.orchestration.runtime  # noqa: F401  (what every flow module imports: installs it)
from tasks.orchestration import tls
from tests.helpers import record_tls_contexts

API = {PREFECT_API_URL: "https://prefect.example.invalid/api"}  # no request is sent


def _context(client: object) -> ssl.SSLContext:
    """The TLS context the client's connection pool uses (httpx's transport, httpcore's pool)."""
    return client._client._transport._pool._ssl_context  # type: ignore[attr-defined]


def test_the_tls_context_is_the_one_prefects_settings_ask_for(tmp_path):
    verified = tls.api_tls_context()
    assert verified is tls.api_tls_context()  # built once
    assert verified.verify_mode == ssl.CERT_REQUIRED and verified.check_hostname
    with temporary_settings(updates={PREFECT_API_TLS_INSECURE_SKIP_VERIFY: True}):
        skipped = tls.api_tls_context()
    assert skipped.verify_mode == ssl.CERT_NONE and not skipped.check_hostname
    # A certificate file of the user's own is read (here one that is not there: the error).
    with (
        temporary_settings(updates={PREFECT_API_SSL_CERT_FILE: str(tmp_path / "ca.pem")}),
        pytest.raises(FileNotFoundError),
    ):
        tls.api_tls_context()


@pytest.mark.parametrize("sync_client", [False, True], ids=["async", "sync"])
def test_every_prefect_client_uses_the_settings_context_and_builds_none(monkeypatch, sync_client):
    with temporary_settings(updates=API):
        verified = tls.api_tls_context()
        with temporary_settings(updates={PREFECT_API_TLS_INSECURE_SKIP_VERIFY: True}):
            skipped = tls.api_tls_context()
        built = record_tls_contexts(monkeypatch)
        clients = [get_client(sync_client=sync_client) for _ in range(3)]
        with temporary_settings(updates={PREFECT_API_TLS_INSECURE_SKIP_VERIFY: True}):
            insecure = get_client(sync_client=sync_client)

    assert built == []
    assert all(_context(client) is verified for client in clients)
    assert _context(insecure) is skipped and skipped.verify_mode == ssl.CERT_NONE


def test_a_context_given_to_a_client_is_kept():
    own = ssl.create_default_context()
    with temporary_settings(updates=API):
        client = get_client(httpx_settings={"verify": own})
    assert _context(client) is own


def test_install_wraps_the_clients_once():
    from prefect.client.orchestration import PrefectClient, SyncPrefectClient

    wrapped = (PrefectClient.__init__, SyncPrefectClient.__init__)
    tls.install()
    assert (PrefectClient.__init__, SyncPrefectClient.__init__) == wrapped
    assert all(getattr(init, "_autoretrain_shared_tls", False) for init in wrapped)
