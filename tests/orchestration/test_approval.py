"""Human approval: the promote flow pauses with the comparison and waits for an answer."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
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


def _answer_when_paused(answer: dict[str, Any]) -> tuple[threading.Thread, list[Any]]:
    """A reviewer in another thread: wait for the paused run, then resume it with the answer."""
    seen: list[Any] = []

    def review() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            paused = _paused_run_ids()
            if paused:
                seen.append(paused[0])
                resume_flow_run(paused[0], run_input=answer)
                return
            time.sleep(0.5)
        seen.append("never paused")

    thread = threading.Thread(target=review, daemon=True)
    thread.start()
    return thread, seen


def test_approved_promotion_swaps_the_champion_and_records_the_reviewer(write_config, tmp_path):
    config_path = _champion_and_a_better_challenger(write_config, tmp_path, "10min")
    reviewer, seen = _answer_when_paused(
        {"approve": True, "reviewer": "alice", "note": "numbers look right"}
    )

    outcome = promote_flow(str(config_path))
    reviewer.join(timeout=30)

    assert isinstance(seen[0], UUID), seen
    assert outcome.status == "promoted"
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


def test_rejected_promotion_keeps_the_champion(write_config, tmp_path):
    config_path = _champion_and_a_better_challenger(write_config, tmp_path, "10min")
    reviewer, seen = _answer_when_paused({"approve": False, "reviewer": "bob", "note": "freeze"})

    outcome = promote_flow(str(config_path))
    reviewer.join(timeout=30)

    assert isinstance(seen[0], UUID), seen
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
