"""The Evidently workspace (what `evidently ui` shows): one project per model, one snapshot per
monitor run, dated at the window's end, and a dashboard of trends.

A snapshot holds the numbers the monitor decided on (drift share, each feature's drift score,
the metric, rows, labelled rows, retrained/promoted), each as Evidently's MeanValue of a one-row
dataset: the UI then plots exactly what the policy saw, not a second computation of it. Writers
take an exclusive file lock on the workspace, so overlapping monitor runs never interleave their
writes of the project and dashboard files.

Evidently is imported inside the functions: importing it costs ~3 s and ~280 MB.
"""

from __future__ import annotations

import fcntl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

LOCK_FILE = ".autoretrain.lock"

DRIFT_SHARE = "drift_share"
DRIFT_THRESHOLD = "drift_threshold"
PERFORMANCE = "performance"
PERFORMANCE_THRESHOLD = "performance_threshold"
CURRENT_ROWS = "current_rows"
LABELLED_ROWS = "labelled_rows"
RETRAINED = "retrained"
PROMOTED = "promoted"
SCORE_PREFIX = "drift_score__"

PANEL_TITLES = (
    "Share of drifted columns",
    "Drift score of each feature",
    "Performance against its threshold",
    "Rows and labelled rows per window",
    "Retrains and promotions",
)


@dataclass(frozen=True)
class WindowPoint:
    """The numbers of one monitor run, as the dashboard plots them."""

    as_of: datetime  # the window's end: the snapshot's timestamp
    status: str
    champion: str | None
    drift_share: float | None
    drift_threshold: float
    column_scores: dict[str, float]
    performance: float | None
    performance_threshold: float
    current_rows: int
    labelled_rows: int
    retrained: bool
    promoted: bool

    def values(self) -> dict[str, float]:
        """Every number to record; a missing one (no labelled rows) is left out, not zero."""
        values: dict[str, float] = {
            DRIFT_THRESHOLD: self.drift_threshold,
            PERFORMANCE_THRESHOLD: self.performance_threshold,
            CURRENT_ROWS: float(self.current_rows),
            LABELLED_ROWS: float(self.labelled_rows),
            RETRAINED: float(self.retrained),
            PROMOTED: float(self.promoted),
        }
        if self.drift_share is not None:
            values[DRIFT_SHARE] = self.drift_share
        if self.performance is not None:
            values[PERFORMANCE] = self.performance
        values.update(
            {f"{SCORE_PREFIX}{name}": score for name, score in self.column_scores.items()}
        )
        return values


@dataclass(frozen=True)
class WorkspaceWrite:
    """Where a monitor run's snapshot went."""

    workspace: Path
    project: str
    project_id: str
    snapshot_id: str


@contextmanager
def _locked(workspace: Path) -> Iterator[None]:
    workspace.mkdir(parents=True, exist_ok=True)
    with (workspace / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _panels(metric: str, features: list[str]) -> list[Any]:
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import bar_plot_panel, line_plot_panel

    def series(column: str, legend: str) -> Any:
        return PanelMetric(legend=legend, metric="MeanValue", metric_labels={"column": column})

    return [
        line_plot_panel(
            title=PANEL_TITLES[0],
            values=[series(DRIFT_SHARE, "drift share"), series(DRIFT_THRESHOLD, "threshold")],
            description="Share of feature columns whose drift test failed, per window",
            size="half",
        ),
        line_plot_panel(
            title=PANEL_TITLES[1],
            values=[series(f"{SCORE_PREFIX}{name}", name) for name in features],
            description="Each feature's drift score against the champion's reference "
            "(p-value or distance, per its method)",
            size="half",
        ),
        line_plot_panel(
            title=PANEL_TITLES[2],
            values=[
                series(PERFORMANCE, f"{metric} (realised)"),
                series(PERFORMANCE_THRESHOLD, "retrain threshold"),
            ],
            description="The champion's metric on the window's labelled rows",
            size="half",
        ),
        bar_plot_panel(
            title=PANEL_TITLES[3],
            values=[series(CURRENT_ROWS, "rows"), series(LABELLED_ROWS, "labelled rows")],
            description="Rows in the window; labelled rows are those the metric used",
            size="half",
        ),
        bar_plot_panel(
            title=PANEL_TITLES[4],
            values=[series(RETRAINED, "retrained"), series(PROMOTED, "promoted")],
            description="1 at the end of a window after which a challenger was trained "
            "(retrained) and became champion (promoted)",
            size="full",
        ),
    ]


def _project(workspace: Any, name: str, description: str, metric: str, features: list[str]) -> Any:
    """The model's project, created with its dashboard on first use."""
    found = workspace.search_project(name)
    if found:
        return found[0]
    project = workspace.create_project(name, description=description)
    for panel in _panels(metric, features):
        project.dashboard.add_panel(panel)
    return project


def _snapshot(point: WindowPoint) -> Any:
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import MeanValue

    values = point.values()
    frame = pd.DataFrame({column: [value] for column, value in values.items()})
    definition = DataDefinition(numerical_columns=list(values))
    report = Report(
        [MeanValue(column=column) for column in values],
        metadata={"status": point.status, "champion": point.champion or "none"},
        tags=[point.status],
    )
    with warnings.catch_warnings():
        # Evidently's stack emits deprecation noise that is not ours to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return report.run(
            Dataset.from_pandas(frame, data_definition=definition),
            None,
            timestamp=point.as_of,
            name=f"{point.as_of:%Y-%m-%d %H:%M} {point.status}",
        )


def add_window_point(
    workspace_path: Path,
    project_name: str,
    description: str,
    metric: str,
    features: list[str],
    point: WindowPoint,
) -> WorkspaceWrite:
    """Add one monitor run to the model's project (created, with its dashboard, on first use)."""
    from evidently.ui.workspace import Workspace

    snapshot = _snapshot(point)
    with _locked(workspace_path):
        workspace = Workspace.create(str(workspace_path))
        project = _project(workspace, project_name, description, metric, features)
        reference = workspace.add_run(project.id, snapshot)
    snapshot_id = getattr(reference, "id", None) or getattr(reference, "snapshot_id", "")
    return WorkspaceWrite(workspace_path, project_name, str(project.id), str(snapshot_id))


def remove_project(workspace_path: Path, project_name: str) -> int:
    """Delete the projects of this name (a backtest replaces its replay); return how many."""
    from evidently.ui.workspace import Workspace

    if not workspace_path.is_dir():
        return 0
    with _locked(workspace_path):
        workspace = Workspace.create(str(workspace_path))
        found = workspace.search_project(project_name)
        for project in found:
            workspace.delete_project(project.id)
    return len(found)
