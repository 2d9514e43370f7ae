"""Runs from a terminal: a patient temporary server, and Prefect failures in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from tasks.errors import DataError
from tasks.orchestration.local import (
    EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    describe_prefect_failure,
    is_user_error,
)
from tests.helpers import ROOT
from tests.outputs import prefect_from

# What a script does: import Prefect (flows/*.py do at the top), then run_flow_call runs the call.
_SCRIPT = """
import sys
import flows.monitor
from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as timeout
from tasks.cli.common import run_flow_call

def server_did_not_start():
    raise RuntimeError("Timed out while attempting to connect to ephemeral Prefect API server.")

call = server_did_not_start if sys.argv[1] == "fail" else timeout.value
raise SystemExit(run_flow_call(call, str))
"""


def _script(call: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return subprocess.run(
        [sys.executable, "-c", _SCRIPT, call],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _timeout_seen_by_a_script(**env: str) -> str:
    run = _script("print-timeout", **env)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout.strip()


@pytest.mark.slow  # starts processes
def test_a_script_waits_longer_for_the_temporary_server_than_prefects_default() -> None:
    assert _timeout_seen_by_a_script() == str(EPHEMERAL_STARTUP_TIMEOUT_SECONDS)
    assert EPHEMERAL_STARTUP_TIMEOUT_SECONDS > 20  # Prefect's default


@pytest.mark.slow  # starts processes
def test_a_startup_timeout_the_user_set_is_kept() -> None:
    assert _timeout_seen_by_a_script(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="45") == "45"


@pytest.mark.slow  # starts processes
def test_a_script_whose_server_did_not_start_names_the_timeout_it_waited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = _script("fail")

    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"error: the temporary Prefect server did not start within "
        f"{EPHEMERAL_STARTUP_TIMEOUT_SECONDS} s; the machine may be busy: raise "
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS and try again, or start a server "
        f"({prefect_from(ROOT, monkeypatch)} server start) and set PREFECT_API_URL"
    ]


def test_a_server_that_did_not_start_is_one_line_with_the_fix() -> None:
    error = RuntimeError(
        "Timed out while attempting to connect to ephemeral Prefect API server. "
        "Ephemeral server process exited with code 1. stdout: ...\nstderr: ..."
    )

    message = describe_prefect_failure(error)

    assert message is not None
    assert "\n" not in message
    assert message.startswith("the temporary Prefect server did not start within")
    assert "exited with code 1" in message
    assert "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" in message


def test_an_unreachable_api_names_the_url_without_credentials() -> None:
    try:
        try:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        except httpx.ConnectError as refused:
            raise RuntimeError("Failed to reach API at http://127.0.0.1:9/api/") from refused
    except RuntimeError as caught:
        error = caught

    with temporary_settings(updates={PREFECT_API_URL: "http://me:secret@127.0.0.1:9/api"}):
        message = describe_prefect_failure(error)

    assert message is not None
    assert "\n" not in message
    assert "cannot reach the Prefect API at http://127.0.0.1:9/api (PREFECT_API_URL)" in message
    assert "unset PREFECT_API_URL" in message
    assert "secret" not in message


@pytest.mark.parametrize(
    "error",
    [ValueError("a bug"), RuntimeError("something else"), KeyError("weather")],
    ids=["value-error", "other-runtime-error", "key-error"],
)
def test_other_errors_are_not_mistaken_for_prefect_failures(error: Exception) -> None:
    assert describe_prefect_failure(error) is None


def test_an_error_raised_from_a_user_error_is_one() -> None:
    try:
        try:
            raise DataError("column 'weather' is missing")
        except DataError as missing:
            raise RuntimeError("the monitor task failed") from missing
    except RuntimeError as caught:
        assert is_user_error(caught)
    assert not is_user_error(RuntimeError("a bug"))


def test_a_cause_hidden_with_from_none_is_not_looked_at() -> None:
    """As a traceback shows the chain: a replaced error is neither a user error nor a Prefect
    failure because of what it replaced (the retries read the chain the same way)."""
    try:
        try:
            raise DataError("column 'weather' is missing")
        except DataError:
            raise RuntimeError("a bug while reporting it") from None
    except RuntimeError as caught:
        assert not is_user_error(caught)
    try:
        try:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        except httpx.ConnectError:
            raise RuntimeError("something else") from None
    except RuntimeError as caught:
        assert describe_prefect_failure(caught) is None
