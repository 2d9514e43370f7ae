"""Paired statistics of two regressors scored on the same rows (pure: numpy, no I/O).

Every regression metric here is a function of the sum of a per-row loss over the rows (mae, mape,
pinball: the mean; rmse: the square root of the mean squared error; r2: one minus the squared
error over the target's spread). The gate works on the *improvement*, the metric measured in its
better direction: champion's error minus challenger's for error metrics, challenger's r2 minus
champion's for r2. Positive always means the challenger is better, so no sign is left to the reader.

- Paired bootstrap: resample rows with replacement, recompute both models' metric on the same
  resampled rows (rmse and r2 are recomputed from the resampled sums, not averaged per row).
- Sign-flip permutation test: under "no difference" each row's two losses are exchangeable, so
  swapping them at random (flipping the sign of the row's loss difference) gives the null
  distribution of the improvement.
Both are vectorised: each resample is a gather (bootstrap) or a matrix-vector product (permutation).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tasks.config import MetricConfig
from tasks.core.metrics import as_numbers, row_losses, score_regression
from tasks.core.statistics import BootstrapInterval, PermutationResult, check_same_rows
from tasks.errors import DataError

_CELLS = 2_000_000  # rows x resamples per chunk: bounds memory at ~16 MB per array


@dataclass(frozen=True)
class PairedErrors:
    """Both models' predictions on the same rows, as numbers, with each row's losses."""

    truth: np.ndarray
    champion: np.ndarray
    challenger: np.ndarray
    champion_loss: np.ndarray
    challenger_loss: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.truth)


def pair_errors(
    metric: MetricConfig,
    y_true: Sequence[Any] | np.ndarray,
    champion: Sequence[Any] | np.ndarray,
    challenger: Sequence[Any] | np.ndarray,
) -> PairedErrors:
    """Align the target and both models' predictions; each row's loss under metric."""
    check_same_rows(y_true, champion, challenger, truth="targets")
    truth = as_numbers(y_true, "target")
    a = as_numbers(champion, "champion's predictions")
    b = as_numbers(challenger, "challenger's predictions")
    return PairedErrors(truth, a, b, row_losses(metric, truth, a), row_losses(metric, truth, b))


def _improvement(
    metric: MetricConfig,
    champion_sum: np.ndarray,
    challenger_sum: np.ndarray,
    rows: int,
    spread: np.ndarray | float,
) -> np.ndarray:
    """The improvement from the two loss sums (arrays: one value per resample)."""
    if metric.name == "rmse":
        return np.sqrt(champion_sum / rows) - np.sqrt(challenger_sum / rows)
    if metric.name == "r2":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray((champion_sum - challenger_sum) / spread)
    return np.asarray((champion_sum - challenger_sum) / rows)


def regression_scores(metric: MetricConfig, paired: PairedErrors) -> tuple[float, float]:
    """The metric of champion and challenger on the rows themselves."""
    return (
        score_regression(metric, paired.truth, paired.champion),
        score_regression(metric, paired.truth, paired.challenger),
    )


def observed_improvement(metric: MetricConfig, paired: PairedErrors) -> float:
    """The improvement on the rows themselves (positive: the challenger is better)."""
    champion, challenger = regression_scores(metric, paired)
    return champion - challenger if not metric.higher_is_better else challenger - champion


def _chunk(rows: int) -> int:
    return max(1, _CELLS // max(rows, 1))


def _resampled_improvements(
    metric: MetricConfig, paired: PairedErrors, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    rows = paired.rows
    squares = paired.truth * paired.truth
    results = []
    for start in range(0, resamples, _chunk(rows)):
        size = min(_chunk(rows), resamples - start)
        index = rng.integers(0, rows, size=(size, rows))
        spread: np.ndarray | float = 1.0
        if metric.name == "r2":
            picked = paired.truth[index]
            spread = squares[index].sum(axis=1) - picked.sum(axis=1) ** 2 / rows
        results.append(
            _improvement(
                metric,
                paired.champion_loss[index].sum(axis=1),
                paired.challenger_loss[index].sum(axis=1),
                rows,
                spread,
            )
        )
    improvements = np.concatenate(results)
    # A resample whose target is constant has no r2: it is left out, not counted as 0.
    return improvements[np.isfinite(improvements)]


def paired_error_bootstrap(
    metric: MetricConfig, paired: PairedErrors, *, confidence: float, resamples: int, seed: int
) -> BootstrapInterval:
    """Percentile interval of the improvement, both models scored on the same resampled rows."""
    improvements = _resampled_improvements(metric, paired, resamples, np.random.default_rng(seed))
    if len(improvements) < 2:
        raise DataError("the bootstrap found no resample on which r2 is defined")
    return BootstrapInterval.of_resamples(
        observed_improvement(metric, paired),
        improvements,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )


def error_regression_p_value(
    metric: MetricConfig, paired: PairedErrors, *, margin: float, resamples: int, seed: int
) -> float:
    """One-sided bootstrap p-value of "the challenger is worse by more than margin" (metric units)."""
    improvements = _resampled_improvements(metric, paired, resamples, np.random.default_rng(seed))
    return float((1 + np.count_nonzero(improvements >= -margin)) / (len(improvements) + 1))


def sign_flip_test(
    metric: MetricConfig, paired: PairedErrors, *, permutations: int, seed: int
) -> PermutationResult:
    """Two-sided paired permutation test: swap each row's two losses with probability 1/2."""
    rows = paired.rows
    difference = paired.champion_loss - paired.challenger_loss
    champion_sum = float(paired.champion_loss.sum())
    challenger_sum = float(paired.challenger_loss.sum())
    spread = float(((paired.truth - paired.truth.mean()) ** 2).sum())
    if metric.name == "r2" and spread == 0:
        raise DataError("r2 is undefined on rows whose target is constant")
    observed = float(
        _improvement(metric, np.array(champion_sum), np.array(challenger_sum), rows, spread)
    )
    rng = np.random.default_rng(seed)

    def permuted_improvements() -> Iterator[np.ndarray]:
        for start in range(0, permutations, _chunk(rows)):
            size = min(_chunk(rows), permutations - start)
            swapped = rng.integers(0, 2, size=(size, rows)).astype(np.float64)
            moved = swapped @ difference  # loss the swapped rows move from champion to challenger
            yield _improvement(metric, champion_sum - moved, challenger_sum + moved, rows, spread)

    return PermutationResult.of_permuted(
        observed, permuted_improvements(), permutations=permutations, seed=seed
    )


def error_summary(
    y_true: Sequence[Any] | np.ndarray, predictions: Sequence[Any] | np.ndarray, tail: float
) -> dict[str, float]:
    """mae, rmse, bias (mean of prediction - target) and the tail quantile of |error|."""
    truth = as_numbers(y_true, "target")
    predicted = as_numbers(predictions, "predictions")
    if len(truth) == 0:
        raise DataError("cannot summarise errors on zero rows")
    error = predicted - truth
    return {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error * error).mean())),
        "bias": float(error.mean()),
        tail_name(tail): float(np.quantile(np.abs(error), tail)),
    }


def tail_name(tail: float) -> str:
    """The key of the tail error in an error summary, e.g. 'p90 abs error'."""
    return f"p{tail * 100:g} abs error"
