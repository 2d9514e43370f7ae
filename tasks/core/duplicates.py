"""Counting duplicated rows of a frame: pandas' duplicated().sum(), exactly, at a hash's cost.

`DataFrame.duplicated` factorizes every column in a hash table and then the combined codes
again: about 3.6 s for 1M rows x 27 columns here, most of it on float columns where nearly every
value is distinct. count_duplicates gives each row a 64-bit key built from one key per column,
in which rows that duplicated() takes as equal always get equal keys (floats by their bits once
-0.0 is made 0.0 and every NaN one NaN; integers, booleans and times by their bits; any other
column by pandas' own factorize codes, which is what duplicated() itself compares). A row whose
key no other row has is therefore no duplicate; the rows whose key repeats (the duplicates, and
rows that only share a key by a collision) are counted by duplicated() itself. So a collision
costs time, never a wrong count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tasks.core.sorted_numbers import sorted_present

# splitmix64's multipliers: mixing each column's key before combining them keeps structured keys
# (small codes, nearby bit patterns) from colliding by addition.
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_NAN_BITS = np.float64(np.nan).view(np.uint64)


def _mix(keys: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, element-wise on uint64 (wrapping arithmetic)."""
    keys = keys ^ (keys >> np.uint64(30))
    keys *= _MIX_1
    keys ^= keys >> np.uint64(27)
    keys *= _MIX_2
    keys ^= keys >> np.uint64(31)
    return keys


def column_keys(values: pd.Series) -> np.ndarray:
    """One uint64 per row, equal for values DataFrame.duplicated takes as equal."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind == "f":
            floats = values.to_numpy(dtype=np.float64) + 0.0  # -0.0 + 0.0 is 0.0
            bits = floats.view(np.uint64)
            return np.where(np.isnan(floats), _NAN_BITS, bits)
        if dtype.kind in "iu":
            return values.to_numpy().astype(np.int64, copy=False).view(np.uint64)
        if dtype.kind == "b":
            return values.to_numpy().astype(np.uint64)
        if dtype.kind in "mM":  # NaT is one bit pattern
            return values.to_numpy().view(np.int64).view(np.uint64)
    codes, _ = pd.factorize(values, use_na_sentinel=True)  # every missing value: -1
    return codes.astype(np.int64, copy=False).view(np.uint64)


def row_keys(frame: pd.DataFrame, positions: Sequence[int]) -> np.ndarray:
    """One uint64 per row over the columns at positions, equal for rows DataFrame.duplicated
    takes as equal."""
    keys = np.zeros(len(frame), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for index, position in enumerate(positions):
            salt = _GOLDEN * np.uint64(index + 1)
            column = _mix(column_keys(frame.iloc[:, position]) + salt)
            keys *= np.uint64(31)
            keys += column
    return keys


def count_duplicates(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> int:
    """The rows that repeat an earlier row on columns (all by default), NaN equal to NaN:
    frame.duplicated(subset=columns).sum(), without copying the columns."""
    locations = (
        list(range(frame.shape[1]))
        if columns is None
        else [frame.columns.get_loc(column) for column in columns]
    )
    positions = [location for location in locations if isinstance(location, int)]
    if len(frame) < 2 or not positions or len(positions) < len(locations):
        # Too small to gain, or a column name that is not unique: pandas' own count.
        return int(frame.duplicated(subset=columns).sum())
    keys = row_keys(frame, positions)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    repeated = np.zeros(len(keys), dtype=bool)
    same = ordered[1:] == ordered[:-1]
    repeated[1:] |= same
    repeated[:-1] |= same
    if not repeated.any():
        return 0
    candidates = np.sort(order[repeated])  # in the frame's order, as duplicated() counts
    subset: pd.DataFrame = frame.iloc[candidates, positions]
    return int(subset.duplicated().sum())


def count_distinct(values: pd.Series) -> int:
    """values.nunique() (missing values left out): numbers by one sort instead of a hash table
    (0.08 s instead of 0.2 s for 1M distinct floats), -0.0 the same value as 0.0."""
    ordered = sorted_present(values)  # kept for the drift tests inside sharing_sorts()
    if ordered is None:
        return int(values.nunique())
    if not len(ordered):
        return 0
    return 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1]))


def text_counts(values: pd.Series) -> tuple[list[str], np.ndarray] | None:
    """The distinct values of a column of text and how often each occurs (missing values left
    out), by one factorize; None when a value is not a str (then str() of two values pandas
    takes as equal, 1 and 1.0, may differ, and the caller counts them one by one)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    distinct = list(np.asarray(uniques, dtype=object))
    if not all(type(value) is str for value in distinct):
        return None
    counts = np.bincount(codes[codes >= 0], minlength=len(distinct))
    return distinct, counts
