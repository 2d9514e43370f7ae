"""One TLS context a process for every Prefect client.

Prefect's client builds a TLS context for each client it opens, `ssl.create_default_context`
reading the CA bundle (certifi's, or PREFECT_API_SSL_CERT_FILE): ~16 ms of CPU each time, for an
http:// API too. Its engines open a client for the task runs they create, the concurrency slots
they release, each flow run's context, the runtime's lookups: 17 a fleet's model that bootstraps
and retrains (py-spy of benchmarks/fleet_breakdown.py: 9% of the model's busy samples). The
client takes a context passed in as `httpx_settings["verify"]` and then builds none
(prefect/client/orchestration/__init__.py). `install` passes the process's one context, built as
Prefect would build it from the settings in force when the client opens, to every client that was
not given a `verify` of its own.

A context is built once per (certificate file, skip-verify) pair: a CA file rewritten while a
process runs is read again by a new process, not by this one.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import certifi
from prefect.client.orchestration import PrefectClient, SyncPrefectClient
from prefect.settings import get_current_settings

_SHARED = "_autoretrain_shared_tls"  # marks an __init__ already wrapped


def api_tls_context() -> ssl.SSLContext:
    """The TLS context a Prefect client verifies the API with: the one Prefect's client builds
    (PREFECT_API_SSL_CERT_FILE, else certifi's bundle; none verified with
    PREFECT_API_TLS_INSECURE_SKIP_VERIFY), built once a process."""
    api = get_current_settings().api
    return _tls_context(api.ssl_cert_file, api.tls_insecure_skip_verify)


@functools.cache
def _tls_context(cert_file: str | None, skip_verify: bool) -> ssl.SSLContext:
    if skip_verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=cert_file or certifi.where())


def _sharing(init: Any) -> Any:
    @functools.wraps(init)
    def shared(
        self: Any, api: Any, *, httpx_settings: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        settings = dict(httpx_settings or {})
        if "verify" not in settings:
            settings["verify"] = api_tls_context()
        init(self, api, httpx_settings=settings, **kwargs)

    setattr(shared, _SHARED, True)
    return shared


def install() -> None:
    """Make Prefect's clients (async and sync) share the process's TLS context; idempotent."""
    for client in (PrefectClient, SyncPrefectClient):
        if not getattr(client.__init__, _SHARED, False):
            client.__init__ = _sharing(client.__init__)  # type: ignore[method-assign]
