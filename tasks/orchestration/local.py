"""Prefect for a run started from a terminal: its settings, and its failures in one line."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import httpx
from prefect.settings import (
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    get_current_settings,
    temporary_settings,
)

from tasks.orchestration.retries import client_retry_defaults

# Prefect waits 20 s for its temporary server; on a busy two-core machine it took ~40 s.
EPHEMERAL_STARTUP_TIMEOUT_SECONDS = 180

_EPHEMERAL_TIMEOUT = "Timed out while attempting to connect to ephemeral Prefect API server"
_EXIT_CODE = re.compile(r"exited with code (-?\d+)")


@contextlib.contextmanager
def local_run_settings() -> Iterator[None]:
    """Give the temporary Prefect server a generous startup timeout and the client the project's
    retry budget (`tasks.orchestration.retries`), unless the user set them.

    Prefect reads its settings when it is imported, before a script's main() runs, so setting
    the environment variable then would not count: the settings context is updated instead.
    A value from the environment, a profile or prefect.toml is kept.
    """
    defaults = {
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        **client_retry_defaults(),
    }
    with temporary_settings(set_defaults=defaults):
        yield


def describe_prefect_failure(error: BaseException) -> str | None:
    """One line on why Prefect could not run the flow and what to do; None for other errors."""
    api_url = get_current_settings().api.url
    for cause in _chain(error):
        if isinstance(cause, RuntimeError) and _EPHEMERAL_TIMEOUT in str(cause):
            waited = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
            exited = _EXIT_CODE.search(str(cause))
            detail = f" (its process exited with code {exited.group(1)})" if exited else ""
            return (
                f"the temporary Prefect server did not start within {waited} s{detail}; the "
                "machine may be busy: raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS "
                "and try again, or start a server (prefect server start) and set PREFECT_API_URL"
            )
        unreachable = isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout) or (
            isinstance(cause, RuntimeError) and str(cause).startswith("Failed to reach API at")
        )
        if unreachable and api_url:
            shown = re.sub(r"//[^/@]*@", "//", api_url)  # no credentials in the message
            return (
                f"cannot reach the Prefect API at {shown} (PREFECT_API_URL): start that server "
                "(prefect server start), or unset PREFECT_API_URL to run with a temporary local one"
            )
        if unreachable:
            return (
                "lost the connection to the temporary Prefect server; run again, or start a "
                "server (prefect server start) and set PREFECT_API_URL"
            )
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and the errors it was raised from or during, each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
