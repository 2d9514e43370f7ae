"""Prefect API calls through a busy or briefly unreachable server.

Prefect's HTTP client retries every request itself: responses 408, 429, 502 and 503 (and the
codes of PREFECT_CLIENT_RETRY_EXTRA_CODES), timeouts and dropped connections, up to
PREFECT_CLIENT_MAX_RETRIES times, waiting 2, 4, 8... s (PREFECT_CLIENT_RETRY_JITTER_FACTOR
spreads the waits). Its default of 5 retries (about a minute) was too few for the temporary
SQLite server under a fleet, so the project's runs use CLIENT_MAX_RETRIES: from a terminal
through `client_retry_defaults`, in the processes a run starts through `client_retry_environment`,
in deployment runs through prefect.yaml. That covers Prefect's own calls too (task and flow run
states, logs), which no project code can wrap.

What the client does not retry, `call_api` retries for the project's own calls, only where the
call is safe to repeat: a refused connection on a client that has not connected yet (the request
never left), and 504 from a gateway (the server may have done it: only repeatable calls). An
error the client already retried is not retried again; it becomes a `PrefectApiError` that says
how often and for how long.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import httpx
from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, get_current_settings
from prefect.settings.legacy import Setting

from tasks.errors import PrefectApiError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Retries of each Prefect API request in the project's runs (Prefect's default: 5). The client
# waits 2 + 4 + ... + 128 = 254 s between its 8 attempts, and once more (256 s) before it
# reports a response it gave up on.
CLIENT_MAX_RETRIES = 7

# Statuses Prefect's client retries by itself (prefect/client/base.py), before the extra codes.
CLIENT_RETRIED_STATUSES = frozenset({408, 429, 502, 503})
# Exceptions Prefect's client retries by itself; httpx.ConnectError only once it has connected.
CLIENT_RETRIED_ERRORS: tuple[type[Exception], ...] = (
    httpx.ReadTimeout,
    httpx.PoolTimeout,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.LocalProtocolError,
)
# The server did not do the request: safe to send again, even a create.
NOT_DONE_STATUSES = frozenset({429, 503})
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# The server, or a gateway in front of it, gave up: it may have done the request.
MAYBE_DONE_STATUSES = frozenset({408, 502, 504})
# Sent, perhaps in part, then no answer: not retried by the client; only idempotent calls.
MAYBE_DONE_ERRORS: tuple[type[Exception], ...] = (httpx.WriteTimeout,)

FIRST_WAIT_SECONDS = 2.0
MAX_WAIT_SECONDS = 60.0
JITTER = 0.2


def client_retry_defaults() -> dict[Setting, object]:
    """The client retry settings of the project's runs, as defaults: a value the user set wins."""
    return {PREFECT_CLIENT_MAX_RETRIES: CLIENT_MAX_RETRIES}


def client_retry_environment() -> dict[str, str]:
    """The client retry settings in force, as environment variables for the worker processes a
    run starts (they read their settings from the environment, not from this process)."""
    client = get_current_settings().client
    environment = {
        "PREFECT_CLIENT_MAX_RETRIES": str(client.max_retries),
        "PREFECT_CLIENT_RETRY_JITTER_FACTOR": str(client.retry_jitter_factor),
    }
    if codes := _extra_codes():
        environment["PREFECT_CLIENT_RETRY_EXTRA_CODES"] = ",".join(map(str, sorted(codes)))
    return environment


def _extra_codes() -> set[int]:
    """PREFECT_CLIENT_RETRY_EXTRA_CODES as a set (validated into one; typed more loosely)."""
    codes = get_current_settings().client.retry_extra_codes
    if isinstance(codes, int):
        return {codes}
    if isinstance(codes, str):
        return {int(code) for code in codes.split(",") if code.strip()}
    return set(codes or ())


@dataclass(frozen=True)
class ApiFailure:
    """A transient Prefect API error: what failed, and whether it is safe to send again."""

    error: Exception
    status: int | None
    description: str
    client_retried: bool  # Prefect's client already spent its retries on it
    not_done: bool  # the server certainly did not do the request
    retry_after: float | None = None  # seconds, when the server said

    def repeatable(self, idempotent: bool) -> bool:
        return self.not_done or idempotent


def find_api_failure(error: BaseException) -> ApiFailure | None:
    """The transient Prefect API error behind `error` (itself or what it was raised from), if any.

    Transient: 408, 429, 502, 503, 504 (and PREFECT_CLIENT_RETRY_EXTRA_CODES), a timeout, a
    refused, reset or dropped connection. A 500, a 404 or a validation error is not.
    """
    extra_codes = _extra_codes()
    for cause in exception_chain(error):
        if isinstance(cause, httpx.HTTPStatusError):
            status = cause.response.status_code
            if status not in CLIENT_RETRIED_STATUSES | MAYBE_DONE_STATUSES | extra_codes:
                return None
            request = cause.request
            return ApiFailure(
                error=cause,
                status=status,
                description=f"{status} {cause.response.reason_phrase} to {request.method} "
                f"{request.url.path}",
                client_retried=status in CLIENT_RETRIED_STATUSES | extra_codes,
                not_done=status in NOT_DONE_STATUSES,
                retry_after=_retry_after(cause.response),
            )
        if isinstance(cause, httpx.TransportError):
            if not isinstance(cause, CLIENT_RETRIED_ERRORS + NOT_SENT_ERRORS + MAYBE_DONE_ERRORS):
                return None
            where = _request_of(cause)
            return ApiFailure(
                error=cause,
                status=None,
                description=f"{type(cause).__name__} ({cause}){where}",
                # A refused connection is retried by a client that has connected before; the
                # project cannot tell which it was, so it retries it (it never left).
                client_retried=isinstance(cause, CLIENT_RETRIED_ERRORS),
                not_done=isinstance(cause, NOT_SENT_ERRORS),
            )
    return None


def call_api(
    what: str,
    call: Callable[[], T],
    *,
    idempotent: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Make a Prefect API call; retry what Prefect's client did not, when it is safe to repeat.

    `what` names the call in messages ("publishing the monitor summary of demo"). `idempotent`:
    sending the call twice does no harm (a read, a write of the same state, a create with an
    idempotency key or a fixed id). A create without one is sent again only when the server
    certainly did not do it (429, 503, a connection never made).

    Raises PrefectApiError when the error persists past PREFECT_CLIENT_MAX_RETRIES retries (the
    client's or these); other errors pass through unchanged.
    """
    started = time.monotonic()
    retries = 0
    while True:
        try:
            return call()
        except Exception as error:
            failure = find_api_failure(error)
            if failure is None:
                raise
            budget = PREFECT_CLIENT_MAX_RETRIES.value()
            elapsed = time.monotonic() - started
            if failure.client_retried:
                # The client waited through its retries already: once more would only double them.
                raise PrefectApiError(
                    _give_up(what, failure, budget, elapsed, "by Prefect's client")
                ) from error
            if not failure.repeatable(idempotent):
                raise PrefectApiError(
                    f"{what}: the Prefect API failed ({failure.description}) and the call was "
                    "not sent again: the server may have done it already"
                ) from error
            if retries >= budget:
                raise PrefectApiError(_give_up(what, failure, retries, elapsed, "")) from error
            retries += 1
            wait = _wait(retries, failure.retry_after)
            logger.warning(
                "%s: the Prefect API failed (%s); retry %d of %d in %.1f s",
                what,
                failure.description,
                retries,
                budget,
                wait,
            )
            sleep(wait)


def describe_api_failure(error: BaseException) -> str | None:
    """A transient API error that ended a run, in words, for a fleet's error row; None for others.

    Prefect's own calls (a task run's state, a subflow's creation) are retried by its client
    only, PREFECT_CLIENT_MAX_RETRIES times with doubling waits, and not timed by the project.
    """
    if isinstance(error, PrefectApiError):
        return str(error)
    failure = find_api_failure(error)
    if failure is None or not failure.client_retried:
        return None
    retries = PREFECT_CLIENT_MAX_RETRIES.value()
    return (
        f"the Prefect API kept failing ({failure.description}); retried {retries} times by "
        "Prefect's client (PREFECT_CLIENT_MAX_RETRIES), waiting 2, 4, 8... s between attempts; "
        f"{_ADVICE}"
    )


_ADVICE = (
    "the server stayed busy or unreachable: run again later, give it fewer runs at once (a "
    "fleet's max_parallel) or a PostgreSQL database, or raise PREFECT_CLIENT_MAX_RETRIES"
)


def _give_up(what: str, failure: ApiFailure, retries: int, elapsed: float, by: str) -> str:
    by_whom = f" {by}" if by else ""
    return (
        f"{what}: the Prefect API kept failing ({failure.description}); retried {retries} "
        f"times{by_whom} over {elapsed:.0f} s (PREFECT_CLIENT_MAX_RETRIES); {_ADVICE}"
    )


def _wait(retry: int, retry_after: float | None) -> float:
    """Seconds before a retry: what the server asked for, else 2, 4, 8... up to 60, jittered."""
    if retry_after is not None:
        return retry_after
    base = min(MAX_WAIT_SECONDS, FIRST_WAIT_SECONDS * 2 ** (retry - 1))
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: wait as usual


def _request_of(error: httpx.TransportError) -> str:
    try:
        request = error.request
    except RuntimeError:  # raised without a request
        return ""
    return f" on {request.method} {request.url.path}"


def exception_chain(error: BaseException) -> Iterator[BaseException]:
    """The error and the errors it was raised from or during, as a traceback shows them (a
    context hidden by `raise ... from None` is not among them), each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__suppress_context__:
            current = None
        else:
            current = current.__context__
