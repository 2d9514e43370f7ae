"""reports.keep: which monitor runs' HTML reports are deleted, and that nothing else ever is."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tasks.config import load_config
from tasks.core.retention import expired_runs, report_run_name, run_started
from tasks.core.windows import fixed_as_of_warning
from tasks.errors import ConfigError
from tasks.steps.monitoring import prune_reports
from tasks.stores.reports import prune_report_runs
from tests.helpers import ROOT

NOW = datetime(2026, 11, 26, 6, 0)


def _run(days_ago: float, as_of: datetime = datetime(2014, 4, 1)) -> str:
    return report_run_name(as_of, NOW - timedelta(days=days_ago))


def test_run_names_round_trip_and_other_names_are_not_runs():
    name = report_run_name(datetime(2014, 4, 1), datetime(2026, 11, 26, 6, 0, 1, 123456))
    assert name == "20140401T0000-run-20261126T060001123456"
    assert run_started(name) == datetime(2026, 11, 26, 6, 0, 1, 123456)
    for other in [
        "backtest",
        "notes",
        "20140401T0000-run-2026",
        "x20140401T0000-run-20261126T060001123456",
    ]:
        assert run_started(other) is None


def test_keep_runs_keeps_the_newest_by_start_time_not_by_window():
    # A backfill's older window ran last: it is the newest run.
    runs = [_run(3), _run(2), _run(1, as_of=datetime(2013, 1, 1)), _run(0.5)]
    expired = expired_runs([*runs, "backtest"], 2, NOW)
    assert expired == [runs[0], runs[1]]  # oldest first


def test_keep_days_keeps_the_runs_started_within_it():
    runs = [_run(40), _run(31), _run(29), _run(1)]
    assert expired_runs(runs, timedelta(days=30), NOW) == runs[:2]


def test_the_current_run_is_never_expired():
    runs = [_run(40), _run(1)]
    assert expired_runs(runs, timedelta(days=30), NOW, current=runs[0]) == []


def test_prune_deletes_only_old_run_directories(tmp_path: Path):
    model_dir = tmp_path / "seattle-weather"
    runs = [_run(3), _run(2), _run(1), _run(0)]
    for name in runs:
        (model_dir / name).mkdir(parents=True)
        (model_dir / name / "drift.html").write_text("<html></html>")
    (model_dir / "backtest").mkdir()
    (model_dir / "notes.txt").write_text("mine")
    outside = tmp_path / "elsewhere" / _run(9)
    outside.mkdir(parents=True)
    (model_dir / _run(8)).symlink_to(outside, target_is_directory=True)

    deleted = prune_report_runs(model_dir, 2, NOW, current=model_dir / runs[-1])

    assert deleted == [model_dir / runs[0], model_dir / runs[1]]
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(
        ["backtest", "notes.txt", _run(8), runs[2], runs[3]]
    )
    assert outside.is_dir()  # a symlinked directory is never followed nor removed


def test_prune_reports_applies_the_config_and_keeps_everything_without_keep(write_config, tmp_path):
    reports = tmp_path / "reports"
    model_dir = reports / "seattle-weather"
    old = model_dir / report_run_name(datetime(2014, 4, 1), datetime(2020, 1, 1))
    new = model_dir / report_run_name(datetime(2014, 4, 1), datetime.now())
    old.mkdir(parents=True)
    new.mkdir()

    keep_all = load_config(write_config({"reports": {"path": str(reports), "keep": None}}))
    assert prune_reports(keep_all, new) == [] and old.is_dir()

    keep_days = load_config(write_config({"reports": {"path": str(reports), "keep": "30d"}}))
    assert prune_reports(keep_days, new) == [old]
    assert not old.exists() and new.is_dir()


@pytest.mark.parametrize(
    ("keep", "message"),
    [(0, "must keep at least 1 run"), ("12h", "must keep at least 1d"), ("soon", "not a duration")],
)
def test_bad_keep_is_a_config_error_naming_the_key(write_config, keep, message):
    with pytest.raises(ConfigError) as error:
        load_config(write_config({"reports": {"keep": keep}}))
    assert "reports.keep" in str(error.value) and message in str(error.value)


def test_production_example_monitors_now_and_keeps_reports_bounded():
    config = load_config(ROOT / "examples" / "production" / "config.yaml")

    assert config.windows.as_of is None  # each scheduled run monitors the window ending now
    assert config.reports.keep == 30
    assert config.orchestration.mode == "events"
    assert config.data.source.kind == "files"
    assert str(config.data.source.path).startswith("/srv/autoretrain")


def test_a_scheduled_run_with_a_fixed_as_of_is_warned_about(write_config):
    demo = load_config(write_config())
    production = load_config(ROOT / "examples" / "production" / "config.yaml")

    warning = fixed_as_of_warning(demo, None, scheduled=True)
    assert warning is not None
    assert warning.startswith("windows.as_of is fixed at 2014-04-01 00:00")
    assert "set windows.as_of: null" in warning
    assert fixed_as_of_warning(demo, None, scheduled=False) is None  # a person chose it
    assert fixed_as_of_warning(demo, "now", scheduled=True) is None
    assert fixed_as_of_warning(production, None, scheduled=True) is None
