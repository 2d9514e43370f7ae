"""The deployed chain monitor -> retrain -> promote can be followed from its logs and artifacts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from flows.monitor import monitor_flow
from flows.promote import promote_flow
from flows.retrain import retrain_flow
from tasks.core.retention import report_run_name
from tests.helpers import read_artifact
from tests.orchestration.test_orchestration import _poll_events

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def run_log() -> Iterator[list[str]]:
    """The lines flows log through get_run_logger (Prefect's loggers do not reach caplog)."""
    handler = _Lines()
    logger = logging.getLogger("prefect.flow_runs")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


def test_monitor_logs_its_decision_and_the_retrain_request_it_emits(
    write_config, tmp_path, run_log
):
    config_path = write_config(
        {"name": "chain-monitor", "registry": {"path": str(tmp_path / "registry")}}
    )

    result = monitor_flow(str(config_path), mode="events")

    request = result.retrain_request
    assert request is not None and request.event == "autoretrain.retrain.requested"
    assert request.reason.startswith("monitor: severe performance breach")
    decision_lines = [line for line in run_log if line.startswith("chain-monitor: decision")]
    assert decision_lines[-1].startswith("chain-monitor: decision RETRAIN: severe performance")
    assert (
        f"emitted autoretrain.retrain.requested (request {request.request_id}): {request.reason}"
        in run_log
    )
    events = _poll_events("chain-monitor", {"autoretrain.retrain.requested"})
    payload = dict(events)["autoretrain.retrain.requested"]
    assert payload["request_id"] == request.request_id
    summary = read_artifact("chain-monitor-monitor-summary")
    assert summary is not None
    assert (
        f"requested   autoretrain.retrain.requested, request {request.request_id}: "
        f"{request.reason}" in str(summary.data)
    )


def test_monitor_logs_a_decision_not_to_retrain_too(write_config, tmp_path, run_log):
    reports = tmp_path / "reports"
    config_path = write_config(
        {
            "name": "chain-quiet",
            "registry": {"path": str(tmp_path / "registry")},
            "windows": {"as_of": "2012-10-01"},
            "policy": {"retrain_on_drift": False},
            "reports": {"path": str(reports), "keep": 1},
        }
    )
    older = reports / "chain-quiet" / report_run_name(datetime(2012, 7, 1), datetime(2026, 1, 1))
    older.mkdir(parents=True)
    (reports / "chain-quiet" / "backtest").mkdir()

    result = monitor_flow(str(config_path), mode="events")

    # reports.keep 1: this run's reports stay, the older run's go, anything else is left alone.
    (this_run,) = {Path(path).parent for path in result.signals.report_paths}
    assert sorted(p.name for p in (reports / "chain-quiet").iterdir()) == sorted(
        ["backtest", this_run.name]
    )

    assert not result.decision.retrain and result.retrain_request is None
    assert any(
        line.startswith(f"chain-quiet: decision {result.decision.action.upper()}: ")
        for line in run_log
    )
    assert not any("emitted autoretrain.retrain.requested" in line for line in run_log)


def test_retrain_and_promote_name_the_request_and_reason_that_started_them(
    write_config, tmp_path, run_log
):
    config_path = write_config({"name": "chain", "registry": {"path": str(tmp_path / "registry")}})
    reason = "monitor: severe performance breach: 0.140 < 0.200"

    retrained = retrain_flow(str(config_path), reason=reason, request_id="monitor-run-42")

    trigger = f"triggered by request monitor-run-42 (the monitor run's id): {reason}"
    assert f"retrain of chain {trigger}" in run_log
    retrain_note = read_artifact("chain-retrain-outcome")
    assert retrain_note is not None and f"Trigger: {trigger}" in str(retrain_note.data)
    # The event the promote deployment's trigger renders its parameters from carries both.
    registered = dict(_poll_events("chain", {"autoretrain.challenger.registered"}))
    payload = registered["autoretrain.challenger.registered"]
    assert (payload["request_id"], payload["reason"]) == ("monitor-run-42", reason)

    outcome = promote_flow(
        str(config_path),
        challenger_version=retrained.version,
        reason=payload["reason"],
        request_id=payload["request_id"],
    )

    assert f"promotion of chain challenger {retrained.version} {trigger}" in run_log
    promote_note = read_artifact("chain-promote-outcome")
    assert promote_note is not None
    assert promote_note.description == f"promote status: {outcome.status}"
    assert f"Trigger: {trigger}" in str(promote_note.data)
