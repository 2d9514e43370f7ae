"""reports.html in a monitor run: a quiet run draws no HTML reports under on-breach, a breached
one draws both with their headers, never draws none; the decision, the history and the
dashboard are the same either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.monitor import monitor_flow
from tasks.render.reporting import render_summary
from tasks.stores.history import open_history

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

MODEL = "seattle-weather"


def _html(reports: Path) -> list[str]:
    return sorted(path.name for path in (reports / MODEL).rglob("*.html"))


def test_on_breach_draws_no_reports_for_a_quiet_run(write_config, tmp_path: Path) -> None:
    # A model of 2014 watching 2015 (tests/flows/test_flows.py: healthy): nothing breaches.
    reports = tmp_path / "reports"
    config_path = write_config(
        {
            "registry": {"path": str(tmp_path / "registry")},
            "reports": {"path": str(reports), "html": "on-breach"},
            "policy": {"performance_threshold": 0.35},
            "windows": {"as_of": "2016-01-01", "current": "365d", "holdout": "365d"},
            "bootstrap": {"training_start": "2014-01-01", "training_end": "2015-01-01"},
        }
    )

    result = monitor_flow(str(config_path))

    assert (result.status, result.decision.action) == ("healthy", "none")
    assert result.signals.report_paths == ()
    assert _html(reports) == []
    note = "none drawn (reports.html: on-breach, and nothing breached)"
    assert result.signals.reports_note == note
    assert f"report      {note}" in render_summary(result)
    # Measured all the same: every column tested, the metric, the dashboard's point.
    assert len(result.signals.columns) == 4 and result.signals.performance is not None
    assert result.dashboard is not None and result.dashboard.updated, result.dashboard
    (row,) = open_history(tmp_path / "registry").rows(MODEL)
    assert row["decision"] == "none"


def test_on_breach_draws_a_breached_run_and_never_draws_none(write_config, tmp_path: Path) -> None:
    # The quarter after the bootstrap's holdout: the 2012 champion breaches, unconfirmed.
    reports = tmp_path / "reports"
    registry = {"path": str(tmp_path / "registry")}
    on_breach = write_config(
        {"registry": registry, "reports": {"path": str(reports), "html": "on-breach"}}
    )
    never = write_config(
        {"registry": registry, "reports": {"path": str(reports), "html": "never"}},
        name="never.yaml",
    )

    breached = monitor_flow(str(on_breach), as_of="2013-06-30")

    assert breached.decision.action == "unconfirmed"
    assert breached.decision.breaches.performance
    assert _html(reports) == ["drift.html", "performance.html"]
    assert breached.signals.reports_note == ""
    drift = next(Path(p) for p in breached.signals.report_paths if p.endswith("drift.html"))
    page = drift.read_text()
    assert f"{MODEL}: data drift of" in page and "UNCONFIRMED" in page
    for column in breached.signals.columns:  # every column's row in the header's table
        assert f">{column.column}</td>" in page

    again = monitor_flow(str(never), as_of="2013-06-30")

    assert again.decision.action == "unconfirmed"  # the same decision, no reports
    assert again.signals.report_paths == ()
    assert again.signals.reports_note == "none drawn (reports.html: never)"
    assert _html(reports) == ["drift.html", "performance.html"]  # the first run's only
    assert again.signals.drift_share == breached.signals.drift_share
