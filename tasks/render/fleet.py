"""The fleet summary as a text table, table-artifact rows and a CSV (pure text and files)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from tasks.core.fleet import FleetRow, FleetSummary

COLUMNS = (
    "model",
    "window",
    "data quality",
    "drift share",
    "metric vs threshold",
    "decision",
    "action",
    "champion before -> after",
    "duration s",
    "error",
)


def _metric_cell(row: FleetRow) -> str:
    if row.metric_threshold is None:
        return ""
    value = "n/a" if row.metric_value is None else f"{row.metric_value:.3f}"
    return f"{row.metric or 'metric'} {value} vs {row.metric_threshold:.3f}"


def _drift_cell(row: FleetRow) -> str:
    if row.drift_share is None:
        return ""
    return f"{row.drift_share:.2f} vs {row.drift_threshold:.2f}"


def _champion_cell(row: FleetRow) -> str:
    if row.failed:
        return ""
    return f"{row.champion_before or '-'} -> {row.champion_after or '-'}"


def summary_cells(row: FleetRow) -> dict[str, str]:
    """One row of the printed table and of the table artifact, by column title."""
    duration = "" if row.duration_seconds is None else f"{row.duration_seconds:.1f}"
    return dict(
        zip(
            COLUMNS,
            (
                row.model,
                row.window or "",
                row.data_quality or "",
                _drift_cell(row),
                _metric_cell(row),
                row.decision or "",
                row.action or "",
                _champion_cell(row),
                duration,
                _one_line(row.error),
            ),
            strict=True,
        )
    )


def _one_line(error: str | None, limit: int = 200) -> str:
    """An error message on one line (a config error lists its key paths on several)."""
    if not error:
        return ""
    text = " ".join(error.split())
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def render_fleet_summary(summary: FleetSummary) -> str:
    """The fleet's table for the terminal, then a count line and where the CSV is."""
    rows = [summary_cells(row) for row in summary.rows]
    widths = {column: max([len(column), *(len(row[column]) for row in rows)]) for column in COLUMNS}
    lines = ["  ".join(column.ljust(widths[column]) for column in COLUMNS).rstrip()]
    lines.append("  ".join("-" * widths[column] for column in COLUMNS))
    lines += [
        "  ".join(row[column].ljust(widths[column]) for column in COLUMNS).rstrip() for row in rows
    ]
    failed = len(summary.errors)
    lines += [
        "",
        f"fleet {summary.fleet_name} ({summary.runner}): {len(summary.rows) - failed} of "
        f"{len(summary.rows)} models ran, {failed} with an error, in {summary.duration_seconds:.1f} s"
        + (
            f" (models: {summary.fan_out_seconds:.1f} s once the workers were up)"
            if summary.fan_out_seconds is not None
            else ""
        ),
    ]
    if summary.csv_path:
        lines.append(f"csv: {summary.csv_path}")
    return "\n".join(lines)


def fleet_table_rows(summary: FleetSummary) -> list[dict[str, Any]]:
    """The table artifact's rows: the printed columns, with the whole error message."""
    return [{**summary_cells(row), "error": row.error or ""} for row in summary.rows]


def write_fleet_csv(rows: tuple[FleetRow, ...], path: Path) -> Path:
    """Every field of every row, one line per model (numbers unrounded, full error text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = list(FleetRow.__dataclass_fields__)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow(row.to_dict())
    return path
