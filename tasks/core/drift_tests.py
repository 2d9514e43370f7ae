"""Drift of every row of a window against a reference profile, as Evidently 0.7.23 tests it.

The method is the one Evidently would choose for the column (its `_get_default_stattest`):
reference of at most 1,000 values: K-S for a numeric column with more than 5 distinct values
(window and reference together), chi-square for 3 to 5, the Z-test for 1 or 2, and the same
chi-square / Z-test for a categorical column by its distinct values; more than 1,000: the normed
Wasserstein distance for a numeric column with more than 5 distinct values, Jensen-Shannon
otherwise. A configured method (`drift_method`, `column_drift`) replaces the choice; its default
threshold is Evidently's. Each statistic follows the Evidently/scipy function it stands for, but
from the reference's sorted values or counts and one sort of the window's column, so a window of
1M rows costs a sort and a merge per column instead of Evidently's three passes.

Methods outside SUPPORTED are left to Evidently (the caller's fallback).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

from tasks.core.profiles import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    profile_categorical,
)
from tasks.core.sorted_numbers import sorted_finite
from tasks.errors import DataError

# Evidently's default threshold of each method; p-values drift below it, distances at or above.
DEFAULT_THRESHOLDS = {
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.1,
    "kl_div": 0.1,
}
SUPPORTED = frozenset(DEFAULT_THRESHOLDS)
# What Evidently calls a method it chose itself (a configured method keeps its configured name).
DISPLAY_NAMES = {
    "ks": "K-S p_value",
    "chisquare": "chi-square p_value",
    "z": "Z-test p_value",
    "wasserstein": "Wasserstein distance (normed)",
    "jensenshannon": "Jensen-Shannon distance",
    "psi": "PSI",
    "kl_div": "Kullback-Leibler divergence",
}
P_VALUES = frozenset({"ks", "chisquare", "z"})
SMALL_REFERENCE = 1_000  # Evidently: reference <= 1000 rows -> statistical tests
KS_EXACT_ROWS = 10_000  # scipy's ks_2samp 'auto': exact when both sides have at most this many

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class DriftResult:
    """One column's drift test: method, score (p-value or distance), threshold, verdict;
    shown_method is the method's name as Evidently reports it (its display name when it chose
    the method, the configured name otherwise)."""

    method: str
    shown_method: str
    score: float
    threshold: float
    drifted: bool


def choose_method(kind: Kind, reference_count: int, distinct: int) -> str:
    """Evidently 0.7.23's default method for a column (reference_count: its non-missing
    reference values; distinct: distinct values of reference and window together)."""
    if reference_count <= SMALL_REFERENCE:
        if kind == "numeric" and distinct > 5:
            return "ks"
        return "chisquare" if distinct > 2 else "z"
    if kind == "numeric" and distinct > 5:
        return "wasserstein"
    return "jensenshannon"


def _distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array."""
    if len(values) == 0:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _counts_of_sorted(values: np.ndarray) -> CategoricalProfile:
    distinct, counts = np.unique(values, return_counts=True)
    return CategoricalProfile(values=distinct, counts=counts.astype(np.int64))


def _aligned(
    reference: CategoricalProfile, current: CategoricalProfile
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of reference and window over the union of their values (0 where unseen)."""
    ref_values, cur_values = reference.values, current.values
    if ref_values.dtype.kind != cur_values.dtype.kind:
        if {ref_values.dtype.kind, cur_values.dtype.kind} <= {"i", "f"}:
            ref_values, cur_values = ref_values.astype(float), cur_values.astype(float)
        else:
            ref_values, cur_values = ref_values.astype(str), cur_values.astype(str)
    ref = pd.Series(reference.counts, index=ref_values).groupby(level=0).sum()
    cur = pd.Series(current.counts, index=cur_values).groupby(level=0).sum()
    union = ref.index.union(cur.index)
    return (
        ref.reindex(union, fill_value=0).to_numpy(dtype=np.float64),
        cur.reindex(union, fill_value=0).to_numpy(dtype=np.float64),
    )


def _first_key_share(reference: CategoricalProfile, current: CategoricalProfile) -> float:
    """Evidently's Z-test: two-sided p-value of the share of values other than the smallest."""
    ref_values, cur_values = reference.values, current.values
    union = sorted(set(ref_values.tolist()) | set(cur_values.tolist()))
    if len(union) == 1:
        return 1.0  # one and the same value on both sides
    first = union[0]
    n1, n2 = float(reference.counts.sum()), float(current.counts.sum())
    p1 = float(reference.counts[ref_values != first].sum()) / n1
    p2 = float(current.counts[cur_values != first].sum()) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - stats.norm.cdf(np.abs(z))))


def _chisquare(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    expected = ref_counts * (cur_counts.sum() / ref_counts.sum())
    # A value the reference never had expects 0: the statistic is infinite, p is 0 (as in
    # Evidently, which lets numpy warn about it).
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(stats.chisquare(cur_counts, expected)[1])


def _fill_zeroes(percents: np.ndarray) -> np.ndarray:
    """Evidently's get_binned_data(feel_zeroes=True): empty bins get a small share."""
    smallest = percents[percents != 0].min()
    filled = percents.copy()
    filled[filled == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return filled


def _sturges_counts(
    reference: NumericProfile, current: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Counts in the 'sturges' bins numpy draws over reference and window together."""
    total = reference.count + len(current)
    low = min(reference.values[0], current[0])
    high = max(reference.values[-1], current[-1])
    if high > low:
        width = (high - low) / (np.log2(total) + 1.0)
        bins = int(np.ceil((high - low) / width))
    else:
        low, high, bins = low - 0.5, high + 0.5, 1
    edges = np.linspace(low, high, bins + 1, endpoint=True)

    def counts(sorted_values: np.ndarray) -> np.ndarray:
        # np.histogram with explicit edges: [a, b) bins, the last one closed
        cumulative = np.concatenate(
            (
                np.searchsorted(sorted_values, edges[:-1], "left"),
                np.searchsorted(sorted_values, edges[-1:], "right"),
            )
        )
        return np.diff(cumulative).astype(np.float64)

    return counts(reference.values), counts(current)


def _binned(
    method: str,
    reference: ColumnProfile,
    current: np.ndarray | CategoricalProfile,
) -> float:
    """Jensen-Shannon, PSI or KL divergence over Evidently's bins (get_binned_data)."""
    if isinstance(reference, NumericProfile) and isinstance(current, np.ndarray):
        if len(_distinct_sorted(reference.values)) > 20:
            ref_counts, cur_counts = _sturges_counts(reference, current)
            ref_total, cur_total = float(len(reference.values)), float(len(current))
        else:
            ref_counts, cur_counts = _aligned(
                _counts_of_sorted(reference.values), _counts_of_sorted(current)
            )
            ref_total, cur_total = ref_counts.sum(), cur_counts.sum()
    elif isinstance(reference, CategoricalProfile) and isinstance(current, CategoricalProfile):
        ref_counts, cur_counts = _aligned(reference, current)
        ref_total, cur_total = ref_counts.sum(), cur_counts.sum()
    else:
        raise DataError("a drift test got a numeric and a categorical side of one column")
    ref_percents, cur_percents = ref_counts / ref_total, cur_counts / cur_total
    if method == "jensenshannon":
        return float(distance.jensenshannon(ref_percents, cur_percents))
    ref_percents, cur_percents = _fill_zeroes(ref_percents), _fill_zeroes(cur_percents)
    if method == "psi":
        return float(np.sum((ref_percents - cur_percents) * np.log(ref_percents / cur_percents)))
    return float(stats.entropy(ref_percents, cur_percents))


def _cdfs_on_merge(
    reference: np.ndarray, current: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both empirical CDFs at every value of the merged sample (scipy's construction)."""
    merged = np.concatenate((reference, current))
    merged.sort(kind="stable")  # two sorted runs: one merge
    ref_cdf = np.searchsorted(reference, merged, "right") / len(reference)
    cur_cdf = np.searchsorted(current, merged, "right") / len(current)
    return merged, ref_cdf, cur_cdf


def _wasserstein_1(reference: np.ndarray, current: np.ndarray) -> float:
    """scipy's wasserstein_distance of two sorted samples, as the area between their quantile
    functions: on each stretch of (0, 1) between the breakpoints i/m and j/n both are constant,
    and the breakpoints' merged order is known without a search (integers in units of 1/(mn))."""
    m, n = len(reference), len(current)
    if m == n:
        return float(np.mean(np.abs(reference - current)))
    i = np.arange(m + 1, dtype=np.int64)
    j = np.arange(n + 1, dtype=np.int64)
    points = np.empty(m + n + 2, dtype=np.int64)
    points[i + -(-(i * n) // m)] = i * n  # after the j/n strictly below i/m
    points[j + (j * m) // n + 1] = j * m  # after the i/m at or below j/n
    left = points[:-1]
    gaps = np.abs(reference[np.minimum(left // n, m - 1)] - current[np.minimum(left // m, n - 1)])
    return float(np.dot(gaps, np.diff(points)) / (m * n))


def _wasserstein_normed(reference: NumericProfile, current: np.ndarray) -> float:
    """Evidently's normed Wasserstein distance: W1 over the reference's std (at least 0.001)."""
    distance_1 = _wasserstein_1(reference.values, current)
    return distance_1 / max(float(np.std(reference.values)), 0.001)


def _ks_p_value(reference: NumericProfile, current: np.ndarray) -> float:
    """scipy's ks_2samp p-value (two-sided, method 'auto')."""
    if not reference.sketched and max(reference.count, len(current)) <= KS_EXACT_ROWS:
        return float(stats.ks_2samp(reference.values, current)[1])
    _, ref_cdf, cur_cdf = _cdfs_on_merge(reference.values, current)
    differences = ref_cdf - cur_cdf
    statistic = max(float(differences.max()), float(np.clip(-differences.min(), 0, 1)))
    larger, smaller = sorted([float(reference.count), float(len(current))], reverse=True)
    effective = larger * smaller / (larger + smaller)
    return float(np.clip(stats.kstwo.sf(statistic, np.round(effective)), 0, 1))


def _as_counts(values: np.ndarray | CategoricalProfile) -> CategoricalProfile:
    return values if isinstance(values, CategoricalProfile) else _counts_of_sorted(values)


def _score(
    method: str, reference: ColumnProfile, current: np.ndarray | CategoricalProfile
) -> float:
    if method in ("ks", "wasserstein"):
        if not isinstance(reference, NumericProfile) or not isinstance(current, np.ndarray):
            raise DataError(f"drift method {method} tests numeric columns only")
        return (_ks_p_value if method == "ks" else _wasserstein_normed)(reference, current)
    if method in ("chisquare", "z"):
        ref = (
            reference
            if isinstance(reference, CategoricalProfile)
            else _counts_of_sorted(reference.values)
        )
        cur = _as_counts(current)
        if method == "z":
            return _first_key_share(ref, cur)
        ref_counts, cur_counts = _aligned(ref, cur)
        return _chisquare(ref_counts, cur_counts)
    return _binned(method, reference, current)


def current_side(
    reference: ColumnProfile, values: np.ndarray | pd.Series | CategoricalProfile
) -> np.ndarray | CategoricalProfile:
    """The window's column in the form its reference has: sorted finite floats, or counts
    (values already counted pass through)."""
    if isinstance(values, CategoricalProfile):
        return values
    if isinstance(reference, NumericProfile):
        dtype = getattr(values, "dtype", None)
        if isinstance(values, pd.Series | np.ndarray):
            shared = sorted_finite(values)  # the data-quality check's sort, when it made one
            if shared is not None:
                return shared
        if isinstance(dtype, np.dtype) and dtype.kind in "fiu":
            array = np.asarray(values, dtype=np.float64)  # no copy for float64
        else:
            array = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
        finite = array[np.isfinite(array)]  # a copy: sorted in place
        finite.sort()
        return finite
    return profile_categorical(values)


def _distinct(reference: ColumnProfile, current: np.ndarray | CategoricalProfile) -> int:
    """Distinct values of both sides together (missing ones left out)."""
    if isinstance(reference, NumericProfile) and isinstance(current, np.ndarray):
        ref_distinct = _distinct_sorted(reference.values)
        if len(ref_distinct) > 5:
            return len(ref_distinct)  # only "more than 5" matters
        return len(np.union1d(ref_distinct, _distinct_sorted(current)))
    ref_counts, _ = _aligned(_as_counts_any(reference), _as_counts(current))
    return len(ref_counts)


def _as_counts_any(profile: ColumnProfile) -> CategoricalProfile:
    return profile if isinstance(profile, CategoricalProfile) else _counts_of_sorted(profile.values)


def drift_of_column(
    column: str,
    reference: ColumnProfile,
    current: np.ndarray | CategoricalProfile,
    method: str | None = None,
    threshold: float | None = None,
) -> DriftResult:
    """Test one column of the window (current_side's form) against its reference profile.

    method/threshold: the configured ones, None for Evidently's choice and default. DataError
    when a side has no values; ValueError for a method outside SUPPORTED.
    """
    size = len(current) if isinstance(current, np.ndarray) else current.count
    reference_count = reference.count
    if size == 0 or reference_count == 0:
        side = "current window" if size == 0 else "reference"
        raise DataError(
            f"column {column!r} has no values in the {side}; drift cannot be tested on it. "
            "Fix the data, or remove it from the features"
        )
    kind: Kind = "numeric" if isinstance(reference, NumericProfile) else "categorical"
    chosen = method or choose_method(kind, reference_count, _distinct(reference, current))
    if chosen not in SUPPORTED:
        raise ValueError(f"drift method {chosen!r} is not computed here; Evidently tests it")
    limit = DEFAULT_THRESHOLDS[chosen] if threshold is None else threshold
    score = _score(chosen, reference, current)
    if chosen == "ks":
        drifted = score <= limit
    elif chosen in P_VALUES:
        drifted = score < limit
    else:
        drifted = score >= limit
    return DriftResult(
        method=chosen,
        shown_method=method or DISPLAY_NAMES[chosen],
        score=score,
        threshold=limit,
        drifted=bool(drifted),
    )
