"""The comparison as people see it in Prefect's table artifact."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from tasks.core.outcomes import DashboardUpdate, MonitorResult
from tasks.core.signals import ColumnDrift, Performance, Signals
from tasks.core.windows import Window
from tasks.render.reporting import (
    comparison_rows,
    comparison_table,
    render_comparison,
    render_comparison_markdown,
    render_dashboard_warning,
    render_summary,
)
from tests.core.test_gate import ALL_GUARDS, _compare, _outputs, _predict, _rules, _truth
from tests.helpers import make_decision


def test_the_artifact_table_rounds_numbers_and_keeps_the_rules_readable() -> None:
    truth = _truth(300)
    comparison = _compare(
        truth,
        _outputs("v0002", _predict(truth, 260), latency=12.345678),
        _outputs("v0001", _predict(truth, 130)),
        rules=_rules(guards=ALL_GUARDS),
    )

    raw = comparison_rows(comparison)
    table = comparison_table(comparison)

    assert [row["measure"] for row in table] == [row["measure"] for row in raw]
    latency = next(row for row in table if row["measure"] == "guard: latency ms per 1k rows")
    assert latency["challenger"] == "12.35"  # four significant digits, not 12.345678
    recall = next(row for row in table if row["measure"] == "guard: recall (macro)")
    assert recall["rule"].startswith("\\>=")  # '>= champion' is not a markdown blockquote
    assert all(isinstance(value, str) for row in table for value in row.values())
    assert raw[0]["challenger"] == comparison.challenger.score  # the raw rows keep the numbers


def _monitor_result(dashboard: DashboardUpdate) -> MonitorResult:
    signals = Signals(
        current_rows=90,
        reference_rows=300,
        drift_share=0.25,
        columns=(ColumnDrift("temp_max", "K-S p_value", 0.2, 0.05, False),),
        performance=Performance("f1 (macro)", 0.6, 80, "champion"),
        drift_rows_current=90,
        drift_rows_reference=300,
    )
    return MonitorResult(
        "healthy",
        "seattle-weather",
        Window(datetime(2014, 1, 1), datetime(2014, 4, 1)),
        "v0001",
        "v0001",
        signals,
        make_decision(action="none", reasons=()),
        None,
        None,
        dashboard=dashboard,
    )


def test_the_summary_ends_with_where_the_dashboard_went_or_why_not() -> None:
    page = "project 'seattle-weather': http://evidently.internal:8000/projects/e3e9"
    down = "cannot connect to the Evidently UI service at http://evidently.internal:8000"

    shown = render_summary(_monitor_result(DashboardUpdate(True, page)))
    failed = render_summary(_monitor_result(DashboardUpdate(False, down)))

    assert shown.splitlines()[-1] == f"dashboard   {page}"
    assert failed.splitlines()[-1] == f"dashboard   NOT updated: {down} (the decision stands)"
    assert render_dashboard_warning(DashboardUpdate(False, down)) == (
        f"**Warning: the Evidently dashboard was NOT updated** by this run: {down}. The decision "
        "stands; its numbers are below and in the monitoring history."
    )


MADE = {
    "image": "registry.example/autoretrain:1.2",
    "image_digest": "sha256:" + "d" * 64,
    "git_sha": "0123456789abcdef0123456789abcdef01234567",
    "lock_sha256": "f" * 64,
}


def test_the_comparison_says_where_each_model_was_made() -> None:
    truth = _truth(300)
    champion = _outputs("v0001", _predict(truth, 130))  # registered before it was recorded
    challenger = replace(_outputs("v0002", _predict(truth, 260)), provenance=MADE)
    comparison = _compare(truth, challenger, champion)

    assert comparison.challenger.provenance == MADE
    assert comparison.champion is not None and comparison.champion.provenance == {}
    text = render_comparison(comparison).splitlines()
    assert "  made in    v0001: not recorded" in text
    assert (
        "  made in    v0002: image registry.example/autoretrain:1.2@sha256:dddddddddddd, "
        "git 0123456789ab, uv.lock ffffffffffff"
    ) in text
    markdown = render_comparison_markdown(comparison).splitlines()
    assert "## Where the models were made" in markdown
    assert "| v0001 | - | - | - | - |" in markdown
    assert (
        f"| v0002 | {MADE['image']} | {MADE['image_digest']} | {MADE['git_sha']} | "
        f"{MADE['lock_sha256']} |"
    ) in markdown
