"""The monitoring history in Evidently's UI: each monitor run adds a snapshot to the workspace.

A dashboard is for people watching the model: a problem writing it is logged and reported in
the run's summary, and never changes or fails the run's decision.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tasks.adapters.evidently_workspace import WindowPoint, add_window_point, remove_project
from tasks.config import Config
from tasks.core.policy import TriggerDecision
from tasks.core.signals import Signals
from tasks.steps.logs import step_logger

WORKSPACE_DIR = "workspace"
BACKTEST_SUFFIX = " (backtest)"


def workspace_path(config: Config) -> Path:
    """The Evidently workspace of the config's models: <reports.path>/workspace."""
    return config.reports.path / WORKSPACE_DIR


def window_point(
    as_of: datetime,
    champion: str | None,
    signals: Signals,
    decision: TriggerDecision,
    status: str,
) -> WindowPoint:
    """What the dashboard plots of one monitor run: the numbers the decision was made on."""
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
    )


def record_dashboard(
    config: Config,
    as_of: datetime,
    champion: str | None,
    signals: Signals,
    decision: TriggerDecision,
    status: str,
    *,
    workspace: Path | None = None,
    backtest: bool = False,
) -> str:
    """Add this run to the model's project in the Evidently workspace; return one line for the
    summary. Never raises: the run's decision stands whatever happens to its dashboard."""
    path = workspace or workspace_path(config)
    project = backtest_project(config) if backtest else config.name
    description = (
        f"autoretrain {'backtest replay' if backtest else 'monitoring'} of {config.name}: "
        f"one snapshot per monitor run, dated at its window's end"
    )
    try:
        written = add_window_point(
            path,
            project,
            description,
            config.policy.performance_metric.describe(),
            list(config.data.features),
            window_point(as_of, champion, signals, decision, status),
        )
    except Exception as error:  # any failure of the dashboard must leave the run standing
        step_logger(__name__).warning(
            "could not add this run to the Evidently workspace %s: %s: %s (the decision stands)",
            path,
            type(error).__name__,
            error,
        )
        return f"NOT updated: {type(error).__name__}: {error} (the decision stands)"
    return f"project '{written.project}' (see it: evidently ui --workspace {written.workspace})"


def backtest_project(config: Config) -> str:
    return config.name + BACKTEST_SUFFIX


def reset_backtest_dashboard(config: Config, workspace: Path) -> None:
    """Start the backtest's project afresh, so a second replay does not double its points."""
    try:
        remove_project(workspace, backtest_project(config))
    except Exception as error:  # the replay itself matters more than its dashboard
        step_logger(__name__).warning("could not reset the backtest's project: %s", error)
