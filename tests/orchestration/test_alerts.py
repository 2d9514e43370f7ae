"""The alerts file: it validates as Prefect automations, covers the events the issue names, and
every message renders (a template that fails to render drops the notification silently)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import AutomationCore, EventTrigger
from prefect.events.schemas.events import ResourceSpecification

from tasks.errors import ConfigError
from tasks.orchestration.alerts import load_automations
from tests.helpers import ROOT

FILE = ROOT / "automations.yaml"


def _render(
    template: str, event_name: str, resource: dict[str, str], payload: dict[str, Any]
) -> str:
    from prefect.server.events.jinja_filters import all_filters
    from prefect.server.events.schemas.events import ReceivedEvent
    from prefect.server.utilities.user_templates import (
        register_user_template_filters,
        render_user_template_sync,
    )
    from prefect.types._datetime import now

    register_user_template_filters(all_filters)
    # Validated as the server does: the resource dict becomes a Resource, the datetime a DateTime.
    event = ReceivedEvent.model_validate(
        {
            "occurred": now("UTC"),
            "event": event_name,
            "resource": resource,
            "payload": payload,
            "id": uuid4(),
        }
    )
    # No run behind the event (a local run): the objects a template looks up are None.
    context = {"event": event, "flow_run": None, "deployment": None}
    return render_user_template_sync(template, context)


def _event_trigger(automation: AutomationCore) -> EventTrigger:
    assert isinstance(automation.trigger, EventTrigger)
    return automation.trigger


def _notification(automation: AutomationCore) -> SendNotification:
    (action,) = automation.actions
    assert isinstance(action, SendNotification)
    return action


def test_the_file_holds_one_automation_per_event_all_through_the_chosen_block() -> None:
    block = uuid4()

    automations = load_automations(FILE, block)

    expected = {a.name: sorted(_event_trigger(a).expect) for a in automations}
    assert expected == {
        "autoretrain-performance-degraded": ["autoretrain.performance.degraded"],
        "autoretrain-drift-confirmed": ["autoretrain.drift.detected"],
        "autoretrain-data-quality-failed": ["autoretrain.data.quality-failed"],
        "autoretrain-model-promoted": ["autoretrain.model.promoted"],
        "autoretrain-model-rejected": ["autoretrain.model.rejected"],
        "autoretrain-model-rolled-back": ["autoretrain.model.rolled-back"],
        "autoretrain-run-failed": ["prefect.flow-run.Crashed", "prefect.flow-run.Failed"],
        "autoretrain-threshold-unreachable": ["autoretrain.threshold.unreachable"],
    }
    for automation in automations:
        (action,) = automation.actions
        assert action.type == "send-notification"
        assert isinstance(action, SendNotification)
        assert action.block_document_id == block
    drift = next(a for a in automations if a.name == "autoretrain-drift-confirmed")
    assert _event_trigger(drift).match.get("autoretrain.confirmed") == ["true"]
    failed = next(a for a in automations if a.name == "autoretrain-run-failed")
    related = _event_trigger(failed).match_related
    assert isinstance(related, ResourceSpecification)
    assert related.get("prefect.resource.name") == ["autoretrain-*"]


MODEL = {
    "prefect.resource.id": "autoretrain.model.seattle-weather",
    "prefect.resource.name": "seattle-weather",
}


@pytest.mark.parametrize(
    ("automation", "event", "payload", "expected"),
    [
        (
            "autoretrain-performance-degraded",
            "autoretrain.performance.degraded",
            {
                "summary": "f1 (macro) 0.141 < threshold 0.450 (severe) on 89 labelled rows",
                "confirmed": True,
            },
            [
                "seattle-weather performance degraded",
                "0.141 < threshold 0.450",
                "Confirmed by the history: True",
            ],
        ),
        (
            "autoretrain-model-promoted",
            "autoretrain.model.promoted",
            {
                "challenger": "v0002",
                "champion": "v0001",
                "summary": "promote: f1 (macro) challenger v0002 0.812",
            },
            ["promoted v0002", "challenger v0002 promoted over champion v0001", "0.812"],
        ),
        (
            "autoretrain-model-rolled-back",
            "autoretrain.model.rolled-back",
            {"from": "v0003", "to": "v0002", "reason": "bad labels"},
            ["rolled back to v0002", "from v0003 to v0002", "Reason: bad labels"],
        ),
        # An event missing every payload key still renders, with the defaults.
        (
            "autoretrain-model-rejected",
            "autoretrain.model.rejected",
            {},
            ["no numbers in the event"],
        ),
        ("autoretrain-drift-confirmed", "autoretrain.drift.detected", {}, ["drift confirmed"]),
        (
            "autoretrain-data-quality-failed",
            "autoretrain.data.quality-failed",
            {
                "summary": "the data looks broken, not the model: data quality failed in wind: "
                "wind missing share 1.000 (reference 0.000 + 0.100); decision data-issue",
                "action": "block",
            },
            [
                "seattle-weather data quality failed",
                "the data looks broken, not the model",
                "wind missing share 1.000",
                "Action: block",
            ],
        ),
        (
            "autoretrain-threshold-unreachable",
            "autoretrain.threshold.unreachable",
            {"summary": "the performance bar looks unreachable: 2 challengers in a row rejected"},
            ["performance bar looks unreachable", "2 challengers in a row rejected", "back off"],
        ),
    ],
)
def test_messages_name_the_model_and_the_numbers(
    automation: str, event: str, payload: dict, expected: list[str]
) -> None:
    (spec,) = [a for a in load_automations(FILE, uuid4()) if a.name == automation]
    action = _notification(spec)

    text = "\n".join(
        _render(template, event, MODEL, payload) for template in (action.subject, action.body)
    )

    assert "seattle-weather" in text
    for fragment in expected:
        assert fragment in text
    assert "Run: None" in text  # no run behind this event; a real one renders its UI link


def test_the_failure_message_renders_without_a_run() -> None:
    (spec,) = [a for a in load_automations(FILE, uuid4()) if a.name == "autoretrain-run-failed"]
    action = _notification(spec)
    resource = {
        "prefect.resource.id": f"prefect.flow-run.{uuid4()}",
        "prefect.resource.name": "brave-otter",
        "prefect.state-name": "Failed",
        "prefect.state-message": "Flow run encountered an exception: ConfigError",
    }

    body = _render(action.body, "prefect.flow-run.Failed", resource, {})

    assert "Flow run brave-otter of deployment unknown ended Failed." in body
    assert "ConfigError" in body


def test_a_broken_file_names_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "automations.yaml"
    bad.write_text("automations:\n  - name: x\n    trigger: {type: nonsense}\n    actions: []\n")

    with pytest.raises(ConfigError, match="automation 'x' is invalid"):
        load_automations(bad, uuid4())
    bad.write_text("just: text\n")
    with pytest.raises(ConfigError, match="expected a top-level 'automations:' list"):
        load_automations(bad, uuid4())


def test_a_key_written_twice_or_a_file_not_in_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "automations.yaml"
    path.write_text("automations:\n  - name: a\n    name: b\n")

    with pytest.raises(ConfigError) as caught:
        load_automations(path, uuid4())
    assert str(caught.value) == (
        f"{path}: key 'automations[0].name' is written twice (lines 2 and 3): YAML would "
        "silently keep the later one; delete one of them"
    )

    path.write_bytes("# alertes météo\nautomations: []\n".encode("cp1252"))
    with pytest.raises(ConfigError, match="not UTF-8 text") as caught:
        load_automations(path, uuid4())
    assert str(caught.value).startswith(f"{path}: not UTF-8 text (byte 0xe9 on line 1)")
