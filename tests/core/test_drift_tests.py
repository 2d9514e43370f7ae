"""Drift tests against a profile: Evidently's method choice, each statistic against scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from tasks.core.drift_tests import choose_method, current_side, drift_of_column
from tasks.core.profiles import profile_categorical, profile_numeric
from tasks.errors import DataError


@pytest.mark.parametrize(
    ("kind", "reference_count", "distinct", "method"),
    [
        ("numeric", 1_000, 6, "ks"),
        ("numeric", 1_000, 5, "chisquare"),
        ("numeric", 1_000, 2, "z"),
        ("categorical", 1_000, 3, "chisquare"),
        ("categorical", 1_000, 2, "z"),
        ("categorical", 20, 1, "z"),
        ("numeric", 1_001, 6, "wasserstein"),
        ("numeric", 1_001, 5, "jensenshannon"),
        ("categorical", 1_001, 50, "jensenshannon"),
    ],
)
def test_the_method_is_evidentlys_choice(kind, reference_count, distinct, method):
    assert choose_method(kind, reference_count, distinct) == method


def _numeric(seed: int, rows: int, shift: float = 0.0, decimals: int | None = None) -> np.ndarray:
    values = np.random.default_rng(seed).normal(shift, 1.0, rows)
    return np.round(values, decimals) if decimals is not None else values


@pytest.mark.parametrize("decimals", [None, 1])  # ties between and within the sides
@pytest.mark.parametrize(("reference_rows", "current_rows"), [(800, 300), (5_000, 3_000)])
def test_wasserstein_is_scipys_over_the_reference_std(decimals, reference_rows, current_rows):
    reference = _numeric(1, reference_rows, decimals=decimals)
    current = _numeric(2, current_rows, 0.2, decimals)
    profile = profile_numeric(reference)
    result = drift_of_column("x", profile, current_side(profile, current), "wasserstein")
    expected = stats.wasserstein_distance(reference, current) / np.std(reference)
    assert result.score == pytest.approx(expected, rel=1e-9)
    assert result.drifted == (expected >= 0.1) and result.threshold == 0.1


@pytest.mark.parametrize("decimals", [None, 1])
@pytest.mark.parametrize(("reference_rows", "current_rows"), [(900, 400), (20_000, 15_000)])
def test_ks_is_scipys_p_value_exact_and_asymptotic(decimals, reference_rows, current_rows):
    reference = _numeric(3, reference_rows, decimals=decimals)
    current = _numeric(4, current_rows, 0.03, decimals)
    profile = profile_numeric(reference)
    result = drift_of_column("x", profile, current_side(profile, current))
    expected = stats.ks_2samp(reference, current).pvalue
    assert result.method == ("ks" if reference_rows <= 1_000 else "wasserstein")
    ks = drift_of_column("x", profile, current_side(profile, current), "ks", 0.01)
    assert ks.score == pytest.approx(expected, rel=1e-7, abs=1e-300)
    assert ks.drifted == (expected <= 0.01) and ks.shown_method == "ks"


def test_categorical_jensenshannon_psi_and_chisquare_follow_their_formulas():
    reference = pd.Series(["a"] * 600 + ["b"] * 300 + ["c"] * 100 + [None] * 7)
    current = pd.Series(["a"] * 200 + ["b"] * 200 + ["d"] * 100)
    profile = profile_categorical(reference)
    window = current_side(profile, current)
    ref_share = np.array([0.6, 0.3, 0.1, 0.0])
    cur_share = np.array([0.4, 0.4, 0.0, 0.2])
    js = drift_of_column("c", profile, window)  # 1,000 reference values: chi-square
    assert js.method == "chisquare" and js.shown_method == "chi-square p_value"
    with np.errstate(divide="ignore"):  # "d" is new: expected 0, statistic infinite
        expected_chi = stats.chisquare([200, 200, 0, 100], np.array([600, 300, 100, 0]) * 0.5)
    assert js.score == pytest.approx(expected_chi.pvalue) and js.score == 0.0 and js.drifted
    jensen = drift_of_column("c", profile, window, "jensenshannon")
    assert jensen.score == pytest.approx(distance.jensenshannon(ref_share, cur_share))
    psi = drift_of_column("c", profile, window, "psi", 0.5)
    filled_ref = np.where(ref_share == 0, 0.0001, ref_share)
    filled_cur = np.where(cur_share == 0, 0.0001, cur_share)
    assert psi.score == pytest.approx(
        np.sum((filled_ref - filled_cur) * np.log(filled_ref / filled_cur))
    )
    assert psi.threshold == 0.5 and psi.drifted == (psi.score >= 0.5)


def test_the_z_test_compares_the_share_of_values_other_than_the_smallest():
    reference = profile_categorical(pd.Series(["no"] * 70 + ["yes"] * 30))
    window = current_side(reference, pd.Series(["no"] * 50 + ["yes"] * 50))
    result = drift_of_column("flag", reference, window)
    p1, p2, pooled = 0.3, 0.5, 0.4
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))
    assert result.method == "z"
    assert result.score == pytest.approx(2 * (1 - stats.norm.cdf(abs(z))))
    same = drift_of_column("flag", reference, current_side(reference, pd.Series(["no"] * 40)))
    assert same.method == "z" and same.score < 0.001 and same.drifted  # one side all "no"


def test_a_constant_column_equal_on_both_sides_has_not_drifted():
    reference = profile_numeric(np.full(50, 2.0))
    result = drift_of_column("k", reference, current_side(reference, np.full(30, 2.0)))
    assert result.method == "z" and result.score == 1.0 and not result.drifted


def test_missing_and_infinite_values_are_left_out_of_the_window_too():
    reference = profile_numeric(_numeric(5, 2_000))
    current = np.concatenate([_numeric(6, 1_500, 0.5), [np.nan] * 50, [np.inf, -np.inf]])
    window = current_side(reference, current)
    assert isinstance(window, np.ndarray) and len(window) == 1_500
    result = drift_of_column("x", reference, window)
    finite = current[np.isfinite(current)]
    expected = stats.wasserstein_distance(reference.values, finite) / np.std(reference.values)
    assert result.score == pytest.approx(expected, rel=1e-9) and result.drifted


def test_an_empty_side_is_an_error_that_names_the_column():
    reference = profile_numeric(_numeric(7, 100))
    with pytest.raises(DataError, match="'x' has no values in the current window"):
        drift_of_column("x", reference, current_side(reference, np.full(5, np.nan)))


def test_a_method_it_does_not_compute_is_refused_for_evidently_to_test():
    reference = profile_numeric(_numeric(7, 100))
    with pytest.raises(ValueError, match="'anderson' is not computed here"):
        drift_of_column("x", reference, current_side(reference, _numeric(8, 50)), "anderson")


def test_numeric_binned_methods_use_sturges_bins_over_both_sides():
    reference = _numeric(9, 3_000)
    current = _numeric(10, 2_000, 0.3)
    profile = profile_numeric(reference)
    result = drift_of_column("x", profile, current_side(profile, current), "jensenshannon")
    edges = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
    ref_share = np.histogram(reference, edges)[0] / len(reference)
    cur_share = np.histogram(current, edges)[0] / len(current)
    assert result.score == pytest.approx(distance.jensenshannon(ref_share, cur_share), rel=1e-9)
