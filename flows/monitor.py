"""monitor: compare the current window with the champion's reference; retrain and promote if the
policy says so. With no champion yet, bootstrap one first."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from prefect import flow

from flows.promote import promote_flow
from flows.retrain import retrain_flow
from tasks.cli import DEFAULT_CONFIG, base_parser, run_cli
from tasks.config import load_config
from tasks.errors import ModelError
from tasks.gate import Comparison
from tasks.monitoring import decide_on_history, measure_window, record_run
from tasks.publish import publish_monitor_summary
from tasks.registry import open_registry
from tasks.reporting import MonitorResult, render_comparison, render_summary
from tasks.windows import plan_windows, resolve_as_of


@flow(name="monitor", log_prints=True)
def monitor_flow(config_path: str = DEFAULT_CONFIG, as_of: str | None = None) -> MonitorResult:
    """Measure drift and performance of the current window, decide, and act on the decision."""
    config = load_config(config_path)
    moment = resolve_as_of(config, as_of)
    plan = plan_windows(config, moment)
    registry = open_registry(config.registry.path, config.name)

    bootstrap: Comparison | None = None
    if registry.get_alias("champion") is None:
        version = retrain_flow(
            config_path, moment.isoformat(), "bootstrap: no champion yet", bootstrap=True
        )
        bootstrap = promote_flow(
            config_path, moment.isoformat(), version, bootstrap=True
        ).comparison
        if registry.get_alias("champion") is None:
            raise ModelError(
                "the first model failed the promotion gate, so there is no champion to monitor:\n"
                f"{render_comparison(bootstrap)}\n"
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

    comparison: Comparison | None = None
    status = {"none": "drift-noted" if signals.drifted_columns else "healthy"}.get(
        decision.action, decision.action
    )
    if decision.retrain:
        reason = "; ".join(r for r in decision.reasons[:2])
        challenger = retrain_flow(config_path, moment.isoformat(), f"monitor: {reason}")
        outcome = promote_flow(config_path, moment.isoformat(), challenger)
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
    args = parser.parse_args(argv)
    return run_cli(args.config, lambda: monitor_flow(args.config, args.as_of), render_summary)


if __name__ == "__main__":
    sys.exit(main())
