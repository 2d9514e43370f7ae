"""The fleet summary: one line per model in the terminal, the artifact's rows and the CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from tasks.core.fleet import FleetRow, FleetSummary, error_row
from tasks.render.fleet import fleet_table_rows, render_fleet_summary, write_fleet_csv

RAN = FleetRow(
    model="north",
    config_path="fleet/configs/north.yaml",
    window="[2014-01-01 00:00, 2014-04-01 00:00)",
    drift_share=0.5,
    drift_threshold=0.5,
    metric="f1 (macro)",
    metric_value=0.144,
    metric_threshold=0.45,
    decision="retrain",
    action="promoted",
    champion_before="v0001",
    champion_after="v0002",
    duration_seconds=23.21,
)
BROKEN = error_row(
    "south", "models/south.yaml", "models/south.yaml: invalid configuration\n  polcy: unknown key"
)


def _summary(*rows: FleetRow) -> FleetSummary:
    return FleetSummary("demo", "dask", rows, 41.0, csv_path="out/summary.csv")


def test_the_table_has_a_line_per_model_with_its_numbers_or_its_error():
    text = render_fleet_summary(_summary(RAN, BROKEN))
    north = next(line for line in text.splitlines() if line.startswith("north"))
    south = next(line for line in text.splitlines() if line.startswith("south"))

    for cell in (
        "0.50 vs 0.50",
        "f1 (macro) 0.144 vs 0.450",
        "retrain",
        "promoted",
        "v0001 -> v0002",
        "23.2",
    ):
        assert cell in north
    assert "error" in south
    assert "models/south.yaml: invalid configuration polcy: unknown key" in south  # one line
    assert "fleet demo (dask): 1 of 2 models ran, 1 with an error, in 41.0 s" in text
    assert "csv: out/summary.csv" in text


def test_the_exit_code_is_2_only_when_some_model_has_an_error():
    assert _summary(RAN).exit_code == 0
    assert _summary(RAN, BROKEN).exit_code == 2
    assert _summary(RAN, BROKEN).errors == (BROKEN,)


def test_an_error_row_without_a_message_still_says_it_failed():
    assert error_row("x", "x.yaml", "  ").error == "failed without a message"


def test_the_artifact_rows_keep_the_whole_error_and_the_csv_every_field(tmp_path: Path):
    rows = fleet_table_rows(_summary(RAN, BROKEN))
    assert [row["model"] for row in rows] == ["north", "south"]
    assert rows[1]["error"] == BROKEN.error

    path = write_fleet_csv((RAN, BROKEN), tmp_path / "deep" / "summary.csv")
    with path.open() as handle:
        read = list(csv.DictReader(handle))
    assert read[0]["metric_value"] == "0.144" and read[0]["champion_after"] == "v0002"
    assert read[1]["error"] == BROKEN.error and read[1]["action"] == "error"


def test_the_data_quality_column_names_the_broken_columns():
    from dataclasses import replace

    broken_feed = replace(RAN, model="east", data_quality="failed: wind, temp_max")
    text = render_fleet_summary(_summary(RAN, broken_feed, BROKEN))
    header, _, *lines = text.splitlines()
    start = header.index("data quality")
    assert header.index("window") < start < header.index("drift share")
    cells = {line.split()[0]: line[start:].split("  ")[0] for line in lines[:3]}
    assert cells == {"north": "", "east": "failed: wind, temp_max", "south": ""}
    assert fleet_table_rows(_summary(broken_feed))[0]["data quality"] == "failed: wind, temp_max"
