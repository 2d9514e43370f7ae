"""Paired statistics of two classifiers scored on the same rows (pure: numpy and scipy, no I/O).

Every classification metric here (accuracy; precision, recall, F1 binary or macro) is a function
of per-class true-positive, false-positive and false-negative counts. A row's contribution to those
counts depends only on its (label, champion prediction, challenger prediction) triple, so the rows
collapse into at most K^3 "row types" with counts. Resampling rows with replacement is then the
same as drawing type counts from a multinomial, and a bootstrap of thousands of resamples costs a
matrix product over the types, not over the rows: 2,000 resamples of 20,000 rows take milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from tasks.config import MetricConfig
from tasks.errors import DataError

_CHUNK = 500  # resamples per matrix product: bounds memory for many classes
_PROBABILITY_FLOOR = 1e-15  # log loss of a probability 0 is infinite; sklearn clips the same way


@dataclass(frozen=True)
class PairedRows:
    """Both models' predictions on the same rows, collapsed into row types with counts."""

    labels: tuple[Any, ...]  # class labels; codes index into it
    truth: np.ndarray  # per type: code of the true label
    champion: np.ndarray  # per type: code of the champion's prediction
    challenger: np.ndarray  # per type: code of the challenger's prediction
    counts: np.ndarray  # per type: number of rows

    @property
    def rows(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True)
class BootstrapInterval:
    """Paired bootstrap of challenger minus champion on the same resampled rows."""

    difference: float  # on the rows themselves
    lower: float
    upper: float
    confidence: float
    resamples: int
    seed: int
    standard_error: float

    @classmethod
    def of_resamples(
        cls,
        difference: float,
        resampled: np.ndarray,
        *,
        confidence: float,
        resamples: int,
        seed: int,
    ) -> BootstrapInterval:
        """The percentile interval and standard error of the differences on the resamples."""
        tail = (1 - confidence) / 2
        lower, upper = np.quantile(resampled, [tail, 1 - tail])
        return cls(
            difference=difference,
            lower=float(lower),
            upper=float(upper),
            confidence=confidence,
            resamples=resamples,
            seed=seed,
            standard_error=float(resampled.std(ddof=1)),
        )


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test of per-row correctness: do the models err on different rows unequally?"""

    champion_only_correct: int  # b: rows the champion gets right and the challenger wrong
    challenger_only_correct: int  # c: rows the challenger gets right and the champion wrong
    statistic: float
    p_value: float
    method: Literal["exact binomial", "chi-square with continuity correction", "no discordant rows"]


@dataclass(frozen=True)
class PermutationResult:
    """Paired permutation test of the metric difference: swap the two predictions per row."""

    difference: float
    p_value: float  # two-sided
    permutations: int
    seed: int

    @classmethod
    def of_permuted(
        cls, observed: float, permuted: Iterable[np.ndarray], *, permutations: int, seed: int
    ) -> PermutationResult:
        """The test from the differences under the permutations (in chunks): the share, counted
        with one more on both sides, of those at least as far from zero as the observed one."""
        extreme = sum(
            int(np.count_nonzero(np.abs(chunk) >= abs(observed) - 1e-12)) for chunk in permuted
        )
        return cls(
            difference=observed,
            p_value=(1 + extreme) / (permutations + 1),
            permutations=permutations,
            seed=seed,
        )


def check_same_rows(y_true: Sized, champion: Sized, challenger: Sized, *, truth: str) -> None:
    """DataError unless the truth (named as truth) and both models' predictions cover the same
    rows, at least one."""
    if not (len(y_true) == len(champion) == len(challenger)):
        raise DataError(
            f"paired statistics need predictions on the same rows: {len(y_true)} {truth}, "
            f"{len(champion)} champion and {len(challenger)} challenger predictions"
        )
    if len(y_true) == 0:
        raise DataError("cannot compare two models on zero rows")


def pair_rows(
    y_true: Sequence[Any] | np.ndarray,
    champion: Sequence[Any] | np.ndarray,
    challenger: Sequence[Any] | np.ndarray,
) -> PairedRows:
    """Collapse three aligned sequences of labels into row types with counts."""
    check_same_rows(y_true, champion, challenger, truth="labels")
    everything = pd.Series([*y_true, *champion, *challenger], dtype=object)
    codes, uniques = pd.factorize(everything, sort=False)
    if (codes < 0).any():
        raise DataError("a label or prediction is missing (null): score only labelled rows")
    size = len(y_true)
    order = sorted(range(len(uniques)), key=lambda i: str(uniques[i]))
    relabel = np.empty(len(uniques), dtype=np.int64)
    relabel[order] = np.arange(len(uniques))
    codes = relabel[codes]
    k = len(uniques)
    combined = codes[:size] * k * k + codes[size : 2 * size] * k + codes[2 * size :]
    types, counts = np.unique(combined, return_counts=True)
    return PairedRows(
        labels=tuple(uniques[i] for i in order),
        truth=types // (k * k),
        champion=(types // k) % k,
        challenger=types % k,
        counts=counts.astype(np.int64),
    )


def row_type_table(paired: PairedRows) -> tuple[tuple[Any, Any, Any, int], ...]:
    """The row types as (label, champion prediction, challenger prediction, rows): every count
    the paired statistics use, small enough to store with the comparison."""

    def plain(code: int) -> Any:
        label = paired.labels[code]
        return label.item() if hasattr(label, "item") else label

    return tuple(
        (plain(t), plain(a), plain(b), int(n))
        for t, a, b, n in zip(
            paired.truth, paired.champion, paired.challenger, paired.counts, strict=True
        )
    )


def pair_row_types(table: Sequence[Sequence[Any]]) -> PairedRows:
    """Rebuild the paired rows from a stored row-type table (to recompute a comparison)."""
    truth, champion, challenger = [], [], []
    for label, champion_prediction, challenger_prediction, rows in table:
        truth += [label] * int(rows)
        champion += [champion_prediction] * int(rows)
        challenger += [challenger_prediction] * int(rows)
    return pair_rows(truth, champion, challenger)


def _confusion(
    paired: PairedRows, predictions: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class true positives, false positives and false negatives for each row of counts."""
    k = len(paired.labels)
    classes = np.arange(k)
    truth = paired.truth[:, None] == classes[None, :]  # types x classes
    predicted = predictions[:, None] == classes[None, :]
    counts = counts.astype(np.float64)
    true_positive = counts @ (truth & predicted)
    false_positive = counts @ (~truth & predicted)
    false_negative = counts @ (truth & ~predicted)
    return true_positive, false_positive, false_negative


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator with 0 where the denominator is 0 (sklearn's zero_division=0)."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def per_class_scores(
    metric_name: str, paired: PairedRows, predictions: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Per-class precision, recall or F1 (for each row of counts: shape resamples x classes)."""
    tp, fp, fn = _confusion(paired, predictions, counts)
    if metric_name == "precision":
        return _ratio(tp, tp + fp)
    if metric_name == "recall":
        return _ratio(tp, tp + fn)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def _metric_values(
    metric: MetricConfig, paired: PairedRows, predictions: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """The metric for each row of counts (resamples x types -> resamples)."""
    if metric.name == "accuracy":
        tp, _, _ = _confusion(paired, predictions, counts)
        return tp.sum(axis=1) / counts.sum(axis=1)
    scores = per_class_scores(metric.name, paired, predictions, counts)
    if metric.average == "binary":
        return scores[:, _class_code(paired, metric.pos_label)]
    tp, fp, fn = _confusion(paired, predictions, counts)
    # sklearn averages over the labels present in the labels or the predictions of the rows.
    present = (tp + fp + fn) > 0
    return (scores * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def _class_code(paired: PairedRows, label: Any) -> int:
    for code, known in enumerate(paired.labels):
        if known == label:
            return code
    raise DataError(
        f"pos_label {label!r} does not occur among the labels {sorted(map(str, paired.labels))}; "
        "check policy.performance_metric.pos_label (its type too: 1 is not '1')"
    )


def metric_scores(metric: MetricConfig, paired: PairedRows) -> tuple[float, float]:
    """The metric of champion and challenger on the rows themselves."""
    counts = paired.counts[None, :]
    champion = _metric_values(metric, paired, paired.champion, counts)
    challenger = _metric_values(metric, paired, paired.challenger, counts)
    return float(champion[0]), float(challenger[0])


def _resampled_differences(
    metric: MetricConfig, paired: PairedRows, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    probabilities = paired.counts / paired.counts.sum()
    differences = []
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        counts = rng.multinomial(paired.rows, probabilities, size=size)
        differences.append(
            _metric_values(metric, paired, paired.challenger, counts)
            - _metric_values(metric, paired, paired.champion, counts)
        )
    return np.concatenate(differences)


def paired_bootstrap(
    metric: MetricConfig, paired: PairedRows, *, confidence: float, resamples: int, seed: int
) -> BootstrapInterval:
    """Percentile interval of challenger minus champion, both scored on the same resampled rows."""
    champion, challenger = metric_scores(metric, paired)
    differences = _resampled_differences(metric, paired, resamples, np.random.default_rng(seed))
    return BootstrapInterval.of_resamples(
        challenger - champion, differences, confidence=confidence, resamples=resamples, seed=seed
    )


def regression_p_value(
    metric: MetricConfig, paired: PairedRows, *, margin: float, resamples: int, seed: int
) -> float:
    """One-sided bootstrap p-value of "the challenger is worse by more than margin".

    Small when almost no resample has challenger - champion >= -margin; it is below alpha
    exactly when the upper bound of the one-sided (1 - alpha) percentile interval is below -margin.
    """
    differences = _resampled_differences(metric, paired, resamples, np.random.default_rng(seed))
    return float((1 + np.count_nonzero(differences >= -margin)) / (resamples + 1))


def permutation_test(
    metric: MetricConfig, paired: PairedRows, *, permutations: int, seed: int
) -> PermutationResult:
    """Two-sided paired permutation test: under "no difference" each row's two predictions swap freely."""
    k = len(paired.labels)
    # Close the types under swapping champion and challenger, so every swapped type has a column.
    codes = paired.truth * k * k + paired.champion * k + paired.challenger
    mirrored = paired.truth * k * k + paired.challenger * k + paired.champion
    types = np.union1d(codes, mirrored)
    counts = np.zeros(len(types), dtype=np.int64)
    counts[np.searchsorted(types, codes)] = paired.counts
    closed = PairedRows(
        labels=paired.labels,
        truth=types // (k * k),
        champion=(types // k) % k,
        challenger=types % k,
        counts=counts,
    )
    mirror = np.searchsorted(types, closed.truth * k * k + closed.challenger * k + closed.champion)
    champion, challenger = metric_scores(metric, closed)
    rng = np.random.default_rng(seed)

    def permuted_differences() -> Iterator[np.ndarray]:
        for start in range(0, permutations, _CHUNK):
            size = min(_CHUNK, permutations - start)
            swapped = rng.binomial(counts, 0.5, size=(size, len(types)))
            permuted = counts - swapped + swapped[:, mirror]
            yield _metric_values(metric, closed, closed.challenger, permuted) - _metric_values(
                metric, closed, closed.champion, permuted
            )

    return PermutationResult.of_permuted(
        challenger - champion, permuted_differences(), permutations=permutations, seed=seed
    )


def mcnemar_test(paired: PairedRows) -> McNemarResult:
    """McNemar's test on the discordant rows: exact binomial below 25 of them, else chi-square."""
    champion_right = paired.champion == paired.truth
    challenger_right = paired.challenger == paired.truth
    b = int(paired.counts[champion_right & ~challenger_right].sum())
    c = int(paired.counts[~champion_right & challenger_right].sum())
    if b + c == 0:
        return McNemarResult(b, c, 0.0, 1.0, "no discordant rows")
    if b + c < 25:
        p_value = scipy_stats.binomtest(c, b + c, 0.5).pvalue
        return McNemarResult(b, c, float(min(b, c)), float(p_value), "exact binomial")
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    p_value = scipy_stats.chi2.sf(statistic, df=1)
    return McNemarResult(
        b, c, float(statistic), float(p_value), "chi-square with continuity correction"
    )


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: reject those below alpha to keep the family-wise error <= alpha."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def log_loss_of_true_class(probabilities: Sequence[float] | np.ndarray) -> float:
    """Mean negative log of the probability each row gave its true class (clipped like sklearn)."""
    values = np.asarray(probabilities, dtype=np.float64)
    if len(values) == 0:
        raise DataError("cannot compute log loss on zero rows")
    if not np.isfinite(values).all():
        return math.nan
    return float(-np.log(np.clip(values, _PROBABILITY_FLOOR, 1.0)).mean())
