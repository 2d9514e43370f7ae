"""How often the promotion gate promotes an equal challenger, and a truly better one.

Real data, known truth: a random forest trained on the demo's Seattle weather of 2012-2013
predicts the labelled days of 2014-2015 (the champion). The challenger is built from the same
real predictions: it is wrong on k rows the champion gets right (it answers the forest's
second most likely class there) and right on k + delta rows the champion gets wrong. On this
population the two accuracies differ by exactly delta / N (0 for the "equal" pair, 0.02 for the
"better" pair) and the models disagree on about 10% of the rows. A holdout of n rows is drawn
from the population with replacement (the population has only ~700 rows, so the 1k, 5k and 20k
holdouts reuse rows: the population is the truth, the holdout a sample of it).

Each simulation redraws which rows differ and the holdout. Our gate promotes when the paired
bootstrap interval's lower bound clears min_improvement (tasks.core.gate.improvement_shown, the rule
compare_models uses); the point-estimate gate promotes when challenger - champion >=
min_improvement and > 0 (the rule of MLflow/TFX-style gates, and of this project before).

Regression (mae), from real data too: a ridge regression trained on the demo's 2012-2013
predicts each labelled day's temp_max of 2014-2015 from precipitation, temp_min and wind (the
champion, with its real per-row errors). The equal challenger has the same multiset of errors:
the champion's errors, with those of a random half of the rows shuffled among them, so its MAE
on the population is exactly the champion's and the two disagree on about half the rows. The
better challenger is that one with every error scaled by 0.98: a true MAE 2% lower. Our gate
promotes when the lower bound of the paired bootstrap interval of the per-row loss difference
(tasks.core.regression) clears min_relative_improvement x the champion's MAE and 0; the point
gate when the champion's MAE minus the challenger's clears the same.

    python benchmarks/gate_power.py [--simulations 500] [--regression-simulations 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import Ridge

from tasks.config import MetricConfig
from tasks.core.gate import improvement_shown
from tasks.core.regression import pair_errors, paired_error_bootstrap
from tasks.core.statistics import metric_scores, pair_rows, paired_bootstrap

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ["precipitation", "temp_max", "temp_min", "wind"]
HOLDOUT_SIZES = (1_000, 5_000, 20_000)
MIN_IMPROVEMENTS = (0.0, 0.01, 0.02)
TRUE_GAIN = 0.02
DISAGREEMENT = 0.10
ACCURACY = MetricConfig(name="accuracy")
MAE = MetricConfig(name="mae")
REGRESSION_FEATURES = ["precipitation", "temp_min", "wind"]
MIN_RELATIVE_IMPROVEMENTS = (0.0, 0.01, 0.02)
TRUE_RELATIVE_GAIN = 0.02
SHUFFLED_SHARE = 0.5


@dataclass(frozen=True)
class Population:
    truth: np.ndarray
    champion: np.ndarray
    runner_up: np.ndarray  # the forest's second most likely class: a plausible wrong answer


def load_population() -> Population:
    """The real champion's predictions on 2014-2015, trimmed to a multiple of 50 rows."""
    frame = pd.concat(
        pd.read_parquet(p) for p in sorted((ROOT / "data" / "seattle").glob("*.parquet"))
    )
    frame = frame[frame["weather"].notna()]
    train = frame[frame["timestamp"] < "2014-01-01"]
    test = frame[frame["timestamp"] >= "2014-01-01"]
    forest = RandomForestClassifier(n_estimators=100, min_samples_leaf=3, random_state=0, n_jobs=1)
    forest.fit(train[FEATURES], train["weather"])
    probabilities = forest.predict_proba(test[FEATURES])
    order = np.argsort(-probabilities, axis=1)
    classes = forest.classes_
    size = len(test) // 50 * 50
    return Population(
        truth=test["weather"].to_numpy()[:size],
        champion=classes[order[:size, 0]],
        runner_up=classes[order[:size, 1]],
    )


def build_challenger(population: Population, gain: float, rng: np.random.Generator) -> np.ndarray:
    """The champion's predictions with k right rows made wrong and k + gain * N wrong rows made right."""
    size = len(population.truth)
    right = np.flatnonzero(population.champion == population.truth)
    wrong = np.flatnonzero(population.champion != population.truth)
    worse = round(DISAGREEMENT * size / 2 - gain * size / 2)
    better = worse + round(gain * size)
    challenger = population.champion.copy()
    made_wrong = rng.choice(right, worse, replace=False)
    # The runner-up class is wrong where the champion is right (it differs from the top class).
    challenger[made_wrong] = population.runner_up[made_wrong]
    made_right = rng.choice(wrong, better, replace=False)
    challenger[made_right] = population.truth[made_right]
    return challenger


def simulate(
    population: Population, gain: float, rows: int, simulations: int, resamples: int, seed: int
) -> tuple[dict[float, float], dict[float, float], float]:
    """Promotion rates of both gates per min_improvement, and the true accuracy difference."""
    rng = np.random.default_rng(seed)
    ours = dict.fromkeys(MIN_IMPROVEMENTS, 0)
    point = dict.fromkeys(MIN_IMPROVEMENTS, 0)
    true_difference = 0.0
    for simulation in range(simulations):
        challenger = build_challenger(population, gain, rng)
        true_difference = float(
            (challenger == population.truth).mean()
            - (population.champion == population.truth).mean()
        )
        rows_drawn = rng.integers(0, len(population.truth), rows)
        paired = pair_rows(
            population.truth[rows_drawn], population.champion[rows_drawn], challenger[rows_drawn]
        )
        champion_score, challenger_score = metric_scores(ACCURACY, paired)
        interval = paired_bootstrap(
            ACCURACY, paired, confidence=0.95, resamples=resamples, seed=seed + simulation
        )
        difference = challenger_score - champion_score
        for minimum in MIN_IMPROVEMENTS:
            ours[minimum] += improvement_shown(interval, minimum)
            point[minimum] += difference > 0 and difference >= minimum - 1e-9
    return (
        {m: count / simulations for m, count in ours.items()},
        {m: count / simulations for m, count in point.items()},
        true_difference,
    )


@dataclass(frozen=True)
class ErrorPopulation:
    truth: np.ndarray
    error: np.ndarray  # the champion's prediction minus the truth, per row


def load_error_population() -> ErrorPopulation:
    """The real champion's temp_max errors on 2014-2015, trimmed to a multiple of 50 rows."""
    frame = pd.concat(
        pd.read_parquet(p) for p in sorted((ROOT / "data" / "seattle").glob("*.parquet"))
    )
    train = frame[frame["timestamp"] < "2014-01-01"]
    test = frame[frame["timestamp"] >= "2014-01-01"]
    model = Ridge(alpha=1.0).fit(train[REGRESSION_FEATURES], train["temp_max"])
    size = len(test) // 50 * 50
    truth = test["temp_max"].to_numpy()[:size]
    return ErrorPopulation(truth, model.predict(test[REGRESSION_FEATURES])[:size] - truth)


def build_regressor_challenger(
    population: ErrorPopulation, gain: float, rng: np.random.Generator
) -> np.ndarray:
    """Errors with the champion's MAE (a random half shuffled among themselves), times 1 - gain."""
    error = population.error.copy()
    moved = rng.choice(len(error), round(SHUFFLED_SHARE * len(error)), replace=False)
    error[moved] = error[rng.permutation(moved)]
    return error * (1 - gain)


def simulate_regression(
    population: ErrorPopulation, gain: float, rows: int, simulations: int, resamples: int, seed: int
) -> tuple[dict[float, float], dict[float, float], float]:
    """Promotion rates of both gates per min_relative_improvement, and the true MAE difference."""
    rng = np.random.default_rng(seed)
    ours = dict.fromkeys(MIN_RELATIVE_IMPROVEMENTS, 0)
    point = dict.fromkeys(MIN_RELATIVE_IMPROVEMENTS, 0)
    true_difference = 0.0
    for simulation in range(simulations):
        challenger_error = build_regressor_challenger(population, gain, rng)
        true_difference = float(np.abs(population.error).mean() - np.abs(challenger_error).mean())
        drawn = rng.integers(0, len(population.truth), rows)
        truth = population.truth[drawn]
        paired = pair_errors(
            MAE, truth, truth + population.error[drawn], truth + challenger_error[drawn]
        )
        interval = paired_error_bootstrap(
            MAE, paired, confidence=0.95, resamples=resamples, seed=seed + simulation
        )
        champion_mae = float(paired.champion_loss.mean())
        for relative in MIN_RELATIVE_IMPROVEMENTS:
            required = relative * champion_mae
            ours[relative] += improvement_shown(interval, required)
            point[relative] += interval.difference > 0 and interval.difference >= required - 1e-9
    return (
        {m: count / simulations for m, count in ours.items()},
        {m: count / simulations for m, count in point.items()},
        true_difference,
    )


def print_regression(simulations: int, resamples: int) -> None:
    """The regression table: an equal challenger and one with a true 2% lower MAE."""
    population = load_error_population()
    mae = float(np.abs(population.error).mean())
    print()
    print(
        f"regression (mae): {len(population.truth)} days of 2014-2015, champion (ridge on "
        f"2012-2013) MAE {mae:.3f} degrees C of temp_max; challengers differ on "
        f"{SHUFFLED_SHARE:.0%} of rows; {simulations} simulations per cell"
    )
    print()
    print(
        "| holdout rows | min_relative_improvement | equal: our gate | equal: point gate "
        "| -2% MAE: our gate | -2% MAE: point gate |"
    )
    print("|---|---|---|---|---|---|")
    truths = {}
    for index, rows in enumerate(HOLDOUT_SIZES):
        cells = {
            gain: simulate_regression(
                population,
                gain,
                rows,
                simulations,
                resamples,
                seed=5000 + 1000 * index + int(gain * 100),
            )
            for gain in (0.0, TRUE_RELATIVE_GAIN)
        }
        truths = {gain: cell[2] for gain, cell in cells.items()}
        for relative in MIN_RELATIVE_IMPROVEMENTS:
            equal_ours, equal_point, _ = cells[0.0]
            better_ours, better_point, _ = cells[TRUE_RELATIVE_GAIN]
            print(
                f"| {rows:,} | {relative:.2f} | {equal_ours[relative]:.1%} "
                f"| {equal_point[relative]:.1%} | {better_ours[relative]:.1%} "
                f"| {better_point[relative]:.1%} |"
            )
    print()
    print(
        f"true MAE differences (champion - challenger) on the population: equal "
        f"{truths[0.0]:+.4f}, better {truths[TRUE_RELATIVE_GAIN]:+.4f} "
        f"({truths[TRUE_RELATIVE_GAIN] / mae:.1%} of the champion's MAE)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--simulations", type=int, default=500)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument(
        "--regression-simulations",
        type=int,
        default=200,
        help="simulations per cell of the regression table (200)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    population = load_population()
    accuracy = (population.champion == population.truth).mean()
    print(
        f"population: {len(population.truth)} labelled days of 2014-2015, champion accuracy "
        f"{accuracy:.3f}; models disagree on {DISAGREEMENT:.0%} of rows; "
        f"{args.simulations} simulations per cell, {args.resamples} bootstrap resamples, 95% interval"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )
    print()
    print(
        "| holdout rows | min_improvement | equal: our gate | equal: point gate | +2 pts: our gate | +2 pts: point gate |"
    )
    print("|---|---|---|---|---|---|")
    results = {}
    for index, rows in enumerate(HOLDOUT_SIZES):
        for gain in (0.0, TRUE_GAIN):
            results[(rows, gain)] = simulate(
                population,
                gain,
                rows,
                args.simulations,
                args.resamples,
                seed=1000 * index + int(gain * 100),
            )
        for minimum in MIN_IMPROVEMENTS:
            equal_ours, equal_point, _ = results[(rows, 0.0)]
            better_ours, better_point, _ = results[(rows, TRUE_GAIN)]
            print(
                f"| {rows:,} | {minimum:.2f} | {equal_ours[minimum]:.1%} | {equal_point[minimum]:.1%} "
                f"| {better_ours[minimum]:.1%} | {better_point[minimum]:.1%} |"
            )
    truths = {gain: results[(HOLDOUT_SIZES[0], gain)][2] for gain in (0.0, TRUE_GAIN)}
    print()
    print(
        f"true accuracy differences on the population: equal {truths[0.0]:+.4f}, "
        f"better {truths[TRUE_GAIN]:+.4f}"
    )
    print_regression(args.regression_simulations, args.resamples)
    print()
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
