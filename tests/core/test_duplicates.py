"""count_duplicates: pandas' duplicated().sum(), exactly, whatever the column types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.core import duplicates
from tasks.core.duplicates import count_distinct, count_duplicates, text_counts


def mixed_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    objects = np.array([1, 1.0, "a", None, np.nan, True, "1"], dtype=object)
    return pd.DataFrame(
        {
            "float": rng.choice([0.0, -0.0, np.nan, 1.5, float("nan"), np.inf], rows),
            "object": pd.Series(rng.choice(objects, rows), dtype=object),
            "category": pd.Categorical(rng.choice(np.array(["x", "y", None], dtype=object), rows)),
            "int": rng.integers(0, 2, rows),
            "text": pd.array(
                rng.choice(np.array(["p", "q", None], dtype=object), rows), dtype="str"
            ),
            "nullable": pd.array(
                rng.choice(np.array([1, 2, None], dtype=object), rows), dtype="Int64"
            ),
            "time": pd.to_datetime(rng.choice(np.array(["2020-01-01", None], dtype=object), rows)),
            "flag": rng.random(rows) < 0.5,
            "float32": rng.choice([0.5, -0.0, 0.0, np.nan], rows).astype(np.float32),
        }
    )


@pytest.mark.parametrize("seed", range(20))
def test_equals_pandas_on_mixed_types_with_missing_values(seed: int) -> None:
    frame = mixed_frame(int(np.random.default_rng(seed).integers(2, 80)), seed)
    assert count_duplicates(frame) == int(frame.duplicated().sum())


@pytest.mark.parametrize(
    "columns", [["float"], ["object", "category"], ["time", "float"], ["text", "nullable"]]
)
def test_equals_pandas_on_a_subset_of_columns(columns: list[str]) -> None:
    frame = mixed_frame(60, 1)
    assert count_duplicates(frame, columns) == int(frame.duplicated(subset=columns).sum())


def test_negative_zero_and_every_nan_are_one_value_as_in_pandas() -> None:
    nan_bits = np.array([0x7FF8000000000001, 0xFFF8000000000000], dtype=np.uint64)
    frame = pd.DataFrame(
        {"x": np.concatenate([[0.0, -0.0, np.nan], nan_bits.view(np.float64)]), "y": [1] * 5}
    )
    assert int(frame.duplicated().sum()) == 3
    assert count_duplicates(frame) == 3


def test_rows_that_only_share_a_key_are_not_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row gets the same key (every pair collides): the count is still pandas'."""
    monkeypatch.setattr(
        duplicates, "row_keys", lambda frame, positions: np.zeros(len(frame), dtype=np.uint64)
    )
    frame = pd.DataFrame({"a": [1, 2, 1, 3, 2], "b": ["x", "y", "x", "z", "w"]})
    assert count_duplicates(frame) == int(frame.duplicated().sum()) == 1


def test_a_large_frame_with_distinct_floats_and_repeated_rows() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=20_000),
            "b": rng.choice(np.array(["u", "v"], dtype=object), 20_000),
        }
    )
    frame = pd.concat([frame, frame.iloc[::7]], ignore_index=True)
    assert count_duplicates(frame) == int(frame.duplicated().sum()) == len(frame.iloc[:20_000:7])


def test_small_and_empty_frames_and_repeated_column_names() -> None:
    assert count_duplicates(pd.DataFrame({"a": []})) == 0
    assert count_duplicates(pd.DataFrame({"a": [1]})) == 0
    repeated = pd.DataFrame([[1, 2, 3], [1, 2, 3], [1, 5, 3]], columns=["a", "a", "b"])
    assert count_duplicates(repeated) == 1
    assert count_duplicates(repeated, ["a"]) == int(repeated.duplicated(subset=["a"]).sum())


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([0.0, -0.0, np.nan, 1.5, 1.5, np.inf, -np.inf]),
        pd.Series([3, 1, 3, 2], dtype=np.int64),
        pd.Series(np.array([1, 1], dtype=np.uint8)),
        pd.Series([np.nan, np.nan]),
        pd.Series([], dtype=np.float64),
        pd.Series(np.array([0.25, 0.25, np.nan], dtype=np.float32)),
        pd.Series(["a", None, "a", "b"], dtype=object),
        pd.array([1, None, 1], dtype="Int64"),
    ],
)
def test_count_distinct_equals_nunique(values: pd.Series) -> None:
    series = pd.Series(values)
    assert count_distinct(series) == series.nunique()


def test_count_distinct_on_many_distinct_floats() -> None:
    values = pd.Series(np.random.default_rng(0).normal(size=50_000).round(2))
    assert count_distinct(values) == values.nunique()


def test_text_counts_counts_each_distinct_text_and_refuses_other_values() -> None:
    counted = text_counts(pd.Series(["b", None, "a", "b", np.nan], dtype=object))
    assert counted is not None
    distinct, counts = counted
    assert dict(zip(distinct, counts.tolist(), strict=True)) == {"b": 2, "a": 1}
    assert text_counts(pd.Series(["a", 1], dtype=object)) is None
