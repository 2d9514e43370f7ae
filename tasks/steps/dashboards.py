"""The monitoring history in Evidently's UI: each monitor run adds a snapshot to the workspace,
a directory on this machine or an `evidently ui` service (reports.workspace).

A dashboard is for people watching the model: a problem writing it is logged and reported in
the run's summary, and never changes or fails the run's decision.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from tasks.adapters.evidently_workspace import (
    DashboardWriteError,
    EvidentlyService,
    WindowPoint,
    WorkspaceLocation,
    WorkspaceWrite,
    add_window_point,
    remove_project,
)
from tasks.config import Config
from tasks.core.outcomes import DashboardUpdate
from tasks.core.policy import TriggerDecision
from tasks.core.quality import CHECKS
from tasks.core.quality_view import failed_share, failed_shares_by_check
from tasks.core.signals import Signals
from tasks.steps.commands import installed_command, shell_path
from tasks.steps.logs import step_logger

BACKTEST_SUFFIX = " (backtest)"


def workspace_location(config: Config) -> WorkspaceLocation:
    """Where the config's snapshots go: the `evidently ui` service of reports.workspace, else
    the local workspace directory (<reports.path>/workspace by default)."""
    reports = config.reports
    if reports.workspace_url is None:
        return reports.workspace_dir
    return EvidentlyService(
        reports.workspace_url,
        reports.workspace_secret,
        attempts=reports.workspace_retries.attempts,
        backoff_seconds=reports.workspace_retries.backoff_seconds,
    )


def window_point(
    as_of: datetime,
    champion: str | None,
    signals: Signals,
    decision: TriggerDecision,
    status: str,
) -> WindowPoint:
    """What the dashboard plots of one monitor run: the numbers the decision was made on."""
    quality = signals.quality
    return WindowPoint(
        as_of=as_of,
        status=status,
        champion=champion,
        drift_share=signals.drift_share,
        drift_threshold=decision.drift_threshold,
        column_scores={column.column: column.score for column in signals.columns},
        performance=signals.performance.value if signals.performance else None,
        performance_threshold=decision.performance_threshold,
        current_rows=signals.current_rows,
        labelled_rows=signals.performance.labelled_rows if signals.performance else 0,
        retrained=decision.retrain,
        promoted=status == "promoted",
        quality_failed_share=failed_share(quality) if quality is not None else None,
        quality_check_shares=failed_shares_by_check(quality) if quality is not None else {},
    )


def record_dashboard(
    config: Config,
    as_of: datetime,
    champion: str | None,
    signals: Signals,
    decision: TriggerDecision,
    status: str,
    *,
    workspace: WorkspaceLocation | None = None,
    backtest: bool = False,
) -> DashboardUpdate:
    """Add this run to the model's project in Evidently's UI; say where, or what went wrong.

    Never raises: the run's decision stands whatever happens to its dashboard. workspace: where
    to write instead of the config's reports.workspace (the backtest's replay).
    """
    location = workspace if workspace is not None else workspace_location(config)
    project = backtest_project(config) if backtest else config.name
    description = (
        f"autoretrain {'backtest replay' if backtest else 'monitoring'} of {config.name}: "
        f"one snapshot per monitor run, dated at its window's end"
    )
    try:
        written = add_window_point(
            location,
            project,
            description,
            config.policy.performance_metric.describe(),
            list(config.data.features),
            window_point(as_of, champion, signals, decision, status),
            CHECKS,
        )
    except Exception as error:  # any failure of the dashboard must leave the run standing
        problem = _problem(location, error)
        step_logger(__name__).warning(
            "the dashboard was NOT updated: %s (the decision stands)", problem
        )
        return DashboardUpdate(updated=False, detail=problem)
    return DashboardUpdate(updated=True, detail=_where(written))


def _problem(location: WorkspaceLocation, error: Exception) -> str:
    """What went wrong, naming the workspace; a service's secret masked."""
    if isinstance(error, DashboardWriteError):  # it names the service and says what to do
        problem = str(error)
    else:
        where = (
            f"the Evidently UI service at {location.url}"
            if isinstance(location, EvidentlyService)
            else f"the Evidently workspace {location}"
        )
        problem = f"cannot write {where}: {type(error).__name__}: {error}"
    return location.redact(problem) if isinstance(location, EvidentlyService) else problem


def _where(written: WorkspaceWrite) -> str:
    """The project, and the page (a service) or the command (a directory) that shows it."""
    location = written.location
    if isinstance(location, EvidentlyService):
        return f"project '{written.project}': {location.project_page(written.project_id)}"
    command = f"{evidently_command()} ui --workspace {shell_path(location)}"
    return f"project '{written.project}' (see it: {command})"


def evidently_command() -> str:
    """This environment's `evidently`, written so that it runs as printed."""
    return installed_command("evidently")


def backtest_project(config: Config) -> str:
    return config.name + BACKTEST_SUFFIX


def reset_backtest_dashboard(config: Config, workspace: WorkspaceLocation) -> bool:
    """Start the backtest's project afresh, so a second replay does not double its points.

    Returns False, having said why, when the workspace cannot be reset: the replay then goes on
    without its dashboard.
    """
    try:
        remove_project(workspace, backtest_project(config))
    except Exception as error:  # the replay itself matters more than its dashboard
        step_logger(__name__).warning(
            "could not reset the backtest's project: %s; the replay goes on without its dashboard",
            _problem(workspace, error),
        )
        return False
    return True


def replay_location(workspace: WorkspaceLocation) -> WorkspaceLocation:
    """Where a replay writes its windows: a service is tried once per window, not retried (a
    service that died mid-replay would cost the whole back-off on every remaining window)."""
    if isinstance(workspace, EvidentlyService):
        return dataclasses.replace(workspace, attempts=1)
    return workspace
