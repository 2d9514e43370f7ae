"""The comparison as people see it in Prefect's table artifact."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from tasks.core.gate import Comparison
from tasks.core.outcomes import DashboardUpdate, MonitorResult
from tasks.core.signals import ColumnDrift, Performance, Signals
from tasks.core.windows import Window
from tasks.render.reporting import (
    comparison_rows,
    comparison_table,
    render_approval_markdown,
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

    assert [row["check"] for row in table] == [row["check"] for row in raw]
    latency = next(row for row in table if row["check"] == "latency ms per 1k rows")
    assert latency["challenger"] == "12.35"  # four significant digits, not 12.345678
    floor = table[0]
    assert floor["rule"].startswith("\\>=")  # '>= 0.450' is not a markdown blockquote
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
    assert "- **v0001**: not recorded" in markdown
    assert (
        f"- **v0002**: image `{MADE['image']}`, digest `{MADE['image_digest']}`, git commit "
        f"`{MADE['git_sha']}`, uv.lock SHA-256 `{MADE['lock_sha256']}`"
    ) in markdown
    form = render_approval_markdown(comparison).splitlines()
    assert "- v0001: not recorded" in form
    # The image apart from its digest (abbreviated): the form's text box is narrow.
    assert (
        "- v0002: image registry.example/autoretrain:1.2, sha256:dddddddddddd, git 0123456789ab, "
        "uv.lock ffffffffffff"
    ) in form


# The widest text a cell of the comparison's tables may hold: Prefect's UI does not wrap a table
# cell, and at 1280 pixels its artifact page leaves about 700 pixels to a five-column table
# (tests/orchestration/test_prefect_ui_pages.py looks at the real pages).
NARROW = {"check": 30, "result": 7, "champion": 10, "challenger": 10, "rule": 30}


def _golden(name: str) -> Comparison:
    data = json.loads((Path(__file__).parent.parent / "data" / "gate_comparisons.json").read_text())
    return Comparison.from_dict(data[name])


@pytest.mark.parametrize(
    "name", ["classifier-promoted", "classifier-sliced", "regressor-biased-and-sliced"]
)
def test_the_comparison_table_is_narrow_and_puts_the_result_next_to_the_check(name: str) -> None:
    comparison = _golden(name)

    table = comparison_table(comparison)

    assert all(list(row) == list(NARROW) for row in table)
    too_wide = [
        (key, row[key]) for row in table for key, most in NARROW.items() if len(row[key]) > most
    ]
    assert too_wide == []
    interval = comparison.interval
    assert interval is not None
    (difference,) = [row for row in table if row["check"] in ("difference", "improvement")]
    assert difference["challenger"] == f"{interval.difference:+.4g}"
    assert difference["rule"].startswith(f"[{interval.lower:+.4g}, {interval.upper:+.4g}] >= ")


def test_the_markdown_keeps_long_text_out_of_tables() -> None:
    comparison = _golden("regressor-biased-and-sliced")

    markdown = render_comparison_markdown(comparison).splitlines()
    form = render_approval_markdown(comparison).splitlines()

    table = [line for line in markdown if line.startswith("|")]
    assert table[0] == "| check | result | champion | challenger | rule |"
    assert all(line.count("|") - line.count("\\|") == 6 for line in table)
    # The rules in full are a list, whose lines wrap.
    assert (
        "- **guard: |bias| (mean of prediction - target, lower is better)**: <= champion's + 0.1 "
        "x champion's mae (limit 0.5874)."
    ) in markdown
    assert "- **slice region=east**: no significant regression beyond 0.05 (Holm-adjusted p " in (
        "\n".join(markdown)
    )
    # The form: no table at all; the verdict first, then the numbers that decide it.
    assert not [line for line in form if line.startswith("|")]
    assert form[0] == "**REJECT: v0002 vs v0001**"
    assert form[2] == (
        "- **mae** (lower is better) on 600 holdout rows: champion v0001 3.808, challenger v0002 "
        "3.673; floor <= 6.000: ok"
    )
    assert form[3].startswith("- **improvement** +0.1347, 95% interval [-0.189, +0.4967]; its ")
    assert form[3].endswith("min_improvement 0.100: FAIL")
    assert form[5] == (
        "- **guards and slices**: 3 of 8 ok; FAIL: rmse, \\|bias\\|, p90 abs error, "
        "model size bytes, region=east (200 rows)"
    )


def test_the_summary_names_the_drop_reference_once_first_windows_moved_it() -> None:
    result = _monitor_result(DashboardUpdate(True, "project"))
    rule = (
        "the median of the champion's holdout score 0.960 and its first 2 monitored windows "
        "(0.800, 0.820)"
    )
    moved = replace(
        result,
        decision=make_decision(
            action="none",
            reasons=(),
            holdout_score=0.96,
            drop_reference=0.82,
            drop_reference_rule=rule,
            performance_drop_limit=0.615,
        ),
    )
    holdout_only = replace(
        result,
        decision=make_decision(
            action="none",
            reasons=(),
            holdout_score=0.96,
            drop_reference=0.96,
            drop_reference_rule="the champion's holdout score",
            performance_drop_limit=0.72,
        ),
    )

    assert (
        "(threshold 0.450, or 0.615 from the reference score 0.820, " + rule + ", higher is better)"
    ) in render_summary(moved)
    assert "(threshold 0.450, or 0.720 from the champion's holdout score 0.960, higher" in (
        render_summary(holdout_only)
    )
