"""What a monitor run costs the Prefect API: each task run is three state events the server
records, so steps that always run together are one task run, and a fleet's models run their
steps inside their flow runs (orchestration.task_runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flows.monitor import monitor_flow
from tasks.config import load_config
from tasks.orchestration.tasks import fleet_model_run, steps_are_task_runs
from tests.helpers import task_run_names

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]


STEPS = [
    "decide_on_history",
    "draw_reports",
    "measure_window",
    "publish_reports",
    "record_monitor_run",
    "watch_champion",
]


def _step_task_runs(state: Any) -> list[str]:
    """The names of the task runs of a monitor run's state, without their suffix, sorted."""
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    return task_run_names([flow_run_id])


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
    assert _step_task_runs(state) == STEPS
    # record_monitor_run: the history's record (the same window again replaces it) and the
    # dashboard's point; publish_reports: reports.keep 1 left this run's reports only.
    assert result.rerun is not None and "replaces its record" in result.rerun
    assert result.dashboard is not None and result.dashboard.updated, result.dashboard
    (kept,) = (config.reports.path / config.name).iterdir()
    assert sorted(path.name for path in kept.glob("*.html")) == ["drift.html", "performance.html"]


def test_a_fleets_model_runs_its_steps_in_its_flow_run_unless_its_config_says_steps(
    write_config, tmp_path: Path
) -> None:
    """orchestration.task_runs: auto (the default) is no step task run for a fleet's model, a
    task run per step otherwise; steps and none say so for both. The run's decision, record and
    artifacts do not depend on it."""
    stores = {
        "registry": {"path": str(tmp_path / "registry")},
        "reports": {"path": str(tmp_path / "reports"), "keep": 1},
    }
    auto = write_config(stores)
    monitor_flow(str(auto))  # bootstraps the champion

    with fleet_model_run():
        fleet_state = monitor_flow(str(auto), return_state=True)
    assert _step_task_runs(fleet_state) == []
    in_fleet = fleet_state.result()
    # The run is the same without them: its decision and reasons, its record, its reports.
    alone = monitor_flow(str(auto))
    assert (in_fleet.status, in_fleet.decision.reasons) == (alone.status, alone.decision.reasons)
    assert in_fleet.rerun is not None and "replaces its record" in in_fleet.rerun
    assert in_fleet.dashboard is not None and in_fleet.dashboard.updated, in_fleet.dashboard
    assert in_fleet.champion_before == in_fleet.champion_after == alone.champion_before

    steps = write_config({**stores, "orchestration": {"task_runs": "steps"}}, "steps.yaml")
    with fleet_model_run():
        assert _step_task_runs(monitor_flow(str(steps), return_state=True)) == STEPS
    none = write_config({**stores, "orchestration": {"task_runs": "none"}}, "none.yaml")
    assert _step_task_runs(monitor_flow(str(none), return_state=True)) == []


@pytest.mark.parametrize(
    ("setting", "fleet_model", "expected"),
    [
        ("auto", False, True),
        ("auto", True, False),
        ("steps", True, True),
        ("steps", False, True),
        ("none", False, False),
        ("none", True, False),
    ],
)
def test_task_runs_setting_and_the_fleet_decide_whether_a_step_is_a_task_run(
    setting: Any, fleet_model: bool, expected: bool
) -> None:
    assert steps_are_task_runs(setting, fleet_model) is expected
