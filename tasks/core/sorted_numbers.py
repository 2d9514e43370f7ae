"""A window's numeric columns sorted once, shared by the data-quality checks and the drift tests.

The constant check counts a column's distinct values by sorting it (tasks/core/duplicates.py),
and each drift test sorts the same column again to compare it with the reference profile
(tasks/core/drift_tests.py): on a 1M x 20 numeric window, 20 sorts of 1M floats twice, about a
second of CPU. Inside `sharing_sorts()` (the monitor wraps one window's measurement in it) the
first sort of a column is kept and the second use gets it back. A column is recognised by its
memory (the numpy array behind the pandas column: address, shape, strides, dtype), and the kept
entry holds that array, so its memory cannot be freed and reused by another column meanwhile.
The window is not changed in place between the two uses (a column converted by
numbers_for_model is a new array, and so is sorted afresh). Outside `sharing_sorts()` nothing
is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pandas as pd

_Key = tuple[int, tuple[int, ...], tuple[int, ...], str]
_KEPT: ContextVar[dict[_Key, tuple[np.ndarray, np.ndarray]] | None] = ContextVar(
    "sorted_numbers", default=None
)


@contextmanager
def sharing_sorts() -> Iterator[None]:
    """Keep each column's sort meanwhile (for this context: thread, task), then drop them."""
    token = _KEPT.set({})
    try:
        yield
    finally:
        _KEPT.reset(token)


def _array(values: pd.Series | np.ndarray) -> np.ndarray | None:
    """The numpy array of numbers behind values (no copy); None for other dtypes."""
    dtype = values.dtype
    if not isinstance(dtype, np.dtype) or dtype.kind not in "fiu":
        return None
    return values if isinstance(values, np.ndarray) else values.to_numpy()


def _key(array: np.ndarray) -> _Key:
    return (array.__array_interface__["data"][0], array.shape, array.strides, array.dtype.str)


def sorted_present(values: pd.Series | np.ndarray) -> np.ndarray | None:
    """values without NaN, sorted (read-only), as np.sort would give them; None unless values
    hold numpy numbers (floats, integers). Inside sharing_sorts(), computed once per column."""
    array = _array(values)
    if array is None:
        return None
    kept = _KEPT.get()
    key = _key(array)
    if kept is not None and key in kept:
        return kept[key][1]
    present = array[~np.isnan(array)] if array.dtype.kind == "f" else array.copy()
    present.sort()
    present.flags.writeable = False
    if kept is not None:
        kept[key] = (array, present)
    return present


def sorted_finite(values: pd.Series | np.ndarray) -> np.ndarray | None:
    """values' finite numbers as sorted float64 (NaN and infinities dropped), read-only; None
    unless values hold numpy numbers. Takes sorted_present's sort inside sharing_sorts(): the
    drift test is a column's last use, so the kept sort is let go."""
    present = sorted_present(values)
    if present is None:
        return None
    kept = _KEPT.get()
    if kept is not None:
        array = _array(values)
        if array is not None:
            kept.pop(_key(array), None)
    if present.dtype.kind != "f":
        # Integers: float64 is monotone, so the sorted integers stay sorted as floats.
        floats = present.astype(np.float64)
        floats.flags.writeable = False
        return floats
    low = int(np.searchsorted(present, -np.inf, side="right"))
    high = int(np.searchsorted(present, np.inf, side="left"))
    finite = present[low:high]
    return finite if finite.dtype == np.float64 else finite.astype(np.float64)
