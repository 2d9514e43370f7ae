"""prefect.yaml's triggers: every parameter template renders, with or without its payload key."""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest
import yaml
from prefect import Flow

from flows.promote import promote_flow
from flows.retrain import retrain_flow
from tests.helpers import ROOT

FLOWS: dict[str, Flow[..., Any]] = {
    "autoretrain-retrain": retrain_flow,
    "autoretrain-promote": promote_flow,
}


def _deployments() -> dict[str, dict[str, Any]]:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    return {d["name"]: d for d in spec["deployments"]}


def _render(template: str, payload: dict[str, Any]) -> str:
    return jinja2.Environment().from_string(template).render(event=SimpleNamespace(payload=payload))


@pytest.mark.parametrize("name", sorted(FLOWS))
@pytest.mark.parametrize("payload", [{}, {"request_id": "r-1", "reason": "monitor: drift"}])
def test_trigger_parameters_render_non_empty_and_exist_on_the_flow(name, payload):
    deployment = _deployments()[name]
    accepted = inspect.signature(FLOWS[name].fn).parameters
    for trigger in deployment["triggers"]:
        for parameter, template in trigger["parameters"].items():
            assert parameter in accepted, f"{name}: {parameter} is not a flow parameter"
            # An empty rendering makes Prefect drop the automation's action silently.
            assert _render(template, payload).strip(), f"{name}: {parameter} renders empty"


def test_promote_trigger_passes_on_the_request_and_reason_of_the_retrain():
    (trigger,) = _deployments()["autoretrain-promote"]["triggers"]
    payload = {"version": "v0002", "request_id": "monitor-run-7", "reason": "monitor: drift"}
    rendered = {key: _render(value, payload) for key, value in trigger["parameters"].items()}
    assert rendered["request_id"] == "monitor-run-7"
    assert rendered["reason"] == "monitor: drift"
    assert rendered["challenger_version"] == "v0002"


def test_the_fleet_deployment_runs_the_fleet_flow_on_the_shipped_fleet_file_daily():
    from flows.fleet import fleet_flow
    from tasks.config import load_fleet

    deployment = _deployments()["autoretrain-fleet"]
    path, _, name = deployment["entrypoint"].partition(":")
    assert (ROOT / path).is_file() and name == "fleet_flow"
    accepted = inspect.signature(fleet_flow.fn).parameters
    assert set(deployment["parameters"]) <= set(accepted)
    fleet = load_fleet(ROOT / deployment["parameters"]["fleet_path"])
    assert fleet.ready and not [m for m in fleet.members if m.error]
    (schedule,) = deployment["schedules"]
    assert schedule["cron"] and schedule["active"] is True
