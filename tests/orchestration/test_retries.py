"""Prefect API calls through a busy or unreachable server: what is retried, how often, and what
is never sent twice (no server: the calls fail on purpose)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prefect.exceptions import ObjectNotFound
from prefect.settings import (
    PREFECT_CLIENT_MAX_RETRIES,
    PREFECT_CLIENT_RETRY_EXTRA_CODES,
    temporary_settings,
)

from tasks.errors import PrefectApiError
from tasks.orchestration import retries
from tasks.orchestration.retries import (
    CLIENT_MAX_RETRIES,
    call_api,
    client_retry_environment,
    describe_api_failure,
    find_api_failure,
)
from tests.helpers import ROOT

URL = "http://127.0.0.1:4200/api"


def _status(
    code: int, method: str = "POST", path: str = "/api/artifacts/", retry_after: str | None = None
) -> httpx.HTTPStatusError:
    request = httpx.Request(method, f"http://127.0.0.1:4200{path}")
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    response = httpx.Response(code, request=request, headers=headers)
    return httpx.HTTPStatusError(f"{code}", request=request, response=response)


def _refused(path: str = "/events") -> httpx.ConnectError:
    return httpx.ConnectError(
        "[Errno 111] Connection refused", request=httpx.Request("POST", f"{URL}{path}")
    )


class Flaky:
    """A call that raises the given errors in turn, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "answer"


@pytest.fixture(autouse=True)
def budget() -> Iterator[None]:
    with temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: CLIENT_MAX_RETRIES}):
        yield


@pytest.fixture
def waits() -> list[float]:
    return []


def _call(call: Callable[[], str], waits: list[float], idempotent: bool = True) -> str:
    return call_api(
        "publishing the artifact demo-summary", call, idempotent=idempotent, sleep=waits.append
    )


def test_a_refused_connection_is_retried_with_doubling_waits_until_the_server_answers(
    waits: list[float],
) -> None:
    call = Flaky(_refused(), _refused(), _refused())

    assert _call(call, waits, idempotent=False) == "answer"  # never sent: safe even for a create

    assert call.calls == 4
    for wait, base in zip(waits, [2.0, 4.0, 8.0], strict=True):
        assert base * (1 - retries.JITTER) <= wait <= base * (1 + retries.JITTER)


def test_a_refusal_that_lasts_becomes_an_error_saying_how_often_and_how_long(
    waits: list[float],
) -> None:
    call = Flaky(*[_refused()] * 20)

    with pytest.raises(PrefectApiError) as raised:
        _call(call, waits)

    assert call.calls == CLIENT_MAX_RETRIES + 1
    assert len(waits) == CLIENT_MAX_RETRIES and max(waits) <= retries.MAX_WAIT_SECONDS * 1.2
    message = str(raised.value)
    assert message.startswith(
        "publishing the artifact demo-summary: the Prefect API kept failing (ConnectError "
        "([Errno 111] Connection refused) on POST /api/events); retried 7 times over "
    )
    assert re.search(r"retried 7 times over \d+ s \(PREFECT_CLIENT_MAX_RETRIES\)", message)
    assert "max_parallel" in message and "raise PREFECT_CLIENT_MAX_RETRIES" in message
    assert isinstance(raised.value.__cause__, httpx.ConnectError)


def test_a_gateway_timeout_is_retried_for_a_call_safe_to_repeat(waits: list[float]) -> None:
    call = Flaky(_status(504, "GET", "/api/flow_runs/1"), _status(504, "GET", "/api/flow_runs/1"))

    assert _call(call, waits, idempotent=True) == "answer"
    assert call.calls == 3


def test_a_create_that_the_server_may_have_done_is_never_sent_twice(waits: list[float]) -> None:
    call = Flaky(_status(504))

    with pytest.raises(PrefectApiError) as raised:
        _call(call, waits, idempotent=False)

    assert call.calls == 1 and waits == []
    assert str(raised.value) == (
        "publishing the artifact demo-summary: the Prefect API failed (504 Gateway Timeout to "
        "POST /api/artifacts/) and the call was not sent again: the server may have done it "
        "already"
    )


@pytest.mark.parametrize(
    "error",
    [_status(503), _status(429), _status(502), httpx.ReadTimeout("timed out")],
    ids=["503", "429", "502", "read-timeout"],
)
def test_what_prefects_client_retried_already_is_not_retried_again(
    error: Exception, waits: list[float]
) -> None:
    call = Flaky(error)

    with pytest.raises(PrefectApiError) as raised:
        _call(call, waits)

    assert call.calls == 1 and waits == []
    assert re.search(
        r"retried 7 times by Prefect's client over \d+ s \(PREFECT_CLIENT_MAX_RETRIES\)",
        str(raised.value),
    )


def test_a_code_added_to_prefects_retry_codes_counts_as_retried_by_the_client(
    waits: list[float],
) -> None:
    with (
        temporary_settings(updates={PREFECT_CLIENT_RETRY_EXTRA_CODES: {504}}),
        pytest.raises(PrefectApiError, match="by Prefect's client"),
    ):
        _call(Flaky(_status(504)), waits)
    assert waits == []


def test_the_wait_the_server_asks_for_is_the_wait(waits: list[float]) -> None:
    call = Flaky(_status(504, "GET", "/api/flow_runs/1", retry_after="0"), _refused())

    assert _call(call, waits) == "answer"
    assert waits[0] == 0.0 and waits[1] > 0


@pytest.mark.parametrize(
    "error",
    [
        _status(404, "GET", "/api/block_documents/x"),
        _status(500),
        _status(422),
        ObjectNotFound(_status(404, "GET", "/api/block_documents/name/x")),
        ValueError("Unable to find block document named x"),
    ],
    ids=["404", "500", "422", "not-found", "value-error"],
)
def test_other_errors_pass_through_at_once_unchanged(error: Exception, waits: list[float]) -> None:
    call = Flaky(error)

    with pytest.raises(type(error)) as raised:
        _call(call, waits)

    assert raised.value is error and call.calls == 1 and waits == []


def test_an_api_error_is_found_behind_the_error_raised_from_it() -> None:
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError

    try:
        try:
            raise _status(503, "POST", "/api/v2/concurrency_limits/increment-with-lease")
        except httpx.HTTPStatusError as unavailable:
            raise ConcurrencySlotAcquisitionError("Unable to acquire slots") from unavailable
    except ConcurrencySlotAcquisitionError as wrapped:
        failure = find_api_failure(wrapped)

    assert failure is not None and failure.status == 503 and failure.client_retried


def test_an_error_raised_on_purpose_instead_of_an_api_error_is_not_one() -> None:
    try:
        try:
            raise _status(503)
        except httpx.HTTPStatusError:
            raise ValueError("a different problem") from None
    except ValueError as replaced:
        assert find_api_failure(replaced) is None


def test_an_api_failure_inside_prefect_is_described_with_the_clients_retries() -> None:
    error = _status(503, "POST", "/api/task_runs/")

    assert describe_api_failure(error) == (
        "the Prefect API kept failing (503 Service Unavailable to POST /api/task_runs/); retried "
        "7 times by Prefect's client (PREFECT_CLIENT_MAX_RETRIES), waiting 2, 4, 8... s between "
        "attempts; the server stayed busy or unreachable: run again later, give it fewer runs at "
        "once (a fleet's max_parallel) or a PostgreSQL database, or raise "
        "PREFECT_CLIENT_MAX_RETRIES"
    )
    assert describe_api_failure(ValueError("x")) is None
    assert describe_api_failure(_status(500)) is None


def test_worker_processes_get_the_retry_settings_in_force() -> None:
    with temporary_settings(
        updates={PREFECT_CLIENT_MAX_RETRIES: 9, PREFECT_CLIENT_RETRY_EXTRA_CODES: {504, 500}}
    ):
        environment = client_retry_environment()

    assert environment["PREFECT_CLIENT_MAX_RETRIES"] == "9"
    assert environment["PREFECT_CLIENT_RETRY_EXTRA_CODES"] == "500,504"
    assert float(environment["PREFECT_CLIENT_RETRY_JITTER_FACTOR"]) >= 0


def test_the_project_gives_every_run_the_same_retry_budget() -> None:
    """prefect.toml (scripts, tests, local workers) and prefect.yaml (deployment runs) agree."""
    import tomllib

    toml = tomllib.loads((ROOT / "prefect.toml").read_text())
    assert toml["client"]["max_retries"] == CLIENT_MAX_RETRIES
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    pool = spec["definitions"]["work_pool"]
    assert pool["job_variables"]["env"]["PREFECT_CLIENT_MAX_RETRIES"] == str(CLIENT_MAX_RETRIES)
    assert all(d["work_pool"] is pool or d["work_pool"] == pool for d in spec["deployments"])
    assert CLIENT_MAX_RETRIES > 5  # Prefect's default lost fleet models (docs/fleet.md)


@pytest.mark.slow  # starts processes
def test_a_script_outside_the_project_directory_gets_the_budget_too(tmp_path: Path) -> None:
    """prefect.toml is read only in the project directory; a script's run_flow_call sets the budget
    anywhere, and a value the user set wins."""
    script = (
        "from prefect.settings import PREFECT_CLIENT_MAX_RETRIES as budget\n"
        "from tasks.orchestration.local import local_run_settings\n"
        "with local_run_settings():\n"
        "    print(budget.value())\n"
    )

    def seen(**env: str) -> str:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        run = subprocess.run(
            [sys.executable, "-c", script],
            env={**clean, **env},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        return run.stdout.strip()

    assert seen() == str(CLIENT_MAX_RETRIES)
    assert seen(PREFECT_CLIENT_MAX_RETRIES="2") == "2"
