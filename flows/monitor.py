"""monitor: compare the current window with the champion's reference; retrain and promote if the
policy says so. With no champion yet, bootstrap one first."""

from __future__ import annotations

import argparse
import sys

if __name__ == "__main__":
    # The options, the config and the stores are checked before the imports below (Prefect,
    # scikit-learn: seconds): --help or a bad config answers at once (tasks/cli/scripts.py).
    from tasks.cli.scripts import launch

    sys.exit(launch("monitor"))

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.promote import promote_flow
from flows.retrain import retrain_flow
from flows.rollback import rollback_flow
from tasks.cli.common import run_flow_call
from tasks.cli.scripts import DEFAULT_CONFIG, launch
from tasks.config import Config
from tasks.core.gate import Comparison
from tasks.core.outcomes import (
    MonitorResult,
    MonitorStatus,
    RetrainRequest,
    describe_decision,
    monitor_events,
    status_after_retrain,
    status_without_retrain,
)
from tasks.core.retention import report_run_name
from tasks.core.windows import fixed_as_of_warning, plan_windows, resolve_as_of
from tasks.errors import ModelError
from tasks.orchestration.approval import request_approval
from tasks.orchestration.artifacts import publish_monitor_summary
from tasks.orchestration.runtime import (
    RunMode,
    emit_model_event,
    is_deployment_run,
    load_run_config,
    resolve_mode,
)
from tasks.orchestration.stores import run_stores, sharing_stores
from tasks.orchestration.tasks import (
    decide_on_history,
    draw_reports,
    measure_window,
    publish_reports,
    record_approval,
    record_monitor_run,
    watch_champion,
)
from tasks.render.reporting import render_comparison, render_summary
from tasks.steps.monitoring import describe_rerun
from tasks.steps.watch import WATCH_ACTOR, WatchOutcome, describe_rollback_choices
from tasks.stores.registry import ModelRegistry
from tasks.stores.resources import Stores


@flow(name="monitor", log_prints=True)
def monitor_flow(
    config_path: str = DEFAULT_CONFIG,
    as_of: str | None = None,
    mode: RunMode | None = None,
) -> MonitorResult:
    """Measure drift and performance of the current window, decide, and act on the decision.

    Args:
        config_path: Path of the config.yaml to run, relative to the working directory (a
            deployment run accepts only a config inside the project).
        as_of: ISO time the current window ends at; default windows.as_of, else now.
        mode: inline runs retrain and promote as subflows; events emits
            autoretrain.retrain.requested for the retrain deployment's trigger instead; auto
            (the default of orchestration.mode) is events in a deployment run, else inline.
    """
    logger = get_run_logger()
    config = load_run_config(config_path)
    run_mode = resolve_mode(config, mode)
    if warning := fixed_as_of_warning(config, as_of, is_deployment_run()):
        logger.warning(warning)
    moment = resolve_as_of(config, as_of)
    plan = plan_windows(config, moment)
    stores = run_stores(config)
    bootstrap = bootstrap_champion(config_path, moment, stores)
    champion = _champion(stores.registry)

    report_dir = _report_dir(config, moment)
    measured = measure_window(
        config, stores, plan.current, champion, drawn=config.reports.html == "always"
    )
    signals = measured.signals
    decision = decide_on_history(config, stores, signals, moment, champion)
    logger.info("%s: %s", config.name, describe_decision(decision))
    context = {"config_path": config_path, "as_of": moment.isoformat()}
    for name, payload in monitor_events(decision, signals):
        emit_model_event(config, name, {**payload, **context})

    watched = watch_champion(config, stores, plan.current, champion, moment, signals.quality)
    # The HTML reports (reports.html), before a retrain or rollback changes the champion.
    signals = draw_reports(
        config,
        plan.current,
        champion,
        measured,
        decision,
        report_dir,
        watched.decision if watched else None,
    )
    status: MonitorStatus
    comparison: Comparison | None
    request: RetrainRequest | None
    if watched is not None and roll_back_on_watch(config, stores, config_path, watched):
        # The rollback is this run's action: the restored champion is judged from the next run.
        status, comparison, request = "rolled-back", None, None
    elif decision.retrain:
        status, comparison, request = request_retrain(
            config,
            stores,
            config_path,
            moment,
            f"monitor: {decision.trigger}",
            run_mode,
            ",".join(decision.confirmed),
        )
    else:
        status, comparison, request = status_without_retrain(decision, signals), None, None
    # The history's record, then the dashboard's point.
    recorded = record_monitor_run(
        config,
        stores,
        moment,
        champion,
        signals,
        decision,
        status,
        bootstrapped=bootstrap is not None,
        request_id=request.request_id if request else None,
        watch=watched.decision if watched else None,
    )

    result = MonitorResult(
        status=status,
        model_name=config.name,
        window=plan.current,
        champion_before=champion,
        champion_after=stores.registry.get_alias("champion"),
        signals=signals,
        decision=decision,
        comparison=comparison,
        bootstrap=bootstrap,
        retrain_request=request,
        dashboard=recorded.dashboard,
        rerun=describe_rerun(recorded.history, moment),
        watch=watched.decision if watched else None,
    )
    # reports.keep applied, then this run's reports uploaded (MLflow registry).
    reports = publish_reports(
        config, stores, result, report_dir, moment, render_summary, flow_run.get_id()
    )
    result = replace(result, reports=reports)
    publish_monitor_summary(result, config_path)
    return result


def request_retrain(
    config: Config,
    stores: Stores,
    config_path: str,
    moment: datetime,
    reason: str,
    run_mode: str,
    breaches: str = "",
) -> tuple[MonitorStatus, Comparison | None, RetrainRequest | None]:
    """Retrain and promote as subflows (inline, with this run's stores), or ask the retrain
    deployment (events)."""
    if run_mode == "events":
        request = RetrainRequest("autoretrain.retrain.requested", _request_id(), reason)
        emit_model_event(
            config,
            "retrain.requested",
            {
                "config_path": config_path,
                "as_of": moment.isoformat(),
                "reason": reason,
                "request_id": request.request_id,
                "breaches": breaches or "none",
            },
        )
        get_run_logger().info(
            "emitted %s (request %s): %s", request.event, request.request_id, reason
        )
        return "retrain-requested", None, request
    with sharing_stores(stores):
        retrained = retrain_flow(config_path, moment.isoformat(), reason, breaches=breaches)
        if retrained.version is None:
            return status_after_retrain(retrained.status, None), None, None
        promoted = promote_flow(config_path, moment.isoformat(), retrained.version, reason=reason)
    return status_after_retrain(retrained.status, promoted.status), promoted.comparison, None


def roll_back_on_watch(
    config: Config, stores: Stores, config_path: str, watched: WatchOutcome
) -> bool:
    """Restore the previous champion the watch found better, as `autoretrain rollback` does
    (the rollback flow, with this run's stores), after a person's approval when
    promotion.approval.required asks for one; True when it was restored."""
    decision, comparison = watched.decision, watched.comparison
    if not decision.found_better or comparison is None:
        return False
    actor = WATCH_ACTOR
    if decision.action == "ask-approval":
        timeout = comparison.rules.approval_timeout_seconds
        approval = request_approval(comparison, describe_rollback_choices(decision, timeout))
        record_approval(config, stores, comparison.comparison_id, approval)
        if not approval.approved:
            get_run_logger().info(
                "rollback to %s not approved by %s: %s stays champion",
                decision.previous,
                approval.reviewer,
                decision.champion,
            )
            return False
        actor = approval.reviewer
    with sharing_stores(stores):
        rollback_flow(
            config_path,
            decision.previous,
            reason=decision.reason,
            actor=actor,
            expected_champion=decision.champion,
        )
    return True


def bootstrap_champion(config_path: str, moment: datetime, stores: Stores) -> Comparison | None:
    """With no champion yet, train (or adopt) the first model and promote it through the gate,
    as subflows with this run's stores.

    Returns the bootstrap's comparison, or None when a champion already exists.
    """
    registry = stores.registry
    if registry.get_alias("champion") is not None:
        return None
    with sharing_stores(stores):
        started = retrain_flow(
            config_path, moment.isoformat(), "bootstrap: no champion yet", bootstrap=True
        )
        comparison = None
        if started.version is not None:
            comparison = promote_flow(
                config_path,
                moment.isoformat(),
                started.version,
                bootstrap=True,
                reason="bootstrap: no champion yet",
            ).comparison
    if registry.get_alias("champion") is None:
        detail = render_comparison(comparison) if comparison else started.message
        raise ModelError(
            f"the first model did not become champion, so there is nothing to monitor:\n{detail}\n"
            "Loosen policy.performance_threshold (the worst acceptable value: lower it for "
            "f1/accuracy/r2, raise it for error metrics like mae), or check the bootstrap "
            "window and the labels."
        )
    return comparison


def _champion(registry: ModelRegistry) -> str:
    champion = registry.get_alias("champion")
    if champion is None:  # bootstrap_champion leaves one or raises
        raise ModelError("no champion after bootstrapping: run the monitor again")
    return champion


def _report_dir(config: Config, moment: datetime) -> Path:
    """A directory per run for its HTML reports: the window's end, then the wall-clock time."""
    return config.reports.path / config.name / report_run_name(moment, datetime.now(UTC))


def _request_id() -> str:
    """The id that makes a retrain request idempotent: this flow run's, or a local one."""
    return flow_run.get_id() or f"local-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"


def run(args: argparse.Namespace) -> int:
    """The command line's run, its options parsed and checked (tasks/cli/scripts.py)."""
    return run_flow_call(
        lambda: monitor_flow(args.config, args.as_of, args.mode),
        render_summary,
        debug=args.debug,
    )


def main(argv: list[str] | None = None) -> int:
    """`python flows/monitor.py` with argv: its options, its checks, then run."""
    return launch("monitor", argv)
