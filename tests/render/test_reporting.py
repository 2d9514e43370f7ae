"""The comparison as people see it in Prefect's table artifact."""

from __future__ import annotations

from tasks.render.reporting import comparison_rows, comparison_table
from tests.core.test_gate import ALL_GUARDS, _compare, _outputs, _predict, _rules, _truth


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
