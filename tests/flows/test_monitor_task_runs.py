"""What a monitor run costs the Prefect API: each task run is three state events the server
records, so steps that always run together are one task run."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.monitor import monitor_flow
from tasks.config import load_config

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]


def test_a_monitor_run_is_six_task_runs_that_record_and_keep_its_reports(
    write_config, tmp_path: Path
) -> None:
    config_path = write_config(
        {
            "registry": {"path": str(tmp_path / "registry")},
            "reports": {"path": str(tmp_path / "reports"), "keep": 1},
        }
    )
    config = load_config(config_path)
    monitor_flow(str(config_path))  # bootstraps the champion
    state = monitor_flow(str(config_path), return_state=True)

    result = state.result()
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    names = sorted(run.name.rsplit("-", 1)[0] for run in runs)
    assert names == [
        "decide_on_history",
        "draw_reports",
        "measure_window",
        "publish_reports",
        "record_monitor_run",
        "watch_champion",
    ]
    # record_monitor_run: the history's record (the same window again replaces it) and the
    # dashboard's point; publish_reports: reports.keep 1 left this run's reports only.
    assert result.rerun is not None and "replaces its record" in result.rerun
    assert result.dashboard is not None and result.dashboard.updated, result.dashboard
    (kept,) = (config.reports.path / config.name).iterdir()
    assert sorted(path.name for path in kept.glob("*.html")) == ["drift.html", "performance.html"]
