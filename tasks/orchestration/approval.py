"""Optional human approval of a promotion: pause the flow run until a person answers in Prefect.

The thin Prefect layer of the approval step; what the answer means is decided by the saved
comparison (tasks/promotion.py reads it back from the registry).
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.states import Running

from tasks.core.gate import Approval, Comparison
from tasks.render.reporting import render_comparison_markdown


class ApprovalInput(RunInput):
    """The form a reviewer fills in to resume the paused promote run."""

    approve: bool = False
    reviewer: str = ""
    note: str = ""


def _poll_interval(timeout_seconds: int) -> int:
    return max(1, min(10, timeout_seconds // 10))


def request_approval(comparison: Comparison) -> Approval:
    """Pause until a person approves or rejects; no answer within the timeout rejects."""
    logger = get_run_logger()
    timeout = comparison.rules.approval_timeout_seconds
    description = (
        f"{render_comparison_markdown(comparison)}\n\n"
        f"**Approve the promotion?** Set `approve` to true to promote, leave it false to reject. "
        f"No answer within {timeout} s rejects."
    )
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
    logger.info("approval answer from %s: approve=%s", answer.reviewer, answer.approve)
    return Approval(
        approved=answer.approve,
        reviewer=answer.reviewer.strip() or "(unnamed reviewer)",
        note=answer.note,
        decided_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _resume_after_timeout() -> None:
    """Set the still-paused run back to running, so the rejection can be recorded by tasks.

    The server refuses to start task runs of a paused flow run; the timeout is our answer.
    """
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(context.flow_run.id, Running(), force=True)
