"""The bundled demo: the Seattle weather set (vega-datasets, MIT) as a production log.

1,461 daily rows, 2012-2015: features precipitation, temp_max, temp_min, wind; label
`weather`. The labelling source changed around 2013-04 (rain and drizzle become fog or sun
for the same measurements): a real concept drift. About 3% of labels are removed with a fixed
seed, standing in for labels that never arrived.

    python -m tasks.stores.demo            # rewrite data/seattle/ from the package's copy
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

DEMO_DIR = Path(__file__).resolve().parents[2] / "data" / "seattle"
MISSING_LABEL_SHARE = 0.03
SEED = 20120101


def build_production_log() -> pd.DataFrame:
    """The demo log: one row per day with a timestamp, four features and a (sometimes missing) label."""
    from vega_datasets import local_data

    raw = local_data.seattle_weather()
    log = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(raw["date"]).astype("datetime64[us]"),
            "precipitation": raw["precipitation"].astype(float),
            "temp_max": raw["temp_max"].astype(float),
            "temp_min": raw["temp_min"].astype(float),
            "wind": raw["wind"].astype(float),
            "weather": raw["weather"].astype(object),
        }
    )
    rng = np.random.default_rng(SEED)
    never_labelled = rng.random(len(log)) < MISSING_LABEL_SHARE
    log.loc[never_labelled, "weather"] = None
    return log


def write_demo_log(directory: Path = DEMO_DIR) -> list[Path]:
    """Write the log as one Parquet file per year, the layout a daily export would have."""
    directory.mkdir(parents=True, exist_ok=True)
    log = build_production_log()
    paths = []
    for year, rows in log.groupby(log["timestamp"].dt.year):
        path = directory / f"weather-{year}.parquet"
        rows.to_parquet(path, index=False)
        paths.append(path)
    return paths


def out_directory(description: str | None, default: Path) -> Path:
    """The directory a demo data builder's command line writes to: --out, else default."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=default, help="directory to write (default: %(default)s)"
    )
    out: Path = parser.parse_args().out
    return out


def main() -> None:
    for path in write_demo_log(out_directory(__doc__, DEMO_DIR)):
        print(path)


if __name__ == "__main__":
    main()
