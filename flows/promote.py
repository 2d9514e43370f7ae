"""promote: score champion and challenger on the same holdout; only the comparison's verdict promotes."""

from __future__ import annotations

import argparse
import sys

if __name__ == "__main__":
    # The options, the config and the stores are checked before the imports below (Prefect,
    # scikit-learn: seconds): --help or a bad config answers at once (tasks/cli/scripts.py).
    from tasks.cli.scripts import launch

    sys.exit(launch("promote"))

from prefect import flow, get_run_logger

from tasks.cli.common import run_flow_call
from tasks.cli.scripts import DEFAULT_CONFIG, launch
from tasks.core.outcomes import comparison_summary, describe_trigger
from tasks.core.reasons import reason_records
from tasks.core.windows import Window, plan_bootstrap, plan_windows, resolve_as_of
from tasks.errors import RegistryError
from tasks.orchestration.approval import request_approval
from tasks.orchestration.artifacts import (
    publish_comparison,
    publish_model_card,
    publish_step_outcome,
)
from tasks.orchestration.runtime import (
    Busy,
    current_run_context,
    emit_model_event,
    load_run_config,
    model_slot,
)
from tasks.orchestration.stores import run_stores
from tasks.orchestration.tasks import (
    evaluate_on_holdout,
    promote_challenger,
    record_approval,
    record_request_outcome,
    write_model_card,
)
from tasks.render.card import render_card_markdown
from tasks.render.reporting import render_comparison
from tasks.steps.promotion import PromotionOutcome
from tasks.steps.watch import describe_judged


@flow(name="promote", log_prints=True)
def promote_flow(
    config_path: str = DEFAULT_CONFIG,
    as_of: str | None = None,
    challenger_version: str | None = None,
    bootstrap: bool = False,
    reason: str = "requested",
    request_id: str | None = None,
) -> PromotionOutcome:
    """Compare the challenger (default: the `challenger` alias) with the champion, then act on it.

    With promotion.approval.required, a promotion the gate allows waits for a person's answer.

    Args:
        config_path: Path of the config.yaml to run, relative to the working directory (a
            deployment run accepts only a config inside the project).
        as_of: ISO time the windows end at; default windows.as_of, else now. Champion and
            challenger are scored on the holdout that ends here, which neither trained on.
        challenger_version: Version to judge, like v0002; default the `challenger` alias.
        bootstrap: Judge the first model on the bootstrap holdout (there is no champion).
        reason: Why the challenger was trained (the retrain's reason), for the log and the
            outcome artifact.
        request_id: Id of the retrain request behind the challenger (the monitor's flow run),
            for the log and the outcome artifact; the verdict is also written onto that monitor
            run's record in the monitoring history.
    """
    logger = get_run_logger()
    config = load_run_config(config_path)
    moment = resolve_as_of(config, as_of)
    plan = plan_bootstrap(config, moment) if bootstrap else plan_windows(config, moment)
    stores = run_stores(config)
    registry = stores.registry
    challenger = challenger_version or registry.get_alias("challenger")
    if challenger is None:
        raise RegistryError("no challenger to promote: run the retrain flow first")
    trigger = describe_trigger(reason, request_id)
    logger.info("promotion of %s challenger %s %s", config.name, challenger, trigger)
    decided = registry.get_version(challenger).status
    if decided != "registered":
        # A challenger is judged once: a second event for it (at-least-once delivery) is a no-op.
        message = describe_judged(challenger, decided)
        logger.warning(message)
        publish_step_outcome(config.name, "promote", "duplicate", message, trigger)
        return PromotionOutcome(status="duplicate", comparison=None)
    try:
        with model_slot(config, "promote"):
            # A change-aware challenger may have moved the holdout to rows after the change.
            holdout_window = registry.get_version(challenger).holdout_window
            holdout = Window.from_dict(holdout_window) if holdout_window else plan.holdout
            comparison = evaluate_on_holdout(config, stores, holdout, challenger)
            publish_comparison(comparison)
            if comparison.needs_approval:
                # The slot stays held while a person decides: one promotion at a time.
                approval = request_approval(comparison)
                comparison = record_approval(config, stores, comparison.comparison_id, approval)
            status = promote_challenger(config, stores, comparison.comparison_id)
    except Busy as busy:
        logger.warning(str(busy))
        publish_step_outcome(config.name, "promote", "dropped", str(busy), trigger)
        record_request_outcome(config, stores, request_id, "dropped")
        return PromotionOutcome(status="dropped", comparison=None)
    # Events mode: the monitor run that asked for this challenger shows the verdict.
    record_request_outcome(config, stores, request_id, status)
    if status == "promoted":
        card = write_model_card(
            config,
            stores,
            challenger,
            "bootstrap" if comparison.bootstrap else "promotion",
            current_run_context(reason, request_id, config_path),
            render_card_markdown,
            comparison.comparison_id,
        )
        publish_model_card(config.name, card, challenger)
    emit_model_event(
        config,
        f"model.{status}",
        {
            "config_path": config_path,
            "comparison_id": comparison.comparison_id,
            "verdict": comparison.verdict,
            "challenger": challenger,
            "champion": comparison.champion.version if comparison.champion else "none",
            "difference": comparison.difference,
            "reasons": list(comparison.reasons),
            "reason_codes": reason_records(comparison.reason_codes),
            "summary": comparison_summary(comparison),
        },
    )
    message = f"{challenger}: {status} (verdict {comparison.verdict}, comparison {comparison.comparison_id})"
    logger.info(message)
    publish_step_outcome(config.name, "promote", status, message, trigger)
    return PromotionOutcome(status=status, comparison=comparison)


def _render(outcome: PromotionOutcome) -> str:
    if outcome.comparison is None:
        return f"status: {outcome.status}"
    return f"{render_comparison(outcome.comparison)}\n\nstatus: {outcome.status}"


def run(args: argparse.Namespace) -> int:
    """The command line's run, its options parsed and checked (tasks/cli/scripts.py)."""
    return run_flow_call(
        lambda: promote_flow(args.config, args.as_of, args.challenger),
        _render,
        debug=args.debug,
    )


def main(argv: list[str] | None = None) -> int:
    """`python flows/promote.py` with argv: its options, its checks, then run."""
    return launch("promote", argv)
