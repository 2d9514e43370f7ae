"""Paired statistics against known cases: sklearn's metrics, scipy's tests, a known true difference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as sk

from tasks.config import MetricConfig
from tasks.core.statistics import (
    PairedRows,
    holm_adjust,
    log_loss_of_true_class,
    mcnemar_test,
    metric_scores,
    pair_rows,
    paired_bootstrap,
    permutation_test,
    regression_p_value,
)
from tasks.errors import DataError

LABELS = ["sun", "rain", "fog", "drizzle", "snow"]


def _noisy(truth: np.ndarray, accuracy: float, rng: np.random.Generator) -> np.ndarray:
    return np.where(rng.random(len(truth)) < accuracy, truth, rng.choice(LABELS, len(truth)))


@pytest.fixture(scope="module")
def rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    truth = rng.choice(LABELS, 3000, p=[0.45, 0.3, 0.15, 0.07, 0.03])
    return truth, _noisy(truth, 0.6, rng), _noisy(truth, 0.7, rng)


@pytest.mark.parametrize(
    ("metric", "reference"),
    [
        (MetricConfig(name="accuracy"), lambda y, p: sk.accuracy_score(y, p)),
        (
            MetricConfig(name="f1"),
            lambda y, p: sk.f1_score(y, p, average="macro", zero_division=0),
        ),
        (
            MetricConfig(name="precision"),
            lambda y, p: sk.precision_score(y, p, average="macro", zero_division=0),
        ),
        (
            MetricConfig(name="recall"),
            lambda y, p: sk.recall_score(y, p, average="macro", zero_division=0),
        ),
    ],
    ids=["accuracy", "f1", "precision", "recall"],
)
def test_scores_from_row_types_equal_sklearn(rows, metric, reference) -> None:
    truth, champion, challenger = rows

    scores = metric_scores(metric, pair_rows(truth, champion, challenger))

    assert scores == pytest.approx((reference(truth, champion), reference(truth, challenger)))


def test_binary_f1_and_a_label_only_one_model_predicts_match_sklearn() -> None:
    truth = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    champion = np.array([1, 0, 0, 1, 1, 0, 0, 0])
    challenger = np.array([1, 1, 2, 0, 0, 0, 0, 0])  # 2 is in neither truth nor champion
    binary = MetricConfig(name="f1", average="binary", pos_label=1)
    macro = MetricConfig(name="f1")
    paired = pair_rows(truth, champion, challenger)

    assert metric_scores(binary, paired) == pytest.approx(
        (sk.f1_score(truth, champion), sk.f1_score(truth, challenger, average=None)[1])
    )
    assert metric_scores(macro, paired) == pytest.approx(
        (
            sk.f1_score(truth, champion, average="macro", zero_division=0),
            sk.f1_score(truth, challenger, average="macro", zero_division=0),
        )
    )


def test_bootstrap_interval_contains_the_true_difference_and_is_reproducible() -> None:
    # A known truth: the challenger is right on exactly 3 points more of the population.
    rng = np.random.default_rng(1)
    population = 100_000
    truth = rng.choice(["a", "b"], population)
    champion_right = rng.random(population) < 0.80
    challenger_right = champion_right.copy()
    flip = rng.permutation(np.flatnonzero(~champion_right))[: int(0.03 * population)]
    challenger_right[flip] = True
    other = np.where(truth == "a", "b", "a")
    champion = np.where(champion_right, truth, other)
    challenger = np.where(challenger_right, truth, other)
    metric = MetricConfig(name="accuracy")
    sample = rng.integers(0, population, 5000)
    paired = pair_rows(truth[sample], champion[sample], challenger[sample])

    first = paired_bootstrap(metric, paired, confidence=0.95, resamples=2000, seed=3)
    again = paired_bootstrap(metric, paired, confidence=0.95, resamples=2000, seed=3)
    other_seed = paired_bootstrap(metric, paired, confidence=0.95, resamples=2000, seed=4)

    assert first == again
    assert other_seed.standard_error != first.standard_error  # the seed matters
    assert first.lower < 0.03 < first.upper
    assert first.lower > 0  # 5,000 rows show a 3-point gain
    # The paired standard error of a difference of proportions: sqrt(discordant share / n).
    assert first.standard_error == pytest.approx(np.sqrt(0.03 / 5000), rel=0.15)


def test_bootstrap_of_identical_predictions_is_exactly_zero() -> None:
    truth = np.array(["a", "b", "a", "c"] * 10)
    predictions = np.array(["a", "a", "a", "c"] * 10)

    interval = paired_bootstrap(
        MetricConfig(name="f1"),
        pair_rows(truth, predictions, predictions),
        confidence=0.9,
        resamples=500,
        seed=0,
    )

    assert (interval.difference, interval.lower, interval.upper) == (0.0, 0.0, 0.0)


def test_the_bootstrap_s_work_grows_with_row_types_not_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Speed without a clock (timings are the benchmarks' job): the rows collapse into at most
    # k^3 types, and each chunk of resamples is one metric evaluation over those types, so 100x
    # the rows means the same work. A per-row loop would take minutes on 20,000 rows.
    from tasks.core import statistics

    evaluated: list[tuple[int, int]] = []
    real = statistics._metric_values

    def counting(
        metric: MetricConfig, paired: PairedRows, predicted: np.ndarray, counts: np.ndarray
    ) -> np.ndarray:
        evaluated.append(counts.shape)
        return real(metric, paired, predicted, counts)

    monkeypatch.setattr(statistics, "_metric_values", counting)
    rng = np.random.default_rng(2)
    shapes = {}
    for rows in (200, 20_000):
        truth = rng.choice(LABELS, rows)
        paired = pair_rows(truth, _noisy(truth, 0.6, rng), _noisy(truth, 0.62, rng))
        evaluated.clear()

        interval = paired_bootstrap(
            MetricConfig(name="f1"), paired, confidence=0.95, resamples=5000, seed=0
        )

        assert interval.resamples == 5000
        assert len(paired.counts) <= len(LABELS) ** 3
        shapes[rows] = list(evaluated)
    # Both models once on the rows themselves, then once per chunk of 500 resamples.
    chunks = -(-5000 // statistics._CHUNK)
    assert len(shapes[20_000]) == len(shapes[200]) == 2 + 2 * chunks
    assert all(resamples <= statistics._CHUNK for resamples, _ in shapes[20_000])
    assert all(types <= len(LABELS) ** 3 for _, types in shapes[20_000])


def _mcnemar_rows(both: int, champion_only: int, challenger_only: int, neither: int):
    truth = ["a"] * (both + champion_only + challenger_only + neither)
    champion = ["a"] * (both + champion_only) + ["b"] * (challenger_only + neither)
    challenger = ["a"] * both + ["b"] * champion_only + ["a"] * challenger_only + ["b"] * neither
    return pair_rows(truth, champion, challenger)


def test_mcnemar_exact_below_25_discordant_rows_matches_the_binomial_test() -> None:
    result = mcnemar_test(_mcnemar_rows(50, 3, 12, 10))

    assert (result.champion_only_correct, result.challenger_only_correct) == (3, 12)
    assert result.method == "exact binomial"
    assert result.p_value == pytest.approx(stats.binomtest(12, 15, 0.5).pvalue)
    assert result.p_value == pytest.approx(0.03515625)  # 2 * P(X <= 3), X ~ Bin(15, 1/2)


def test_mcnemar_with_many_discordant_rows_uses_chi_square_with_continuity() -> None:
    result = mcnemar_test(_mcnemar_rows(500, 20, 40, 100))

    assert result.method == "chi-square with continuity correction"
    assert result.statistic == pytest.approx((abs(20 - 40) - 1) ** 2 / 60)
    assert result.p_value == pytest.approx(stats.chi2.sf(361 / 60, df=1))


def test_mcnemar_without_discordant_rows_finds_nothing() -> None:
    result = mcnemar_test(_mcnemar_rows(10, 0, 0, 5))

    assert (result.p_value, result.method) == (1.0, "no discordant rows")


def test_permutation_test_tells_a_real_difference_from_none(rows) -> None:
    truth, champion, challenger = rows
    metric = MetricConfig(name="f1")

    different = permutation_test(
        metric, pair_rows(truth, champion, challenger), permutations=999, seed=0
    )
    same = permutation_test(metric, pair_rows(truth, champion, champion), permutations=999, seed=0)

    assert different.p_value == pytest.approx(1 / 1000)
    assert same.p_value == 1.0


def test_regression_p_value_is_small_only_for_a_regression_beyond_the_margin(rows) -> None:
    truth, worse, better = rows
    metric = MetricConfig(name="accuracy")

    regressed = regression_p_value(
        metric, pair_rows(truth, better, worse), margin=0.02, resamples=999, seed=0
    )
    improved = regression_p_value(
        metric, pair_rows(truth, worse, better), margin=0.02, resamples=999, seed=0
    )

    assert regressed < 0.01
    assert improved == 1.0


def test_holm_adjustment_of_a_known_case() -> None:
    # p sorted 0.01, 0.02, 0.04 with m = 3: 0.03, max(0.03, 0.04), max(0.04, 0.04).
    assert holm_adjust([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm_adjust([]) == []


def test_log_loss_of_true_class_matches_sklearn() -> None:
    truth = ["a", "b", "a", "b"]
    probability_of_b = np.array([0.2, 0.7, 0.4, 0.9])
    true_class = np.where(np.array(truth) == "b", probability_of_b, 1 - probability_of_b)

    assert log_loss_of_true_class(true_class) == pytest.approx(
        sk.log_loss(truth, probability_of_b, labels=["a", "b"])
    )
    assert np.isfinite(log_loss_of_true_class([0.0, 1.0]))  # clipped, not infinite


@pytest.mark.parametrize(
    ("truth", "champion", "challenger", "message"),
    [
        ([], [], [], "zero rows"),
        (["a", "b"], ["a"], ["a", "b"], "on the same rows"),
        (["a", None], ["a", "b"], ["a", "b"], "missing"),
    ],
)
def test_bad_inputs_fail_with_a_message(truth, champion, challenger, message) -> None:
    with pytest.raises(DataError, match=message):
        pair_rows(truth, champion, challenger)
