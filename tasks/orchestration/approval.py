"""Optional human approval of a promotion: pause the flow run until a person answers in Prefect.

The thin Prefect layer of the approval step; what the answer means is decided by the saved
comparison (tasks/promotion.py reads it back from the registry).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.states import Running
from pydantic import Field

from tasks.core.gate import Approval, Comparison
from tasks.orchestration.retries import call_api
from tasks.render.reporting import render_approval_markdown


class ApprovalInput(RunInput):
    """The form a reviewer fills in to resume the paused promote run.

    Decision and reviewer have no default: Prefect refuses a form (or a `resume_flow_run` call)
    without them, so an untouched form cannot decide anything.
    """

    decision: Literal["approve", "reject"] = Field(
        description="approve: the challenger becomes champion. reject: the champion stays."
    )
    reviewer: str = Field(
        pattern=r"\S", description="Your name, recorded in the comparison and the alias history."
    )
    note: str = Field(default="", description="Why, for the record (optional).")


def _poll_interval(timeout_seconds: int) -> int:
    return max(1, min(10, timeout_seconds // 10))


def request_approval(comparison: Comparison, choices: str | None = None) -> Approval:
    """Pause until a person approves or rejects; no answer within the timeout rejects.

    choices: what each answer does, when it is not the promotion of the comparison's challenger
    (the watch's rollback to the previous champion).
    """
    logger = get_run_logger()
    timeout = comparison.rules.approval_timeout_seconds
    choices = choices or describe_choices(comparison)
    description = f"{render_approval_markdown(comparison)}\n\n{choices}"
    logger.info("waiting up to %d s for approval of %s", timeout, comparison.comparison_id)
    try:
        answer = pause_flow_run(
            wait_for_input=ApprovalInput.with_initial_data(description=description),
            timeout=timeout,
            poll_interval=_poll_interval(timeout),
            key=f"approve-{comparison.comparison_id}",
        )
    except FlowPauseTimeout:
        _resume_after_timeout()
        logger.info("no answer within %d s: rejected", timeout)
        return Approval(
            approved=False,
            reviewer="(nobody)",
            note=f"no answer within the approval timeout of {timeout} s",
            decided_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
    logger.info("approval answer from %s: %s", answer.reviewer, answer.decision)
    return Approval(
        approved=answer.decision == "approve",
        reviewer=answer.reviewer.strip(),
        note=answer.note,
        decided_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def describe_choices(comparison: Comparison) -> str:
    """What each answer of the form does to this comparison's models, in the form's words."""
    challenger = comparison.challenger.version
    champion = comparison.champion.version if comparison.champion else None
    replaces = f"in place of {champion}" if champion else "(the registry has none yet)"
    keeps = f"{champion} stays champion" if champion else "the registry stays without a champion"
    return (
        "**Choose a decision and give your name; both are required.**\n\n"
        f"- **approve**: {challenger} becomes champion {replaces}.\n"
        f"- **reject**: {keeps}; {challenger} is marked rejected and is not compared again.\n\n"
        "Your name and note are recorded in the comparison and the alias history. "
        f"No answer within {comparison.rules.approval_timeout_seconds} s rejects."
    )


def _resume_after_timeout() -> None:
    """Set the still-paused run back to running, so the rejection can be recorded by tasks.

    The server refuses to start task runs of a paused flow run; the timeout is our answer.
    """
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    flow_run_id = context.flow_run.id

    def resume() -> None:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(flow_run_id, Running(), force=True)

    call_api("setting the paused promote run back to running", resume, idempotent=True)
