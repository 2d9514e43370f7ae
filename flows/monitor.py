"""monitor: compare the current window with the champion's reference; retrain and promote if the
policy says so. With no champion yet, bootstrap one first."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from prefect import flow
from prefect.runtime import flow_run

from flows.promote import promote_flow
from flows.retrain import retrain_flow
from tasks.cli.common import DEFAULT_CONFIG, base_parser, run_cli
from tasks.config import load_config
from tasks.core.gate import Comparison
from tasks.core.windows import plan_windows, resolve_as_of
from tasks.errors import ModelError
from tasks.orchestration.artifacts import publish_monitor_summary
from tasks.orchestration.runtime import check_config_path, emit_model_event, resolve_mode
from tasks.render.reporting import MonitorResult, monitor_events, render_comparison, render_summary
from tasks.steps.monitoring import decide_on_history, measure_window, record_run
from tasks.stores.registry import open_registry


@flow(name="monitor", log_prints=True)
def monitor_flow(
    config_path: str = DEFAULT_CONFIG, as_of: str | None = None, mode: str | None = None
) -> MonitorResult:
    """Measure drift and performance of the current window, decide, and act on the decision.

    mode (default: orchestration.mode): inline runs retrain and promote as subflows; events
    emits autoretrain.retrain.requested for the retrain deployment's trigger instead.
    """
    check_config_path(config_path)
    config = load_config(config_path)
    run_mode = resolve_mode(config, mode)
    moment = resolve_as_of(config, as_of)
    plan = plan_windows(config, moment)
    registry = open_registry(config.registry.path, config.name)

    bootstrap: Comparison | None = None
    if registry.get_alias("champion") is None:
        started = retrain_flow(
            config_path, moment.isoformat(), "bootstrap: no champion yet", bootstrap=True
        )
        if started.version is not None:
            bootstrap = promote_flow(
                config_path, moment.isoformat(), started.version, bootstrap=True
            ).comparison
        if registry.get_alias("champion") is None:
            detail = render_comparison(bootstrap) if bootstrap else started.message
            raise ModelError(
                f"the first model did not become champion, so there is nothing to monitor:\n{detail}\n"
                "Lower policy.performance_threshold, or check the bootstrap window and the labels."
            )
    champion = registry.get_alias("champion")
    assert champion is not None  # guaranteed above; narrows the type

    report_dir = (
        config.reports.path
        / config.name
        / f"{moment:%Y%m%dT%H%M}-run-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    )
    signals = measure_window(config, plan.current, champion, report_dir)
    decision = decide_on_history(config, signals, moment, champion)
    for name, payload in monitor_events(decision, signals):
        emit_model_event(
            config, name, {**payload, "config_path": config_path, "as_of": moment.isoformat()}
        )

    comparison: Comparison | None = None
    status = {"none": "drift-noted" if signals.drifted_columns else "healthy"}.get(
        decision.action, decision.action
    )
    if decision.retrain:
        reason = decision.trigger
        if run_mode == "events":
            emit_model_event(
                config,
                "retrain.requested",
                {
                    "config_path": config_path,
                    "as_of": moment.isoformat(),
                    "reason": f"monitor: {reason}",
                    "request_id": flow_run.get_id() or f"local-{datetime.now(UTC):%Y%m%dT%H%M%S%f}",
                },
            )
            status = "retrain-requested"
        else:
            retrained = retrain_flow(config_path, moment.isoformat(), f"monitor: {reason}")
            status = f"retrain-{retrained.status}"
            if retrained.version is not None:
                outcome = promote_flow(config_path, moment.isoformat(), retrained.version)
                comparison, status = outcome.comparison, outcome.status
    record_run(config, moment, champion, decision, status, bootstrapped=bootstrap is not None)

    result = MonitorResult(
        status=status,
        model_name=config.name,
        window=plan.current,
        champion_before=champion,
        champion_after=registry.get_alias("champion"),
        signals=signals,
        decision=decision,
        comparison=comparison,
        bootstrap=bootstrap,
    )
    publish_monitor_summary(result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument(
        "--as-of", help="ISO time the current window ends at (default: windows.as_of, else now)"
    )
    parser.add_argument(
        "--mode",
        choices=["auto", "inline", "events"],
        help="override orchestration.mode (default: the config's)",
    )
    args = parser.parse_args(argv)
    return run_cli(
        args.config, lambda: monitor_flow(args.config, args.as_of, args.mode), render_summary
    )


if __name__ == "__main__":
    sys.exit(main())
