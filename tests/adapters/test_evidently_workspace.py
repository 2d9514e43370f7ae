"""The Evidently workspace writer: snapshots the dashboard can plot, safe beside other writers."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tasks.adapters.evidently_workspace import (
    PANEL_TITLES,
    WindowPoint,
    add_window_point,
    remove_project,
)
from tasks.core.policy import TriggerDecision
from tasks.core.quality import CHECKS
from tasks.core.signals import ColumnDrift, Performance, Signals
from tasks.steps.dashboards import evidently_command, record_dashboard, window_point
from tests.helpers import make_decision, repo_config

FEATURES = ["temp_max", "wind"]


def _point(day: int, performance: float | None = 0.6, promoted: bool = False) -> WindowPoint:
    return WindowPoint(
        as_of=datetime(2014, 1, 1) + timedelta(days=day),
        status="promoted" if promoted else "healthy",
        champion="v0001",
        drift_share=0.5,
        drift_threshold=0.5,
        column_scores={"temp_max": 0.03, "wind": 0.4},
        performance=performance,
        performance_threshold=0.45,
        current_rows=90,
        labelled_rows=0 if performance is None else 60,
        retrained=promoted,
        promoted=promoted,
        quality_failed_share=0.0,
    )


def _add(workspace: Path, point: WindowPoint, project: str = "model-a") -> None:
    add_window_point(workspace, project, "a test project", "f1 (macro)", FEATURES, point)


def _snapshots(workspace: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(workspace.glob("*/snapshots/*.json"))]


def _series(snapshot: dict) -> dict[str, float]:
    """The MeanValue results of a snapshot by their column, as the UI's data series read them."""
    found = {}
    for result in snapshot["metric_results"].values():
        metric = result["metric_value_location"]["metric"]
        assert metric["params"]["type"] == "evidently:metric_v2:MeanValue"
        found[metric["params"]["column"]] = result["value"]
    return found


def test_every_panel_series_finds_its_value_in_the_snapshot(tmp_path: Path) -> None:
    _add(tmp_path, _point(0))
    _add(tmp_path, _point(30, promoted=True))

    from evidently.ui.workspace import Workspace

    workspace = Workspace.create(str(tmp_path))
    (project,) = workspace.search_project("model-a")
    dashboard = project.dashboard.model()
    assert [panel.title for panel in dashboard.panels] == list(PANEL_TITLES)
    snapshots = _snapshots(tmp_path)
    assert sorted(s["timestamp"][:10] for s in snapshots) == ["2014-01-01", "2014-01-31"]
    for snapshot in snapshots:
        values = _series(snapshot)
        for panel in dashboard.panels:
            for series in panel.values:
                assert series.metric == "evidently:metric_v2:MeanValue"
                assert series.metric_labels["column"] in values, (panel.title, series)
    latest = _series(max(snapshots, key=lambda s: s["timestamp"]))
    assert latest["promoted"] == 1.0 and latest["retrained"] == 1.0
    assert latest["drift_score__wind"] == pytest.approx(0.4)
    assert latest["performance"] == pytest.approx(0.6)


def _dashboard(workspace: Path, project: str = "model-a") -> dict:
    (path,) = [
        p / "dashboard.json"
        for p in workspace.iterdir()
        if p.is_dir() and json.loads((p / "metadata.json").read_text())["name"] == project
    ]
    return json.loads(path.read_text())


def test_every_panel_draws_bars_not_a_smoothed_line(tmp_path: Path) -> None:
    """Evidently 0.7.23's UI draws a line panel as a smoothed curve (values between windows that
    were never measured) and labels a one-window line panel's axis "1" for 0.5 (issue 25)."""
    _add(tmp_path, _point(0))

    panels = _dashboard(tmp_path)["panels"]

    assert [panel["title"] for panel in panels] == list(PANEL_TITLES)
    assert [panel["plot_params"]["plot_type"] for panel in panels] == ["bar"] * len(PANEL_TITLES)
    assert not any(panel["plot_params"]["is_stacked"] for panel in panels)


def _as_line_panels(workspace: Path, titles: list[str] | None = None) -> dict:
    """Turn the project's panels into line panels, as earlier versions wrote them."""
    (path,) = workspace.glob("*/dashboard.json")
    dashboard = json.loads(path.read_text())
    for panel, title in zip(dashboard["panels"], titles or PANEL_TITLES, strict=True):
        panel["plot_params"] = {"plot_type": "line"}
        panel["title"] = title
    path.write_text(json.dumps(dashboard))
    return dashboard


def test_our_earlier_line_panels_are_redrawn_as_bars(tmp_path: Path) -> None:
    _add(tmp_path, _point(0))
    before = _as_line_panels(tmp_path)

    _add(tmp_path, _point(30))

    after = _dashboard(tmp_path)
    assert [panel["plot_params"]["plot_type"] for panel in after["panels"]] == ["bar"] * len(
        PANEL_TITLES
    )
    # The same panels (ids, series, tab), only drawn differently.
    assert [p["id"] for p in after["panels"]] == [p["id"] for p in before["panels"]]
    assert [p["values"] for p in after["panels"]] == [p["values"] for p in before["panels"]]
    assert after["tabs"] == before["tabs"]


def test_a_persons_panels_are_left_as_they_are(tmp_path: Path) -> None:
    _add(tmp_path, _point(0))
    mine = _as_line_panels(tmp_path, [f"my panel {n}" for n in range(len(PANEL_TITLES))])

    _add(tmp_path, _point(30))

    assert _dashboard(tmp_path) == mine


def test_a_window_without_labels_leaves_the_metric_out_not_zero(tmp_path: Path) -> None:
    _add(tmp_path, _point(0, performance=None))

    (snapshot,) = _snapshots(tmp_path)
    values = _series(snapshot)
    assert "performance" not in values
    assert values["labelled_rows"] == 0.0 and values["performance_threshold"] == 0.45


def _write_points(workspace: str, worker: int) -> None:
    for day in range(2):
        _add(Path(workspace), _point(10 * worker + day))


@pytest.mark.slow
def test_concurrent_writers_share_one_project_and_lose_no_snapshot(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")  # spawn re-imports Evidently: ~20 s each
    workers = [context.Process(target=_write_points, args=(str(tmp_path), w)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]

    projects = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(projects) == 1  # the lock made the second writer find the first one's project
    assert len(_snapshots(tmp_path)) == 6
    dashboard = json.loads((projects[0] / "dashboard.json").read_text())
    assert len(dashboard["panels"]) == len(PANEL_TITLES)


def test_a_write_reads_no_other_snapshot_of_the_workspace(tmp_path: Path) -> None:
    # Workspace.create parses every snapshot of every project (its dataset manager), so a
    # write cost time in the workspace's whole history: a fleet's shared workspace made each
    # model read all the others'. One unreadable snapshot of another model shows it: it
    # stopped every write.
    _add(tmp_path, _point(0), project="model-b")
    (other,) = tmp_path.glob("*/snapshots/*.json")
    other.write_text("{not json")

    _add(tmp_path, _point(0))
    _add(tmp_path, _point(30))

    written = [p for p in tmp_path.glob("*/snapshots/*.json") if p != other]
    assert len(written) == 2
    assert sorted(json.loads(p.read_text())["timestamp"][:10] for p in written) == [
        "2014-01-01",
        "2014-01-31",
    ]
    assert _dashboard(tmp_path)["panels"]  # the new project got its dashboard
    assert remove_project(tmp_path, "model-a") == 1


def test_remove_project_clears_a_replay(tmp_path: Path) -> None:
    _add(tmp_path, _point(0), project="model-a (backtest)")
    _add(tmp_path, _point(0), project="model-a")

    assert remove_project(tmp_path, "model-a (backtest)") == 1
    assert remove_project(tmp_path / "missing", "model-a") == 0
    assert len(_snapshots(tmp_path)) == 1


def _signals_and_decision() -> tuple[Signals, TriggerDecision]:
    signals = Signals(
        current_rows=90,
        reference_rows=300,
        drift_share=0.5,
        columns=(ColumnDrift("temp_max", "K-S p_value", 0.01, 0.05, True),),
        performance=Performance("f1 (macro)", 0.3, 80, "champion"),
    )
    decision = make_decision()
    return signals, decision


def test_window_point_holds_the_numbers_the_decision_was_made_on() -> None:
    signals, decision = _signals_and_decision()

    point = window_point(datetime(2014, 4, 1), "v0001", signals, decision, "promoted")

    assert point.values() == {
        "drift_threshold": 0.5,
        "performance_threshold": 0.45,
        "current_rows": 90.0,
        "labelled_rows": 80.0,
        "retrained": 1.0,
        "promoted": 1.0,
        "drift_share": 0.5,
        "performance": 0.3,
        "drift_score__temp_max": 0.01,
    }


def test_a_dashboard_problem_is_reported_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the workspace should be")
    signals, decision = _signals_and_decision()
    config = repo_config({"reports.path": str(tmp_path)})

    with caplog.at_level(logging.WARNING):
        update = record_dashboard(
            config, datetime(2014, 4, 1), "v0001", signals, decision, "promoted", workspace=blocked
        )

    assert not update.updated
    assert update.describe().startswith(
        f"NOT updated: cannot write the Evidently workspace {blocked}: "
    )
    assert update.describe().endswith("(the decision stands)")
    assert "the dashboard was NOT updated: cannot write the Evidently workspace" in caplog.text


def test_record_dashboard_writes_the_models_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signals, decision = _signals_and_decision()
    config = repo_config({"reports.path": str(tmp_path / "reports")})

    update = record_dashboard(config, datetime(2014, 4, 1), "v0001", signals, decision, "promoted")
    command = evidently_command()
    monkeypatch.chdir(tmp_path)  # the workspace inside the working directory: a relative path
    inside = record_dashboard(config, datetime(2014, 5, 1), "v0001", signals, decision, "healthy")

    assert update.updated
    assert update.describe() == (
        f"project 'seattle-weather' (see it: {command} ui --workspace "
        f"{tmp_path / 'reports' / 'workspace'})"
    )
    assert inside.detail.endswith(" ui --workspace reports/workspace)")
    assert len(_snapshots(tmp_path / "reports" / "workspace")) == 2


def test_reports_workspace_moves_the_local_workspace(tmp_path: Path) -> None:
    signals, decision = _signals_and_decision()
    config = repo_config({"reports.workspace": "dashboards"}, base_dir=tmp_path)

    update = record_dashboard(config, datetime(2014, 4, 1), "v0001", signals, decision, "healthy")

    assert update.updated and str(tmp_path / "dashboards") in update.detail
    assert len(_snapshots(tmp_path / "dashboards")) == 1


def _venv(tmp_path: Path) -> Path:
    """A stand-in environment: bin/python (sys.executable) beside bin/evidently."""
    bin_dir = tmp_path / "project" / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "evidently"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir


def test_the_printed_evidently_command_is_the_environments_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = _venv(tmp_path)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no environment activated

    monkeypatch.chdir(tmp_path / "project")
    assert evidently_command() == ".venv/bin/evidently"  # relative: it runs from here
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert evidently_command() == str(bin_dir / "evidently")  # elsewhere: the full path
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")  # an activated environment
    assert evidently_command() == "evidently"


@pytest.mark.slow
def test_the_printed_command_runs_as_printed(tmp_path: Path) -> None:
    signals, decision = _signals_and_decision()
    config = repo_config({"reports.path": str(tmp_path / "with space")})
    update = record_dashboard(config, datetime(2014, 4, 1), "v0001", signals, decision, "healthy")
    command = update.detail.split("(see it: ", 1)[1].removesuffix(")")
    path = [p for p in os.environ["PATH"].split(":") if Path(p) != Path(sys.executable).parent]

    ran = subprocess.run(
        f"{command} --help",
        shell=True,
        executable="/bin/bash",
        env={**os.environ, "PATH": ":".join(path), "DO_NOT_TRACK": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert ran.returncode == 0, ran.stderr
    assert "--workspace" in ran.stdout


def test_the_data_quality_panel_plots_the_share_of_failed_checks(tmp_path: Path) -> None:
    """In all and per check, as recorded; a run that checked nothing leaves them out, not 0."""
    from tests.quality_reports import broken_wind

    signals, decision = _signals_and_decision()
    config = repo_config({"reports.path": str(tmp_path / "reports")})
    report = broken_wind()

    checked = replace(signals, quality=report)
    point = window_point(datetime(2014, 4, 1), "v0001", checked, decision, "data-issue")
    record_dashboard(config, datetime(2014, 4, 1), "v0001", checked, decision, "data-issue")
    record_dashboard(config, datetime(2014, 5, 1), "v0001", signals, decision, "healthy")

    values = point.values()
    assert values["quality_failed_share"] == pytest.approx(0.25)  # 1 of the 4 checks made
    assert values["quality_failed_share__missing"] == pytest.approx(0.5)
    assert values["quality_failed_share__duplicates"] == 0.0
    assert "quality_failed_share__row_count" not in values  # not judged: no bar, not a 0
    workspace = tmp_path / "reports" / "workspace"
    panel = _dashboard(workspace, "seattle-weather")["panels"][-1]
    assert panel["title"] == "Data quality: share of failed checks" == PANEL_TITLES[-1]
    assert [(v["legend"], v["metric_labels"]["column"]) for v in panel["values"]] == [
        ("all checks", "quality_failed_share"),
        *((check, f"quality_failed_share__{check}") for check in CHECKS),
    ]
    first, second = sorted(_snapshots(workspace), key=lambda s: s["timestamp"])
    assert _series(first)["quality_failed_share"] == pytest.approx(0.25)
    assert not any(column.startswith("quality") for column in _series(second))


def test_an_earlier_dashboard_gets_the_panels_added_since_in_its_tab(tmp_path: Path) -> None:
    _add(tmp_path, _point(0))
    (path,) = tmp_path.glob("*/dashboard.json")
    before = json.loads(path.read_text())
    earlier = {
        "tabs": [
            {**tab, "panels": [i for i in tab["panels"] if i != before["panels"][-1]["id"]]}
            for tab in before["tabs"]
        ],
        "panels": before["panels"][:-1],
    }
    path.write_text(json.dumps({**before, **earlier}))

    _add(tmp_path, _point(30))

    after = _dashboard(tmp_path)
    assert [panel["title"] for panel in after["panels"]] == list(PANEL_TITLES)
    assert [p["id"] for p in after["panels"][:-1]] == [p["id"] for p in earlier["panels"]]
    (tab,) = after["tabs"]
    assert tab["panels"] == [panel["id"] for panel in after["panels"]]
    _add(tmp_path, _point(60))  # today's panels: left as they are
    assert _dashboard(tmp_path) == after


def test_a_snapshot_records_what_evidentlys_mean_value_report_records(tmp_path: Path) -> None:
    """Built without Report.run (which drew a plotly histogram of each one-row column, 95% of
    its time): the same results as Evidently's own MeanValue report on the run's numbers, each
    shown as a counter of its value on the snapshot's page."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.core.report import Snapshot
    from evidently.legacy.utils import NumpyEncoder
    from evidently.metrics import MeanValue

    point = _point(0)
    _add(tmp_path, point)
    (path,) = sorted(tmp_path.glob("*/snapshots/*.json"))
    snapshot = json.loads(path.read_text())
    values = point.values()
    frame = pd.DataFrame({column: [value] for column, value in values.items()})
    report = Report([MeanValue(column=column) for column in values]).run(
        Dataset.from_pandas(frame, data_definition=DataDefinition(numerical_columns=list(values))),
        None,
    )
    expected = json.loads(json.dumps(report.dump_dict(), cls=NumpyEncoder))

    def described(results: dict) -> dict:
        return {
            metric_id: {key: item for key, item in result.items() if key not in ("widget", "value")}
            for metric_id, result in results.items()
        }

    assert snapshot["top_level_metrics"] == expected["top_level_metrics"]
    assert described(snapshot["metric_results"]) == described(expected["metric_results"])
    for metric_id, result in expected["metric_results"].items():
        assert snapshot["metric_results"][metric_id]["value"] == pytest.approx(result["value"])
    assert {widget["type"] for widget in snapshot["widgets"]} == {"counter"}
    shown = {
        widget["params"]["counters"][0]["label"]: float(widget["params"]["counters"][0]["value"])
        for widget in snapshot["widgets"]
    }
    assert shown == pytest.approx(values, abs=1e-3)
    # Evidently reads it back and renders its page.
    html = Snapshot.load(str(path)).get_html_str(as_iframe=False)
    assert "drift_score__wind" in html
