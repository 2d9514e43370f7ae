"""Prefect for a run started from a terminal: its settings, and its failures in one line."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

import httpx
from prefect.settings import (
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    get_current_settings,
    temporary_settings,
)

from tasks.errors import AutoretrainError
from tasks.orchestration.retries import client_retry_defaults, exception_chain
from tasks.steps.commands import installed_command

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


class _WithoutUserTracebacks(logging.Formatter):
    """A console formatter that shows a user error (an AutoretrainError) without its traceback;
    every other record exactly as the formatter it wraps shows it."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and is_user_error(error):
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return self.inner.format(record)


def is_user_error(error: BaseException) -> bool:
    """Whether error is, or was raised from, a problem the user can fix (AutoretrainError)."""
    return any(isinstance(cause, AutoretrainError) for cause in exception_chain(error))


@contextlib.contextmanager
def console_without_user_tracebacks(enabled: bool = True) -> Iterator[None]:
    """While inside, Prefect's console log shows a user error as its one-line message.

    Prefect logs a failed task or flow run with the exception's traceback, once per run it
    fails (a task, its subflow, the flow: three tracebacks for one missing column). The run's
    log on the API keeps them: only the console handlers of the root logger are changed, and
    only their formatting (a record is copied, never changed for the other handlers).
    """
    if not enabled:
        yield
        return
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.StreamHandler) or "Console" in type(handler).__name__
    ]
    saved = [handler.formatter for handler in handlers]
    for handler, formatter in zip(handlers, saved, strict=True):
        handler.setFormatter(_WithoutUserTracebacks(formatter or logging.Formatter()))
    try:
        yield
    finally:
        for handler, formatter in zip(handlers, saved, strict=True):
            handler.setFormatter(formatter)


def describe_prefect_failure(error: BaseException) -> str | None:
    """One line on why Prefect could not run the flow and what to do; None for other errors."""
    api_url = get_current_settings().api.url
    for cause in exception_chain(error):
        if isinstance(cause, RuntimeError) and _EPHEMERAL_TIMEOUT in str(cause):
            waited = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
            exited = _EXIT_CODE.search(str(cause))
            detail = f" (its process exited with code {exited.group(1)})" if exited else ""
            return (
                f"the temporary Prefect server did not start within {waited} s{detail}; the "
                "machine may be busy: raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS "
                f"and try again, or start a server ({_prefect()} server start) and set "
                "PREFECT_API_URL"
            )
        unreachable = isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout) or (
            isinstance(cause, RuntimeError) and str(cause).startswith("Failed to reach API at")
        )
        if unreachable and api_url:
            shown = re.sub(r"//[^/@]*@", "//", api_url)  # no credentials in the message
            return (
                f"cannot reach the Prefect API at {shown} (PREFECT_API_URL): start that server "
                f"({_prefect()} server start), or unset PREFECT_API_URL to run with a temporary "
                "local one"
            )
        if unreachable:
            return (
                "lost the connection to the temporary Prefect server; run again, or start a "
                f"server ({_prefect()} server start) and set PREFECT_API_URL"
            )
    return None


def _prefect() -> str:
    """The `prefect` command as it runs from here (.venv/bin/prefect when it is not on PATH)."""
    return installed_command("prefect")
