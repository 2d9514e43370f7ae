"""One sort per numeric column of a window, shared by the data-quality checks and drift tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.core.drift_tests import current_side, drift_of_column
from tasks.core.duplicates import count_distinct
from tasks.core.profiles import NumericProfile, profile_numeric
from tasks.core.sorted_numbers import sharing_sorts, sorted_finite, sorted_present

VALUES = [2.5, np.nan, -0.0, np.inf, 1.0, 0.0, -np.inf, 2.5, -3.0]


def test_sorted_values_are_numpys_sort_without_the_missing_or_infinite_ones() -> None:
    column = pd.Series(VALUES)
    present = sorted_present(column)
    finite = sorted_finite(column)
    assert present is not None and finite is not None
    expected = np.sort(np.array(VALUES)[~np.isnan(VALUES)])
    np.testing.assert_array_equal(present, expected)
    np.testing.assert_array_equal(finite, [-3.0, -0.0, 0.0, 1.0, 2.5, 2.5])
    assert finite.dtype == np.float64 and not finite.flags.writeable
    integers = sorted_finite(pd.Series([3, 1, 2, 1]))
    assert integers is not None and integers.dtype == np.float64
    np.testing.assert_array_equal(integers, [1.0, 1.0, 2.0, 3.0])
    assert sorted_present(pd.Series(["b", "a"])) is None  # text: not numbers
    # -0.0 and 0.0 one value, NaN left out, as pandas counts.
    assert count_distinct(pd.Series(VALUES)) == pd.Series(VALUES).nunique() == 6


def test_inside_one_window_the_drift_test_takes_the_quality_checks_sort() -> None:
    frame = pd.DataFrame({"x": VALUES * 3, "y": np.arange(27.0)})
    reference = profile_numeric(np.linspace(-3, 3, 50))
    alone = current_side(reference, frame["x"])
    with sharing_sorts():
        kept = sorted_present(frame["x"])  # the constant check's sort
        assert count_distinct(frame["x"]) == 6
        shared = current_side(reference, frame["x"])
        assert isinstance(shared, np.ndarray) and kept is not None
        assert np.shares_memory(shared, kept)  # not sorted again
        # The drift test is the last use: the kept sort is let go.
        again = sorted_present(frame["x"])
        assert again is not None and not np.shares_memory(again, kept)
    np.testing.assert_array_equal(shared, alone)
    assert drift_of_column("x", reference, shared) == drift_of_column("x", reference, alone)
    # Outside a window nothing is kept.
    first, second = sorted_present(frame["y"]), sorted_present(frame["y"])
    assert first is not None and second is not None and not np.shares_memory(first, second)


def test_a_column_replaced_meanwhile_is_sorted_afresh() -> None:
    frame = pd.DataFrame({"x": [3.0, 1.0, 2.0]})
    reference = NumericProfile(values=np.array([1.0, 2.0, 3.0]), count=3)
    with sharing_sorts():
        assert count_distinct(frame["x"]) == 3
        kept = frame["x"]  # the kept sort holds the old array: its memory cannot be reused
        frame["x"] = [9.0, 7.0, np.nan]  # numbers_for_model's conversion makes a new column
        side = current_side(reference, frame["x"])
    assert isinstance(side, np.ndarray)
    np.testing.assert_array_equal(side, [7.0, 9.0])
    assert kept.tolist() == [3.0, 1.0, 2.0]


@pytest.mark.parametrize("values", [[1.0, np.nan], [np.nan, np.nan]])
def test_missing_values_are_left_out_of_the_distinct_count(values: list[float]) -> None:
    assert count_distinct(pd.Series(values)) == int(not np.isnan(values[0]))
