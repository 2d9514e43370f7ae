"""Reference profiles: what they keep of each column, their stored form, the sketch."""

from __future__ import annotations

import io
import mmap

import numpy as np
import pandas as pd
import pytest

from tasks.core.profiles import (
    CategoricalProfile,
    NumericProfile,
    build_profile,
    profile_categorical,
    profile_from_bytes,
    profile_numeric,
    profile_to_bytes,
)
from tasks.errors import DataError


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [3.0, np.nan, 1.0, np.inf, 2.0, 1.0],
            "n": pd.array([5, None, 4, 4, 6, 5], dtype="Int64"),
            "level": ["b", "a", None, "b", "b", "a"],
            "code": [7, 7, 3, 7, 3, 7],
            "constant": [1.5] * 6,
            "y": [0.5, 1.5, 2.5, np.nan, 4.5, 5.5],
        }
    )


def test_numeric_columns_keep_their_sorted_finite_values():
    profile = profile_numeric(_frame()["x"])
    assert profile.values.tolist() == [1.0, 1.0, 2.0, 3.0]
    assert profile.count == 4 and not profile.sketched
    nullable = profile_numeric(_frame()["n"])
    assert nullable.values.tolist() == [4.0, 4.0, 5.0, 5.0, 6.0]


def test_categorical_columns_keep_each_value_with_its_count_missing_ones_left_out():
    profile = profile_categorical(_frame()["level"])
    assert dict(zip(profile.values.tolist(), profile.counts.tolist(), strict=True)) == {
        "a": 2,
        "b": 3,
    }
    assert profile.count == 5
    codes = profile_categorical(_frame()["code"])
    assert codes.values.dtype == np.int64  # numbers stay numbers: the Z-test sorts them
    assert dict(zip(codes.values.tolist(), codes.counts.tolist(), strict=True)) == {7: 4, 3: 2}


def test_a_constant_column_is_one_value_repeated():
    profile = profile_numeric(_frame()["constant"])
    assert profile.values.tolist() == [1.5] * 6


def test_a_huge_column_keeps_a_sketch_with_its_extremes_and_its_true_count():
    values = np.random.default_rng(0).normal(size=10_001)
    profile = profile_numeric(values, exact_values=101)
    assert profile.sketched and profile.count == 10_001 and len(profile.values) == 101
    assert profile.values[0] == values.min() and profile.values[-1] == values.max()
    # The sketch's distribution function is within 1/m of the full one everywhere.
    grid = np.linspace(-3, 3, 61)
    full = np.searchsorted(np.sort(values), grid, "right") / len(values)
    sketch = np.searchsorted(profile.values, grid, "right") / len(profile.values)
    assert np.max(np.abs(full - sketch)) <= 1 / 100 + 1 / 10_001


def test_the_stored_form_reads_back_the_same_profile():
    frame = _frame()
    profile = build_profile(
        frame,
        ["x", "n", "constant"],
        ["level", "code"],
        predictions=np.array([1, 0, 1, 1, 0, 1]),
        target="y",
    )
    read = profile_from_bytes(profile_to_bytes(profile))
    assert read.rows == 6 and list(read.columns) == ["x", "n", "constant", "level", "code"]
    for name, column in profile.columns.items():
        again = read.columns[name]
        assert type(again) is type(column)
        np.testing.assert_array_equal(again.values, column.values)
        if isinstance(column, CategoricalProfile):
            assert isinstance(again, CategoricalProfile)
            np.testing.assert_array_equal(again.counts, column.counts)
        else:
            assert isinstance(again, NumericProfile) and again.count == column.count
    assert isinstance(read.predictions, CategoricalProfile)
    assert dict(
        zip(read.predictions.values.tolist(), read.predictions.counts.tolist(), strict=True)
    ) == {"1": 4, "0": 2}  # predicted labels as text, as the drift report tests them
    assert read.target is not None and read.target.values.tolist() == [0.5, 1.5, 2.5, 4.5, 5.5]


def test_a_column_named_like_a_role_stays_a_feature():
    frame = pd.DataFrame({"predictions": [1.0, 2.0], "target": ["a", "b"]})
    read = profile_from_bytes(
        profile_to_bytes(
            build_profile(frame, ["predictions"], ["target"], predictions=np.array(["a", "b"]))
        )
    )
    assert list(read.columns) == ["predictions", "target"]
    assert isinstance(read.predictions, CategoricalProfile)


def test_bytes_that_are_not_a_profile_are_refused_with_the_fix():
    with pytest.raises(DataError, match=r"cannot be read.*register the version again"):
        profile_from_bytes(b"not an npz")


def test_a_profile_of_unknown_columns_names_them():
    with pytest.raises(DataError, match=r"no columns \['missing'\]"):
        build_profile(_frame(), ["missing"], [])


def _stored_profile() -> tuple[bytes, dict[str, np.ndarray]]:
    frame = _frame()
    profile = build_profile(frame, ["x", "y"], ["level", "code"])
    expected = {
        name: column.values for name, column in profile.columns.items() if name in ("x", "y")
    }
    return profile_to_bytes(profile), expected


def test_the_stored_form_is_read_in_place_not_copied():
    stored, expected = _stored_profile()
    read = profile_from_bytes(stored)
    underlying = np.frombuffer(stored, dtype=np.uint8)
    for name, values in expected.items():
        column = read.columns[name]
        assert isinstance(column, NumericProfile)
        np.testing.assert_array_equal(column.values, values)
        # A view of the stored bytes (a 1M-row profile is 160 MB: no second copy), read-only.
        assert np.shares_memory(column.values, underlying)
        assert not column.values.flags.writeable
    level = read.columns["level"]
    assert isinstance(level, CategoricalProfile)
    assert dict(zip(level.values.tolist(), level.counts.tolist(), strict=True)) == {"a": 2, "b": 3}


def test_a_memory_map_and_a_compressed_archive_read_the_same(tmp_path):
    stored, expected = _stored_profile()
    path = tmp_path / "profile.npz"
    path.write_bytes(stored)
    with path.open("rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    from_map = profile_from_bytes(mapped)
    # np.savez_compressed's members cannot be viewed: read (copied) by numpy, the same values.
    with np.load(io.BytesIO(stored)) as arrays:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **{name: arrays[name] for name in arrays.files})
    compressed = profile_from_bytes(buffer.getvalue())
    for read in (from_map, compressed):
        for name, values in expected.items():
            np.testing.assert_array_equal(read.columns[name].values, values)
    assert from_map.rows == compressed.rows == 6


def test_a_cut_profile_is_refused_with_the_fix():
    stored, _ = _stored_profile()
    with pytest.raises(DataError, match=r"cannot be read.*register the version again"):
        profile_from_bytes(stored[: len(stored) // 2])
