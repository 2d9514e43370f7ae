"""Human approval: the promote flow pauses with the comparison and waits for an answer."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run

from flows.promote import promote_flow
from flows.retrain import retrain_flow
from tasks.config import load_config
from tasks.core.gate import Approval, Comparison, GateRules, ModelOutputs, compare_models
from tasks.orchestration.approval import request_approval
from tasks.stores.registry import LocalRegistry

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]


def _registry(config_path: Path) -> LocalRegistry:
    config = load_config(config_path)
    return LocalRegistry(config.registry.path, config.name)


def _champion_and_a_better_challenger(write_config, tmp_path: Path, timeout: str) -> Path:
    """v0001 (2012 labels) champion; v0002 (trained before the 2014 Q1 holdout) challenger."""
    config_path = write_config(
        {
            "registry": {"path": str(tmp_path / "registry")},
            # write_config sets the latency guard aside: these tests are about the answer.
            "promotion": {"approval": {"required": True, "timeout": timeout}},
        }
    )
    first = retrain_flow(str(config_path), reason="bootstrap", bootstrap=True).version
    registry = _registry(config_path)
    registry.set_alias("champion", first, reason="test setup", action="promote", expected=None)
    retrain_flow(str(config_path), reason="test")
    return config_path


def _paused_run_ids() -> list[UUID]:
    async def read() -> list[UUID]:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                )
            )
        return [run.id for run in runs if run.name and run.state and run.state.is_paused()]

    return asyncio.run(read())


def _wait_for_form() -> tuple[UUID, dict[str, str]]:
    """The paused run and its run input keys, once the form is saved.

    The run is PAUSED a moment before its form (schema, then description) is written, and the
    server refuses to resume a run whose schema it cannot find yet.
    """
    deadline = time.monotonic() + 120
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                )
            )
            for run in runs:
                keyset = run.state.state_details.run_input_keyset if run.state else None
                if not keyset:
                    continue
                try:
                    client.read_flow_run_input(run.id, keyset["description"])
                except httpx.HTTPStatusError:
                    continue  # paused, form not saved yet
                return run.id, dict(keyset)
            time.sleep(0.5)
    raise AssertionError("no paused run with an approval form within 120 s")


def _is_paused(run_id: UUID) -> bool:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
    return state is not None and state.is_paused()


def _answer_when_paused(answer: dict[str, Any]) -> tuple[threading.Thread, list[Any]]:
    """A reviewer in another thread: wait for the form, read it, then resume with the answer.

    `seen` gets the run id and the form's description (or the error that stopped the reviewer).
    """
    seen: list[Any] = []

    def review() -> None:
        try:
            run_id, keyset = _wait_for_form()
            with get_client(sync_client=True) as client:
                seen.extend([run_id, client.read_flow_run_input(run_id, keyset["description"])])
            resume_flow_run(run_id, run_input=answer)
        except Exception as error:  # reported by the test's assertions, not lost in the thread
            seen.append(error)

    thread = threading.Thread(target=review, daemon=True)
    thread.start()
    return thread, seen


def test_approved_promotion_swaps_the_champion_and_records_the_reviewer(write_config, tmp_path):
    config_path = _champion_and_a_better_challenger(write_config, tmp_path, "10min")
    reviewer, seen = _answer_when_paused(
        {"decision": "approve", "reviewer": "alice", "note": "numbers look right"}
    )

    outcome = promote_flow(str(config_path))
    reviewer.join(timeout=30)

    assert isinstance(seen[0], UUID), seen
    assert "- **approve**: v0002 becomes champion in place of v0001." in seen[1]
    assert outcome.status == "promoted"
    assert outcome.comparison is not None
    assert outcome.comparison.approval is not None
    assert outcome.comparison.approval.approved
    assert outcome.comparison.approval.reviewer == "alice"
    registry = _registry(config_path)
    assert registry.get_alias("champion") == "v0002"
    saved = registry.load_comparison(outcome.comparison.comparison_id)
    assert saved["approval"]["reviewer"] == "alice" and saved["verdict"] == "promote"
    line = [h for h in registry.history() if h.alias == "champion"][-1]
    assert (line.from_version, line.to_version, line.actor) == ("v0001", "v0002", "alice")
    assert line.reason.endswith("approved by alice: numbers look right")
    # The new champion's model card names who approved it, when, and the note.
    card = registry.load_card("v0002")
    approval = next(s for s in card.record["sections"] if s["key"] == "approval")["fields"]
    assert (approval["reviewer"], approval["note"]) == ("alice", "numbers look right")
    assert approval["decided_at"] == outcome.comparison.approval.decided_at


def test_rejected_promotion_keeps_the_champion(write_config, tmp_path):
    config_path = _champion_and_a_better_challenger(write_config, tmp_path, "10min")
    reviewer, seen = _answer_when_paused(
        {"decision": "reject", "reviewer": "bob", "note": "freeze"}
    )

    outcome = promote_flow(str(config_path))
    reviewer.join(timeout=30)

    assert isinstance(seen[0], UUID), seen
    assert outcome.comparison is not None
    assert outcome.comparison.verdict == "promote"  # the gate allowed it; the person did not
    assert outcome.status == "rejected"
    registry = _registry(config_path)
    assert registry.get_alias("champion") == "v0001"
    assert registry.get_version("v0002").status == "rejected"
    assert registry.history()[-1].reason.endswith("but bob did not approve (freeze)")


def test_no_answer_within_the_timeout_rejects(write_config, tmp_path):
    config_path = _champion_and_a_better_challenger(write_config, tmp_path, "3s")

    outcome = promote_flow(str(config_path))

    assert outcome.status == "rejected"
    assert outcome.comparison is not None
    approval = outcome.comparison.approval
    assert approval is not None and not approval.approved
    assert approval.reviewer == "(nobody)"
    assert approval.note == "no answer within the approval timeout of 3 s"
    registry = _registry(config_path)
    assert registry.get_alias("champion") == "v0001"
    assert registry.history()[-1].reason.endswith(
        "but (nobody) did not approve (no answer within the approval timeout of 3 s)"
    )
    assert _paused_run_ids() == []  # the run did not stay paused


# -- the form: a decision and a reviewer are required, and the description says what each does --


def _comparison(timeout_seconds: int) -> Comparison:
    """A comparison the gate passes: v0002 right on 90 of 100 rows, champion v0001 on 50."""
    truth = ["sun", "rain"] * 50
    other = {"sun": "rain", "rain": "sun"}

    def predict(right: int) -> list[str]:
        return [label if i < right else other[label] for i, label in enumerate(truth)]

    window = {"start": "2013-07-01T00:00:00", "end": "2014-01-01T00:00:00"}
    return compare_models(
        comparison_id="form-test",
        model_name="seattle-weather",
        holdout_window={"start": "2014-01-01T00:00:00", "end": "2014-04-01T00:00:00"},
        y_true=truth,
        rules=GateRules(
            metric="accuracy",
            metric_name="accuracy",
            performance_threshold=0.5,
            min_improvement=0.0,
            min_holdout_rows=30,
            resamples=200,
            approval_required=True,
            approval_timeout_seconds=timeout_seconds,
        ),
        champion=ModelOutputs("v0001", window, False, predict(50)),
        challenger=ModelOutputs("v0002", window, False, predict(90)),
    )


@flow(name="approval-form")
def ask_for_approval(timeout_seconds: int) -> Approval:
    """Only the pause: the same form the promote flow shows, without training anything."""
    return request_approval(_comparison(timeout_seconds))


REFUSED = {
    "untouched form": ({"note": ""}, "'decision' is a required property"),
    "no input at all": (None, "'decision' is a required property"),
    "no reviewer": ({"decision": "approve"}, "'reviewer' is a required property"),
    "blank reviewer": ({"decision": "approve", "reviewer": "  "}, "'  ' does not match"),
    "not a choice": (
        {"decision": "yes", "reviewer": "alice"},
        "'yes' is not one of ['approve', 'reject']",
    ),
    "the old approve toggle": (
        {"approve": True, "reviewer": "alice"},
        "Additional properties are not allowed ('approve' was unexpected)",
    ),
}


def test_the_form_refuses_an_answer_without_a_decision_or_a_reviewer() -> None:
    seen: dict[str, Any] = {}

    def review() -> None:
        try:
            run_id, keyset = _wait_for_form()
            with get_client(sync_client=True) as client:
                seen["schema"] = json.loads(client.read_flow_run_input(run_id, keyset["schema"]))
                seen["description"] = client.read_flow_run_input(run_id, keyset["description"])
            for name, (answer, _) in REFUSED.items():
                try:
                    resume_flow_run(run_id, run_input=answer)
                    seen[name] = "accepted"
                except RuntimeError as error:
                    seen[name] = (str(error), _is_paused(run_id))
            resume_flow_run(
                run_id, run_input={"decision": "approve", "reviewer": " alice ", "note": "ok"}
            )
        except Exception as error:
            seen["error"] = error

    reviewer = threading.Thread(target=review, daemon=True)
    reviewer.start()
    approval = ask_for_approval(120)
    reviewer.join(timeout=30)

    assert "error" not in seen, seen["error"]
    for name, (_, message) in REFUSED.items():
        refusal, still_paused = seen[name]
        assert refusal.startswith("Cannot resume this run: "), (name, refusal)
        assert message in refusal, (name, refusal)
        assert still_paused, name
    assert (approval.approved, approval.reviewer, approval.note) == (True, "alice", "ok")

    schema = seen["schema"]
    assert schema["required"] == ["decision", "reviewer"]
    assert schema["properties"]["decision"]["enum"] == ["approve", "reject"]
    assert "default" not in schema["properties"]["decision"]
    assert "default" not in schema["properties"]["reviewer"]
    description = seen["description"]
    # The verdict and its numbers first, and no table: the form's text box is ~470 px wide.
    form = json.loads(description)  # the run input is stored as JSON
    assert form.startswith("**PROMOTE: v0002 vs v0001**\n\n- **accuracy** (higher is ")
    assert "- **difference** +0.4, 95% interval [" in form
    assert not [line for line in form.splitlines() if line.startswith("|")]
    assert "**Choose a decision and give your name; both are required.**" in description
    assert "- **approve**: v0002 becomes champion in place of v0001." in description
    assert "- **reject**: v0001 stays champion; v0002 is marked rejected" in description
    assert "No answer within 120 s rejects." in description


def test_a_reject_answer_rejects() -> None:
    reviewer, seen = _answer_when_paused({"decision": "reject", "reviewer": "bob"})

    approval = ask_for_approval(120)
    reviewer.join(timeout=30)

    assert isinstance(seen[0], UUID), seen
    assert (approval.approved, approval.reviewer, approval.note) == (False, "bob", "")


# -- the first champion: asked only with promotion.approval.bootstrap ---------------------------


def _fresh_registry_with_a_first_model(
    write_config, tmp_path: Path, bootstrap: bool | None, timeout: str
) -> tuple[Path, str]:
    """Approval required; bootstrap None leaves the setting out (its default)."""
    config_path = write_config(
        {
            "registry": {"path": str(tmp_path / "registry")},
            "promotion": {
                "approval": {"required": True, "bootstrap": bootstrap, "timeout": timeout}
            },
        }
    )
    first = retrain_flow(str(config_path), reason="bootstrap", bootstrap=True).version
    assert first is not None
    return config_path, first


def test_by_default_the_first_champion_is_promoted_without_asking(write_config, tmp_path):
    # Were it to pause, nobody answers and the 5 s timeout rejects: the test would fail, not hang.
    config_path, first = _fresh_registry_with_a_first_model(write_config, tmp_path, None, "5s")

    outcome = promote_flow(str(config_path), challenger_version=first, bootstrap=True)

    assert outcome.status == "promoted"
    assert outcome.comparison is not None and outcome.comparison.bootstrap
    assert outcome.comparison.approval is None
    registry = _registry(config_path)
    assert registry.get_alias("champion") == first
    line = [h for h in registry.history() if h.alias == "champion"][-1]
    assert line.reason.endswith(
        "; first champion, no approval asked (promotion.approval.bootstrap is off)"
    )
    assert _paused_run_ids() == []


def test_with_approval_bootstrap_the_first_champion_waits_for_a_person(write_config, tmp_path):
    config_path, first = _fresh_registry_with_a_first_model(write_config, tmp_path, True, "10min")
    reviewer, seen = _answer_when_paused(
        {"decision": "approve", "reviewer": "carol", "note": "first model"}
    )

    outcome = promote_flow(str(config_path), challenger_version=first, bootstrap=True)
    reviewer.join(timeout=30)

    assert isinstance(seen[0], UUID), seen
    assert f"- **approve**: {first} becomes champion (the registry has none yet)." in seen[1]
    assert "- **reject**: the registry stays without a champion;" in seen[1]
    assert outcome.status == "promoted"
    assert outcome.comparison is not None and outcome.comparison.approval is not None
    assert outcome.comparison.approval.reviewer == "carol"
    registry = _registry(config_path)
    assert registry.get_alias("champion") == first
    line = [h for h in registry.history() if h.alias == "champion"][-1]
    assert (line.from_version, line.to_version, line.actor) == (None, first, "carol")
    assert line.reason.endswith("approved by carol: first model")
