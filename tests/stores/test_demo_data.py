"""The bundled demo data: reproducible from vega-datasets, and its label drift is real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tasks.stores.demo import DEMO_DIR, MISSING_LABEL_SHARE, build_production_log
from tests.helpers import DEMO_DATA, ROOT

YEARS = (2012, 2013, 2014, 2015)


@pytest.fixture(scope="module")
def shipped() -> pd.DataFrame:
    files = [DEMO_DATA / f"weather-{year}.parquet" for year in YEARS]
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


@pytest.fixture(scope="module")
def rebuilt() -> pd.DataFrame:
    return build_production_log()


def test_demo_directory_holds_one_file_per_year() -> None:
    assert sorted(p.name for p in DEMO_DATA.iterdir()) == [
        f"weather-{year}.parquet" for year in YEARS
    ]
    for year in YEARS:
        stamps = pd.read_parquet(DEMO_DATA / f"weather-{year}.parquet")["timestamp"]
        assert (stamps.dt.year == year).all()


def test_shipped_files_equal_the_log_rebuilt_from_vega_datasets(
    shipped: pd.DataFrame, rebuilt: pd.DataFrame
) -> None:
    assert list(shipped.columns) == list(rebuilt.columns)
    assert shipped.dtypes.drop("weather").to_dict() == rebuilt.dtypes.drop("weather").to_dict()
    # Parquet stores the label as a string column; pandas reads it back with its string dtype.
    same_labels = rebuilt.astype({"weather": shipped["weather"].dtype})
    pd.testing.assert_frame_equal(shipped, same_labels, check_exact=True)
    assert shipped["weather"].isna().tolist() == rebuilt["weather"].isna().tolist()


def test_the_builder_writes_to_the_repo_s_data_directory() -> None:
    assert DEMO_DIR == ROOT / "data" / "seattle" == DEMO_DATA


def _demo_module(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m tasks.stores.demo`, as the docs give it, run from the repo."""
    return subprocess.run(
        [sys.executable, "-m", "tasks.stores.demo", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def test_the_documented_command_rebuilds_the_shipped_files(
    tmp_path: Path, shipped: pd.DataFrame
) -> None:
    # Its default is data/seattle/ (rewriting it here would race the other tests' reads).
    assert f"(default: {ROOT / 'data' / 'seattle'})" in " ".join(
        _demo_module("--help").stdout.split()
    )

    written = _demo_module("--out", str(tmp_path)).stdout.split()

    assert written == [str(tmp_path / f"weather-{year}.parquet") for year in YEARS]
    for year in YEARS:
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / f"weather-{year}.parquet"),
            pd.read_parquet(DEMO_DATA / f"weather-{year}.parquet"),
            check_exact=True,
        )


def test_demo_log_shape(shipped: pd.DataFrame) -> None:
    assert len(shipped) == 1461
    assert shipped["timestamp"].iloc[0] == pd.Timestamp("2012-01-01")
    assert shipped["timestamp"].iloc[-1] == pd.Timestamp("2015-12-31")
    assert shipped["timestamp"].is_unique
    assert shipped["timestamp"].is_monotonic_increasing
    assert shipped.drop(columns="weather").notna().all().all()
    assert set(shipped["weather"].dropna()) == {"drizzle", "fog", "rain", "snow", "sun"}
    missing_share = shipped["weather"].isna().mean()
    assert missing_share == pytest.approx(41 / 1461)
    assert abs(missing_share - MISSING_LABEL_SHARE) < 0.01


def _rain_share(rows: pd.DataFrame) -> float:
    labelled = rows[rows["weather"].notna()]
    return float((labelled["weather"] == "rain").mean())


def test_label_drift_is_real(shipped: pd.DataFrame) -> None:
    stamps = shipped["timestamp"]
    before = shipped[stamps.dt.year == 2012]
    after = shipped[stamps >= pd.Timestamp("2013-05-01")]

    # Measured: 189 of 356 labelled days in 2012 are "rain" (0.531), 11 of 948 after 2013-05 (0.012).
    assert 0.45 < _rain_share(before) < 0.60
    assert _rain_share(after) < 0.03


def test_label_drift_is_concept_drift_on_wet_days(shipped: pd.DataFrame) -> None:
    # Same measurement, different label: days with precipitation were nearly always "rain" in
    # 2012 (155 of 175) and nearly never after 2013-05 (8 of 366).
    wet = shipped[shipped["precipitation"] > 0]
    before = wet[wet["timestamp"].dt.year == 2012]
    after = wet[wet["timestamp"] >= pd.Timestamp("2013-05-01")]

    assert _rain_share(before) > 0.8
    assert _rain_share(after) < 0.05
