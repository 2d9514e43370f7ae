"""A broken feed where people look (issue 32): the demo's 2014 Q1 window with wind delivered in
another unit (x1000), through the real monitor flow, then each surface read as a person reads it:
the HTML report's header, the monitor's artifact, the Evidently dashboard's panel, the fleet
table and `autoretrain history show`."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from flows.monitor import monitor_flow
from tasks.adapters.evidently_workspace import PANEL_TITLES
from tasks.cli.history import main as history_main
from tasks.config import load_config
from tasks.core.fleet import FleetSummary, row_from_result
from tasks.core.numbers import format_number
from tasks.core.outcomes import MonitorResult
from tasks.render.fleet import render_fleet_summary
from tests.helpers import DEMO_DATA, LATENCY_GUARD_ASIDE, merge, read_artifact, repo_raw_config

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

NAME = "broken-feed"


@dataclass(frozen=True)
class BrokenRun:
    config_path: Path
    result: MonitorResult
    artifact: str


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> BrokenRun:
    """The demo log with wind x1000 in the monitored window [2014-01-01, 2014-04-01)."""
    tmp = tmp_path_factory.mktemp("broken-feed")
    data = tmp / "data"
    shutil.copytree(DEMO_DATA, data)
    year = pd.read_parquet(data / "weather-2014.parquet")
    window = (year["timestamp"] >= "2014-01-01") & (year["timestamp"] < "2014-04-01")
    year.loc[window, "wind"] = year.loc[window, "wind"] * 1000
    year.to_parquet(data / "weather-2014.parquet")
    config = merge(
        merge(repo_raw_config(), LATENCY_GUARD_ASIDE),
        {
            "name": NAME,
            "data": {"source": {"path": str(data)}},
            "registry": {"path": str(tmp / "registry")},
            "reports": {"path": str(tmp / "reports")},
        },
    )
    config_path = tmp / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = monitor_flow(str(config_path))
    artifact = read_artifact(f"{NAME}-monitor-summary")
    assert artifact is not None
    return BrokenRun(config_path, result, str(artifact.data))


def test_the_run_found_the_broken_column(broken: BrokenRun) -> None:
    quality = broken.result.signals.quality
    assert quality is not None and quality.failed
    assert quality.failing_columns == ["wind"]
    assert broken.result.status == "data-issue"


def test_the_html_report_opens_with_the_failing_check(broken: BrokenRun) -> None:
    (report,) = [Path(p) for p in broken.result.signals.report_paths if p.endswith("drift.html")]
    page = report.read_text(encoding="utf-8")
    header = page[: page.index("<!-- /autoretrain header -->")]
    box = header[header.index('id="autoretrain-alert"') : header.index("</div>")]

    assert "Data quality FAILED: the data looks broken, not the model" in box
    assert "checks failed (range), on wind. No retrain or promotion on this window" in box
    cells = [cell for cell in box.split("<td")[1:7]]
    assert [cell.split(">", 1)[1].split("<", 1)[0] for cell in cells][:3] == [
        "range (share outside)",
        "wind",
        "1",
    ]
    assert "wind range " in box  # the failure in words, with its numbers
    # The box comes before the facts (model, window, decision).
    assert header.index('id="autoretrain-alert"') < header.index(">Model</th>")


def test_the_artifact_opens_with_the_data_quality_section(broken: BrokenRun) -> None:
    lines = broken.artifact.splitlines()
    assert lines[0] == "## Data quality: FAILED"
    assert lines[2].startswith("**The data looks broken, not the model**: ")
    assert "checks failed (range), on wind. No retrain or promotion" in lines[2]
    row = next(line for line in lines if line.startswith("| range (share outside) | wind |"))
    # Every value outside the reference's range widened by the default tolerance (a share of
    # its span), next to that range.
    reference = load_config(broken.config_path)
    assert reference.data_quality.tolerances.range is not None
    tolerance = format_number(reference.data_quality.tolerances.range, "general")
    assert row.endswith(f"| 1 | 1 to 9.5 | {tolerance} | FAIL |")
    assert "autoretrain monitor: broken-feed" in broken.artifact  # the summary follows


def test_the_dashboard_plots_the_share_of_failed_checks(broken: BrokenRun) -> None:
    workspace = load_config(broken.config_path).reports.workspace_dir
    (project,) = [
        path
        for path in workspace.iterdir()
        if path.is_dir() and json.loads((path / "metadata.json").read_text())["name"] == NAME
    ]
    panels = json.loads((project / "dashboard.json").read_text())["panels"]
    assert [panel["title"] for panel in panels] == list(PANEL_TITLES)
    (snapshot,) = [json.loads(p.read_text()) for p in (project / "snapshots").glob("*.json")]
    values = {
        result["metric_value_location"]["metric"]["params"]["column"]: result["value"]
        for result in snapshot["metric_results"].values()
    }
    quality = broken.result.signals.quality
    assert quality is not None
    made = [f for f in quality.findings if f.failed or f.value is not None]
    assert values["quality_failed_share"] == pytest.approx(len(quality.failures) / len(made))
    assert values["quality_failed_share__range"] > 0
    assert values["quality_failed_share__missing"] == 0


def test_the_fleet_table_names_the_broken_column(broken: BrokenRun) -> None:
    row = row_from_result(broken.result, str(broken.config_path), 1.0)
    text = render_fleet_summary(FleetSummary("demo", "dask", (row,), 1.0))
    header, _, line = text.splitlines()[:3]
    start = header.index("data quality")
    assert line[start:].startswith("failed: wind ")
    assert row.data_quality == "failed: wind"


def test_history_show_marks_the_data_issue_run(
    broken: BrokenRun, capsys: pytest.CaptureFixture[str]
) -> None:
    assert history_main(["show", "--config", str(broken.config_path)]) == 0

    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("as of"))
    (run,) = [line for line in lines if line.startswith("2014-04-01")]
    at = header.index("data")
    assert run[at : at + 4] == "FAIL"
    assert "data-issue" in run.split()
    # The drift share of the other columns, as the monitor's summary shows it, not n/a.
    end = header.index("drift") + len("drift")
    shown = broken.result.signals.drift_share
    assert f"share of drifted columns {shown:.2f}" in broken.artifact
    assert float(run[end - 7 : end]) == pytest.approx(shown, abs=5e-4)
    failed = lines[lines.index("data quality failed:") + 1]
    assert failed.startswith("  2014-04-01 00:00  FAILED: ")
    assert failed.endswith("checks failed (range), on wind: the data looks broken, not the model")
