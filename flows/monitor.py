"""monitor: compare the current window with the champion's reference; retrain and promote if the
policy says so. With no champion yet, bootstrap one first."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from flows.promote import promote_flow
from flows.retrain import retrain_flow
from tasks.cli.common import DEFAULT_CONFIG, base_parser, run_cli
from tasks.config import Config
from tasks.core.gate import Comparison
from tasks.core.outcomes import (
    MonitorResult,
    MonitorStatus,
    monitor_events,
    status_after_retrain,
    status_without_retrain,
)
from tasks.core.windows import plan_windows, resolve_as_of
from tasks.errors import ModelError
from tasks.orchestration.artifacts import publish_monitor_summary
from tasks.orchestration.runtime import emit_model_event, load_run_config, resolve_mode
from tasks.orchestration.tasks import (
    decide_on_history,
    measure_window,
    record_dashboard,
    record_run,
)
from tasks.render.reporting import render_comparison, render_summary
from tasks.stores.registry import ModelRegistry, open_registry


@flow(name="monitor", log_prints=True)
def monitor_flow(
    config_path: str = DEFAULT_CONFIG, as_of: str | None = None, mode: str | None = None
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
    config = load_run_config(config_path)
    run_mode = resolve_mode(config, mode)
    moment = resolve_as_of(config, as_of)
    plan = plan_windows(config, moment)
    registry = open_registry(config.registry.path, config.name)
    bootstrap = bootstrap_champion(config_path, moment, registry)
    champion = _champion(registry)

    signals = measure_window(config, plan.current, champion, _report_dir(config, moment))
    decision = decide_on_history(config, signals, moment, champion)
    context = {"config_path": config_path, "as_of": moment.isoformat()}
    for name, payload in monitor_events(decision, signals):
        emit_model_event(config, name, {**payload, **context})

    comparison: Comparison | None = None
    status: MonitorStatus
    if not decision.retrain:
        status = status_without_retrain(decision, signals)
    elif run_mode == "events":
        emit_model_event(
            config,
            "retrain.requested",
            {**context, "reason": f"monitor: {decision.trigger}", "request_id": _request_id()},
        )
        status = "retrain-requested"
    else:
        retrained = retrain_flow(config_path, moment.isoformat(), f"monitor: {decision.trigger}")
        promoted = None
        if retrained.version is not None:
            promoted = promote_flow(config_path, moment.isoformat(), retrained.version)
            comparison = promoted.comparison
        status = status_after_retrain(retrained.status, promoted.status if promoted else None)
    record_run(config, moment, champion, decision, status, bootstrapped=bootstrap is not None)
    dashboard = record_dashboard(config, moment, champion, signals, decision, status)

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
        dashboard=dashboard,
    )
    publish_monitor_summary(result)
    return result


def bootstrap_champion(
    config_path: str, moment: datetime, registry: ModelRegistry
) -> Comparison | None:
    """With no champion yet, train (or adopt) the first model and promote it through the gate.

    Returns the bootstrap's comparison, or None when a champion already exists.
    """
    if registry.get_alias("champion") is not None:
        return None
    started = retrain_flow(
        config_path, moment.isoformat(), "bootstrap: no champion yet", bootstrap=True
    )
    comparison = None
    if started.version is not None:
        comparison = promote_flow(
            config_path, moment.isoformat(), started.version, bootstrap=True
        ).comparison
    if registry.get_alias("champion") is None:
        detail = render_comparison(comparison) if comparison else started.message
        raise ModelError(
            f"the first model did not become champion, so there is nothing to monitor:\n{detail}\n"
            "Lower policy.performance_threshold, or check the bootstrap window and the labels."
        )
    return comparison


def _champion(registry: ModelRegistry) -> str:
    champion = registry.get_alias("champion")
    if champion is None:  # bootstrap_champion leaves one or raises
        raise ModelError("no champion after bootstrapping: run the monitor again")
    return champion


def _report_dir(config: Config, moment: datetime) -> Path:
    """A directory per run for its HTML reports: the window's end, then the wall-clock time."""
    run = f"{moment:%Y%m%dT%H%M}-run-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    return config.reports.path / config.name / run


def _request_id() -> str:
    """The id that makes a retrain request idempotent: this flow run's, or a local one."""
    return flow_run.get_id() or f"local-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"


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
