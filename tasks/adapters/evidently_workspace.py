"""The Evidently workspace (what `evidently ui` shows): one project per model, one snapshot per
monitor run, dated at the window's end, and a dashboard of trends.

A snapshot holds the numbers the monitor decided on (drift share, each feature's drift score,
the metric, rows, labelled rows, retrained/promoted), each as Evidently's MeanValue of a one-row
dataset: the UI then plots exactly what the policy saw, not a second computation of it.

The workspace is a directory on this machine or a running `evidently ui` service (Evidently's
RemoteWorkspace), which every machine adds to. Writers of a directory take an exclusive file lock
on it, so overlapping monitor runs never interleave their writes of the project and dashboard
files. Writers of a service find the project by name or create it under an id derived from the
name, so two machines that create it at once create one project; a failed upload is retried,
and a retry first looks for the snapshot an earlier attempt may have added.

Evidently is imported inside the functions: importing it costs ~3 s and ~280 MB.
"""

from __future__ import annotations

import fcntl
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from tasks.errors import AutoretrainError
from tasks.secrets import SecretValue

logger = logging.getLogger(__name__)

LOCK_FILE = ".autoretrain.lock"
# The namespace of the projects' ids (project_id_for): fixed, so every machine derives the same.
PROJECT_NAMESPACE = uuid.UUID("0af846af-58d4-4506-a9a4-ecd5ae3bb1d5")
WRITE_ID = "autoretrain_write_id"  # snapshot metadata: finds a write whose answer was lost

DRIFT_SHARE = "drift_share"
DRIFT_THRESHOLD = "drift_threshold"
PERFORMANCE = "performance"
PERFORMANCE_THRESHOLD = "performance_threshold"
CURRENT_ROWS = "current_rows"
LABELLED_ROWS = "labelled_rows"
RETRAINED = "retrained"
PROMOTED = "promoted"
SCORE_PREFIX = "drift_score__"
QUALITY_FAILED_SHARE = "quality_failed_share"
QUALITY_PREFIX = "quality_failed_share__"

PANEL_TITLES = (
    "Share of drifted columns",
    "Drift score of each feature",
    "Performance against its threshold",
    "Rows and labelled rows per window",
    "Retrains and promotions",
    "Data quality: share of failed checks",
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
    # The share of the window's data-quality checks that failed, in all and per check (None:
    # the run checked none).
    quality_failed_share: float | None = None
    quality_check_shares: dict[str, float] = field(default_factory=dict)

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
        if self.quality_failed_share is not None:
            values[QUALITY_FAILED_SHARE] = self.quality_failed_share
            values.update(
                {
                    f"{QUALITY_PREFIX}{name}": share
                    for name, share in self.quality_check_shares.items()
                }
            )
        return values


@dataclass(frozen=True)
class EvidentlyService:
    """A running `evidently ui` service (reports.workspace as a URL) that every machine adds to.

    Writes carry the service's --secret (in the `evidently-secret` header); a write that cannot
    connect, times out or gets an HTTP 5xx is tried `attempts` times in all, waiting
    backoff_seconds, then twice that, and so on; a refusal (HTTP 4xx) is not retried.
    """

    url: str  # scheme://host:port, as reports.workspace checked it
    secret: SecretValue | None = None
    attempts: int = 4
    backoff_seconds: float = 2.0
    timeout_seconds: float = 10.0  # per HTTP request

    def project_page(self, project_id: str) -> str:
        """The project's dashboard in the service's UI."""
        return f"{self.url}/projects/{project_id}"

    def redact(self, text: str) -> str:
        return self.secret.redact(text) if self.secret is not None else text


# A directory on this machine (locked while written) or a service.
WorkspaceLocation = Path | EvidentlyService


@dataclass(frozen=True)
class WorkspaceWrite:
    """Where a monitor run's snapshot went."""

    location: WorkspaceLocation
    project: str
    project_id: str
    snapshot_id: str
    attempts: int = 1


class DashboardWriteError(AutoretrainError):
    """The Evidently workspace or service did not take the snapshot (after its attempts)."""


def project_id_for(name: str) -> uuid.UUID:
    """The id every writer gives the project of this name when it creates it: two machines that
    create it at the same moment create one project (a service stores a project under its id)."""
    return uuid.uuid5(PROJECT_NAMESPACE, name)


@contextmanager
def _locked(workspace: Path) -> Iterator[None]:
    workspace.mkdir(parents=True, exist_ok=True)
    with (workspace / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _panels(metric: str, features: list[str], checks: Sequence[str] = ()) -> list[Any]:
    """Every panel as bars: Evidently 0.7.23's UI draws a line panel as a smoothed curve (MUI's
    default monotone spline; a panel cannot ask for straight segments), which shows values
    between windows that were never measured, and labels a line panel whose values are all
    equal (one window) with a rounded tick, "1" for 0.5. A bar is one window's value exactly,
    and a bar axis starts at 0."""
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import bar_plot_panel

    # Each panel of PANEL_TITLES, in order: its series (column, legend), how wide it is and what
    # it shows.
    panels = [
        (
            [(DRIFT_SHARE, "drift share"), (DRIFT_THRESHOLD, "threshold")],
            "half",
            "Share of feature columns whose drift test failed, per window, next to the threshold",
        ),
        (
            [(f"{SCORE_PREFIX}{name}", name) for name in features],
            "half",
            "Each feature's drift score against the champion's reference "
            "(p-value or distance, per its method)",
        ),
        (
            [(PERFORMANCE, f"{metric} (realised)"), (PERFORMANCE_THRESHOLD, "retrain threshold")],
            "half",
            "The champion's metric on the window's labelled rows, next to the retrain threshold",
        ),
        (
            [(CURRENT_ROWS, "rows"), (LABELLED_ROWS, "labelled rows")],
            "half",
            "Rows in the window; labelled rows are those the metric used",
        ),
        (
            [(RETRAINED, "retrained"), (PROMOTED, "promoted")],
            "full",
            "1 at the end of a window after which a challenger was trained "
            "(retrained) and became champion (promoted)",
        ),
        (
            [(QUALITY_FAILED_SHARE, "all checks")]
            + [(f"{QUALITY_PREFIX}{check}", check) for check in checks],
            "full",
            "Share of the window's data-quality checks that failed, in all and per check "
            "(0: the data looks as the reference did; above 0: a feed may be broken)",
        ),
    ]
    return [
        bar_plot_panel(
            title=title,
            values=[
                PanelMetric(legend=legend, metric="MeanValue", metric_labels={"column": column})
                for column, legend in series
            ],
            description=description,
            size=size,
        )
        for title, (series, size, description) in zip(PANEL_TITLES, panels, strict=True)
    ]


def _project(workspace: Any, name: str, description: str) -> Any:
    """The project of this name: found, else created under the id every writer gives it."""
    from evidently.sdk.models import ProjectModel

    found = workspace.search_project(name)
    if found:
        # Ours if there; else the oldest (ids of Evidently's own projects grow with time).
        wanted = project_id_for(name)
        return min(found, key=lambda project: (project.id != wanted, str(project.id)))
    return workspace.add_project(
        ProjectModel(id=project_id_for(name), name=name, description=description)
    )


def _ensure_dashboard(
    workspace: Any, project_id: Any, metric: str, features: list[str], checks: Sequence[str] = ()
) -> None:
    """Give the project our panels, in one write, unless it has panels already: a person's
    stay as they are, ours of an earlier version are redrawn as today's, and get the panels
    added since (in the tab of our first). Writers that race write the same panels."""
    from evidently.sdk.models import DashboardModel, DashboardTabModel

    current = workspace.get_dashboard(project_id)
    panels = _panels(metric, features, checks)
    if current.panels:
        upgraded = _upgraded_panels(current.panels, panels)
        if upgraded is not None:
            tabs = _tabs_with(current.tabs, current.panels[0].id, panels[len(current.panels) :])
            workspace.save_dashboard(project_id, DashboardModel(tabs=tabs, panels=upgraded))
        return
    tab = DashboardTabModel(title="General", panels=[panel.id for panel in panels])
    workspace.save_dashboard(project_id, DashboardModel(tabs=[tab], panels=panels))


def _upgraded_panels(current: list[Any], wanted: list[Any]) -> list[Any] | None:
    """Our panels of an earlier version (the smoothed line panels, or fewer panels) drawn as
    today's, same ids and series, followed by the panels added since; None when they are
    today's already or not ours (a person changed them)."""
    titles = [panel.title for panel in current]
    if titles != list(PANEL_TITLES[: len(titles)]):
        return None
    drawn = all(
        old.plot_params == new.plot_params for old, new in zip(current, wanted, strict=False)
    )
    if drawn and len(current) == len(wanted):
        return None
    return [
        old.copy(update={"plot_params": new.plot_params, "subtitle": new.subtitle})
        for old, new in zip(current, wanted, strict=False)
    ] + wanted[len(current) :]


def _tabs_with(tabs: list[Any], beside: Any, added: list[Any]) -> list[Any]:
    """The dashboard's tabs with the added panels in the tab that holds the panel beside (each
    id once: a panel listed twice in a tab is drawn twice)."""
    if not added:
        return tabs
    ids = [panel.id for panel in added]
    return [
        tab.copy(update={"panels": [*tab.panels, *ids]}) if beside in tab.panels else tab
        for tab in tabs
    ]


def _snapshot(point: WindowPoint, write_id: str | None = None) -> Any:
    """The run's snapshot: each number as the result of Evidently's MeanValue over its column,
    as `Report([MeanValue(column=...)]).run` on a one-row dataset records it (the same metric
    ids, display names and value locations, which the dashboard's panels look up), built
    directly: the mean of one value is the value, and Report.run drew a plotly histogram of
    each one-row column (95% of its time, ~18 KB of JSON each) that no panel shows. The
    snapshot's page in the UI shows each number as a counter instead."""
    from evidently.core.report import Snapshot
    from evidently.core.serialization import ReportModel, SnapshotModel
    from evidently.legacy.model.widget import link_metric
    from evidently.legacy.renderers.html_widgets import CounterData, WidgetSize, counter
    from evidently.metrics import MeanValue

    metadata = {"status": point.status, "champion": point.champion or "none"}
    if write_id is not None:
        metadata[WRITE_ID] = write_id
    results: dict[Any, Any] = {}
    widgets: list[Any] = []
    for column, value in point.values().items():
        metric = MeanValue(column=column)
        calculation = metric.to_calculation()
        result = calculation.result(value)  # Evidently's display name and value location
        title = f"{result.display_name}: current: {value:.3f}"
        result.widget = [
            counter(
                title=title,
                counters=[CounterData.float(column, value, 3)],
                size=WidgetSize.FULL,
            )
        ]
        link_metric(result.widget, metric)
        results[calculation.id] = result
        widgets.extend(result.get_widgets())
    return Snapshot.load_model(
        SnapshotModel(
            report=ReportModel(items=[]),
            name=f"{point.as_of:%Y-%m-%d %H:%M} {point.status}",
            timestamp=point.as_of,
            metadata=metadata,
            tags=[point.status],
            metric_results=results,
            top_level_metrics=list(results),
            widgets=widgets,
            tests_widgets=[],
        )
    )


def add_window_point(
    location: WorkspaceLocation,
    project_name: str,
    description: str,
    metric: str,
    features: list[str],
    point: WindowPoint,
    checks: Sequence[str] = (),
) -> WorkspaceWrite:
    """Add one monitor run to the model's project (created, with its dashboard, on first use).

    checks: the names of the data-quality checks, one series each in the data-quality panel.
    Raises DashboardWriteError when a service refuses the write or stays unreachable.
    """
    if isinstance(location, EvidentlyService):
        write_id = uuid.uuid4().hex
        snapshot = _snapshot(point, write_id)
        return _add_to_service(
            location, project_name, description, metric, features, snapshot, write_id, checks
        )
    snapshot = _snapshot(point)
    with _locked(location):
        workspace = _local_workspace(location)
        # Ours by its id, one file read; else the search, which reads every project's metadata.
        ours = workspace.get_project(project_id_for(project_name))
        project = (
            ours
            if ours is not None and ours.name == project_name
            else _project(workspace, project_name, description)
        )
        _ensure_dashboard(workspace, project.id, metric, features, checks)
        reference = workspace.add_run(project.id, snapshot)
    return WorkspaceWrite(location, project_name, str(project.id), str(reference.id))


def _add_to_service(
    service: EvidentlyService,
    project_name: str,
    description: str,
    metric: str,
    features: list[str],
    snapshot: Any,
    write_id: str,
    checks: Sequence[str] = (),
) -> WorkspaceWrite:
    def write(client: Any, attempt: int) -> tuple[str, str]:
        project = _project(client, project_name, description)
        _ensure_dashboard(client, project.id, metric, features, checks)
        if attempt > 1:  # an earlier attempt may have added it and lost only the answer
            for item in client.snapshots(project.id):
                if (item.get("metadata") or {}).get(WRITE_ID) == write_id:
                    return str(project.id), str(item["id"])
        return str(project.id), str(client.add_run(project.id, snapshot).id)

    (project_id, snapshot_id), attempts = _on_service(service, write)
    return WorkspaceWrite(service, project_name, project_id, snapshot_id, attempts)


def remove_project(location: WorkspaceLocation, project_name: str) -> int:
    """Delete the projects of this name (a backtest replaces its replay); return how many."""
    if isinstance(location, EvidentlyService):

        def remove(client: Any, attempt: int) -> int:
            found = client.search_project(project_name)
            for project in found:
                client.delete_project(project.id)
            return len(found)

        removed, _ = _on_service(location, remove)
        return removed
    if not location.is_dir():
        return 0
    with _locked(location):
        workspace = _local_workspace(location)
        found = workspace.search_project(project_name)
        for project in found:
            workspace.delete_project(project.id)
    return len(found)


def _local_workspace(location: Path) -> Any:
    """Evidently's local Workspace over a directory, for its projects, dashboards and snapshots.

    Not `Workspace.create`: its constructor also builds a dataset manager, which reads and
    parses every snapshot of every project in the directory, so each write cost time in the
    number of snapshots the workspace held (a fleet of 100 models sharing one workspace: every
    model's run parsed all the others' snapshots; a model monitored daily: a year of them).
    The project, dashboard and snapshot methods used here read and write their own files.
    """
    return _local_workspace_class()(str(location))


@cache
def _local_workspace_class() -> type:
    from evidently.legacy.core import new_id
    from evidently.legacy.utils import NumpyEncoder
    from evidently.ui.storage.local.base import LocalState
    from evidently.ui.workspace import Workspace

    class SnapshotWorkspace(Workspace):
        def __init__(self, path: str) -> None:  # Workspace's own, without its dataset manager
            self.path = path
            self.state = LocalState(path)

        def _add_run(self, project_id: Any, snapshot: Any) -> Any:
            """Workspace's own write of the snapshot file, the same text, with json.dumps:
            Evidently's json.dump encodes in pure Python, 5-10x slower (~0.1 s a snapshot)."""
            snapshot_id = new_id()
            state = self.state
            state.location.makedirs(state._snapshot_dir(project_id))
            text = json.dumps(snapshot.to_snapshot_model().dict(), cls=NumpyEncoder)
            with state.location.open(state._snapshot_path(project_id, snapshot_id), "w") as file:
                file.write(text)
            return snapshot_id

    return SnapshotWorkspace


T = TypeVar("T")


def _on_service(service: EvidentlyService, action: Callable[[Any, int], T]) -> tuple[T, int]:
    """action(client, attempt), retried as the service's attempts allow; its result and the
    attempts it took. Every attempt starts afresh (connect, find the project)."""
    waited = 0.0
    for attempt in range(1, service.attempts + 1):
        try:
            return action(_connect(service), attempt), attempt
        except Exception as error:  # classified below: retried or reported, never re-raised
            problem, transient = _problem(service, error)
            if not transient or attempt == service.attempts:
                tried = f", {attempt} attempts over {waited:g} s" if attempt > 1 else ""
                raise DashboardWriteError(f"{problem}{tried}") from None
            delay = service.backoff_seconds * 2 ** (attempt - 1)
            logger.warning(
                "writing to the Evidently UI service failed (attempt %d of %d): %s; retrying "
                "in %g s",
                attempt,
                service.attempts,
                problem,
                delay,
            )
            time.sleep(delay)
            waited += delay
    raise AssertionError("unreachable: attempts >= 1")


def _connect(service: EvidentlyService) -> Any:
    """A client of the service that has checked it is an Evidently UI."""
    from evidently.legacy.ui.api.service import EVIDENTLY_APPLICATION_NAME

    client = _client_class()(
        service.url,
        secret=service.secret.reveal() if service.secret is not None else None,
        timeout=service.timeout_seconds,
    )
    try:
        application = client.get_json("/api/version").get("application")
    except (ValueError, AttributeError):  # not JSON, or not an object
        application = None
    if application != EVIDENTLY_APPLICATION_NAME:
        raise DashboardWriteError(
            f"{service.url} is not an Evidently UI service: GET /api/version did not name "
            f"'{EVIDENTLY_APPLICATION_NAME}' (check reports.workspace)"
        )
    return client


@cache
def _client_class() -> type:
    """Evidently's RemoteWorkspace, with a timeout on each request (it has none: a hung service
    would hang the run) and errors that keep their HTTP status."""
    import requests
    from evidently._pydantic_compat import parse_obj_as
    from evidently.ui.workspace import RemoteWorkspace

    class TimedRemoteWorkspace(RemoteWorkspace):
        def __init__(self, base_url: str, secret: str | None, timeout: float) -> None:
            self.timeout = timeout
            super().__init__(base_url, secret=secret, verify=False)

        def _request(  # the signature of RemoteBase._request, which every call goes through
            self,
            path: str,
            method: str,
            query_params: dict[str, Any] | None = None,
            body: dict[str, Any] | None = None,
            response_model: Any = None,
            cookies: Any = None,
            headers: dict[str, str] | None = None,
            form_data: bool = False,
        ) -> Any:
            request = self._prepare_request(
                path, method, query_params, body, cookies, headers, form_data=form_data
            )
            with requests.Session() as session:
                response = session.send(request.prepare(), timeout=self.timeout)
            response.raise_for_status()  # an HTTPError that carries the response
            if response_model is not None:
                return parse_obj_as(response_model, response.json())
            return response

        def get_json(self, path: str) -> Any:
            return self._request(path, "GET").json()

        def snapshots(self, project_id: Any) -> list[dict[str, Any]]:
            """The project's snapshots (id, name, metadata, timestamp)."""
            return list(self.get_json(f"/api/projects/{project_id}/snapshots"))

    return TimedRemoteWorkspace


def _problem(service: EvidentlyService, error: Exception) -> tuple[str, bool]:
    """What went wrong, in words (the secret masked), and whether trying again may help."""
    import requests

    problem, transient = str(error), False
    if isinstance(error, requests.Timeout):
        problem = (
            f"the Evidently UI service at {service.url} did not answer within "
            f"{service.timeout_seconds:g} s"
        )
        transient = True
    elif isinstance(error, requests.ConnectionError):
        found = re.search(r"\[Errno -?\d+\][^'\")\]]*", str(error))
        reason = found.group(0).strip() if found else type(error).__name__
        problem = f"cannot connect to the Evidently UI service at {service.url} ({reason})"
        transient = True
    elif isinstance(error, requests.HTTPError) and error.response is not None:
        problem, transient = _http_problem(service, error.response)
    elif not isinstance(error, DashboardWriteError):
        problem = f"{type(error).__name__}: {error}"
    return service.redact(problem), transient


def _http_problem(service: EvidentlyService, response: Any) -> tuple[str, bool]:
    status = response.status_code
    try:
        detail = str(response.json().get("detail") or response.reason)
    except (ValueError, AttributeError):
        detail = str(response.reason)
    if status in (401, 403):
        fix = (
            f"reports.workspace_secret (from {service.secret.origin}) is not the service's --secret"
            if service.secret is not None
            else "the service has a --secret: set reports.workspace_secret to it"
        )
        return (
            f"the Evidently UI service at {service.url} refused the write (HTTP {status} "
            f"{detail}): {fix}",
            False,
        )
    request = response.request
    where = f"{request.method} {urlsplit(request.url).path}" if request is not None else "a call"
    return (
        f"the Evidently UI service at {service.url} answered HTTP {status} ({detail}) to {where}",
        status >= 500 or status in (408, 429),
    )
