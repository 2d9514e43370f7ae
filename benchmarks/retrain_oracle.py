"""The best any retrain policy could do with r retrains, knowing the future: run
`python benchmarks/retrain_oracle.py --logs elec-demand`.

For each log of benchmarks/backtest.py, every-window is replayed with the backtest's own step
functions (`tasks.steps.backtest.replay_window`: a challenger trained on the configured span at
the end of every window, judged by the gate, promoted when it passes), and every model trained
on the way (the first champion, then the challenger of each window's end, promoted or not) is
scored on every later window with the backtest's `score_window`. That is the matrix E[m][j]:
model m (0 the first champion, m >= 1 the challenger trained at the end of window m - 1) on
window j >= m. Knowing E, the best schedule of at most r retrains (a retrain at the end of
window s replaces the champion by model s + 1) is a dynamic program over (window, champion,
retrains left): `best_schedules`. In hindsight one retrains only when it helps, so no gate is
applied; the "gated" variant allows a retrain only at the windows where every-window's gate
promoted its challenger (that gate compared the challenger with every-window's champion, not
with the oracle's: an approximation of "only when the gate would promote").

The % is as in docs/backtest.md: every-window's mean metric over the oracle's (error metrics),
or the oracle's over every-window's (higher is better), so more is better and 100% is as good
as every-window. The row marked "<- 1/3" is the budget of the targets: a third of
every-window's retrains. The DP is only an analysis tool, not a decision the product makes,
so it lives here and not in tasks/core.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import fmean
from typing import Any

import pandas as pd

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from backtest import LOGS, Log, print_table  # noqa: E402

from tasks.config import load_config  # noqa: E402
from tasks.errors import AutoretrainError  # noqa: E402
from tasks.steps.backtest import (  # noqa: E402
    Strategy,
    bootstrap_champion,
    parse_moment,
    parse_step,
    plan_backtest,
    replay_window,
    score_window,
    scratch_config,
)
from tasks.stores.data import load_window  # noqa: E402
from tasks.stores.resources import open_stores  # noqa: E402

Matrix = Sequence[Sequence[float | None]]


@dataclass(frozen=True)
class Schedule:
    """The best schedule with at most `budget` retrains: the sum of the window metrics, how
    many windows have one, and the windows at whose end it retrains."""

    budget: int
    total: float
    scored: int
    retrain_after: tuple[int, ...]

    @property
    def mean(self) -> float | None:
        return self.total / self.scored if self.scored else None


def schedule_total(matrix: Matrix, retrain_after: Sequence[int]) -> float:
    """The sum of the window metrics when retraining at the end of these windows: window j is
    scored by the newest model m <= j (model m + 1 is trained at the end of window m)."""
    windows = len(matrix[0])
    model, total, after = 0, 0.0, set(retrain_after)
    for j in range(windows):
        value = matrix[model][j]
        total += value if value is not None else 0.0
        if j in after:
            model = j + 1
    return total


def best_schedules(
    matrix: Matrix,
    max_retrains: int,
    higher_is_better: bool,
    allowed: set[int] | None = None,
) -> list[Schedule]:
    """For r = 0..max_retrains, the schedule of at most r retrains with the best mean metric.

    matrix[m][j]: model m's metric on window j (m <= j; None: the window has no labelled rows,
    for every model); model 0 is the first champion, model m + 1 the one trained at the end of
    window m, so len(matrix) >= number of windows. allowed: the windows at whose end a retrain
    may happen (default all but the last, whose model would score nothing).
    """
    windows = len(matrix[0]) if matrix else 0
    if windows == 0:
        return []
    if len(matrix) < windows:
        raise ValueError(f"{windows} windows need {windows} models, the matrix has {len(matrix)}")
    sign = 1.0 if higher_is_better else -1.0
    places = set(range(windows - 1)) if allowed is None else allowed & set(range(windows - 1))
    scored = sum(matrix[0][j] is not None or matrix[j][j] is not None for j in range(windows))

    def value(m: int, j: int) -> float:
        cell = matrix[m][j]
        return 0.0 if cell is None else sign * cell

    # best[j][m][r]: the best signed sum over windows j.. with model m in place, r retrains left
    best = [[[0.0] * (max_retrains + 1) for _ in range(windows)] for _ in range(windows + 1)]
    for j in range(windows - 1, -1, -1):
        for m in range(j + 1):
            for r in range(max_retrains + 1):
                keep = value(m, j) + (best[j + 1][m][r] if j + 1 < windows else 0.0)
                if r > 0 and j in places:
                    switch = value(m, j) + best[j + 1][j + 1][r - 1]
                    keep = max(keep, switch)
                best[j][m][r] = keep
    schedules = []
    for budget in range(max_retrains + 1):
        chosen: list[int] = []
        m, r = 0, budget
        for j in range(windows - 1):
            stay = value(m, j) + best[j + 1][m][r]
            if r > 0 and j in places and value(m, j) + best[j + 1][j + 1][r - 1] > stay + 1e-12:
                chosen.append(j)
                m, r = j + 1, r - 1
        total = schedule_total(matrix, chosen)
        schedules.append(Schedule(budget, total, scored, tuple(chosen)))
    return schedules


def brute_force(
    matrix: Matrix, max_retrains: int, higher_is_better: bool
) -> list[tuple[float, tuple[int, ...]]]:
    """best_schedules by trying every schedule (tests, tiny matrices only)."""
    windows = len(matrix[0])
    results = []
    for budget in range(max_retrains + 1):
        candidates = [
            (schedule_total(matrix, combo), combo)
            for size in range(budget + 1)
            for combo in itertools.combinations(range(windows - 1), size)
        ]
        pick = max if higher_is_better else min
        results.append(pick(candidates, key=lambda c: c[0]))
    return results


@dataclass(frozen=True)
class Measured:
    matrix: list[list[float | None]]
    every_metrics: list[float | None]
    every_mean: float
    every_retrains: int
    promoted_after: set[int]
    reproduced: int  # windows whose every-window metric equals its champion's cell of E
    max_difference: float
    higher_is_better: bool
    metric: str


def measure_matrix(log: Log, scratch: Path) -> Measured:
    """Replay every-window with the backtest's steps; score every model on every later window."""
    config = load_config(log.config)
    step = parse_step(log.step) if log.step else config.windows.current
    windows = plan_backtest(config, step, None, parse_moment(log.end, "--end"))
    config = scratch_config(config, scratch / log.name)
    stores = open_stores(config)
    strategy = Strategy.parse("every-window")
    champion = bootstrap_champion(config, stores, windows[0])
    versions = [champion]  # model m's registry version
    models = [stores.registry.load_model(champion)]
    n = len(windows)
    matrix: list[list[float | None]] = [[None] * n for _ in range(n)]
    outcomes = []
    for j, window in enumerate(windows):
        rows = load_window(config, window, source=stores.source)
        for m in range(len(versions)):
            matrix[m][j], _ = score_window(
                config, stores, window, versions[m], rows=rows, model=models[m]
            )
        before = {v.version for v in stores.registry.list_versions()}
        outcome = replay_window(config, stores, strategy, j, window, champion)
        outcomes.append(outcome)
        new = [v.version for v in stores.registry.list_versions() if v.version not in before]
        if len(new) != 1:
            raise AssertionError(f"window {j}: expected one new model version, got {new}")
        if j + 1 < n:
            versions.append(new[0])
            models.append(stores.registry.load_model(new[0]))
        champion = stores.registry.get_alias("champion") or champion
        print(f"  {log.name}: window {j + 1}/{n} scored by {len(versions) - 1} models", flush=True)
    reproduced, difference = 0, 0.0
    for j, outcome in enumerate(outcomes):
        cell = matrix[versions.index(outcome.champion)][j]
        if outcome.metric is None or cell is None:
            reproduced += outcome.metric is None and cell is None
            continue
        difference = max(difference, abs(outcome.metric - cell))
        reproduced += abs(outcome.metric - cell) <= 1e-9 * max(1.0, abs(cell))
    every = [o.metric for o in outcomes]
    metric = config.policy.performance_metric
    return Measured(
        matrix=matrix,
        every_metrics=every,
        every_mean=fmean(v for v in every if v is not None),
        every_retrains=sum(o.retrained for o in outcomes),
        promoted_after={o.index for o in outcomes if o.promoted},
        reproduced=reproduced,
        max_difference=difference,
        higher_is_better=metric.higher_is_better,
        metric=metric.describe(),
    )


def share(value: float | None, every: float, higher_is_better: bool) -> str:
    """As benchmarks/backtest.py's %: 100% is every-window's mean, more is better."""
    if value is None or value == 0:
        return "n/a"
    return f"{(value / every if higher_is_better else every / value):.1%}"


def oracle_rows(measured: Measured, gated: bool) -> list[dict[str, Any]]:
    third = measured.every_retrains // 3
    allowed = measured.promoted_after if gated else None
    schedules = best_schedules(
        measured.matrix, measured.every_retrains, measured.higher_is_better, allowed
    )
    rows = []
    for s in schedules:
        if s.budget > 0 and len(s.retrain_after) < s.budget and s.budget != third:
            continue  # no better than the budget before: the same schedule
        rows.append(
            {
                "r": f"{s.budget}" + (" <- 1/3" if s.budget == third else ""),
                "retrains used": len(s.retrain_after),
                "best mean": f"{s.mean:.4f}" if s.mean is not None else "n/a",
                "% of every-window": share(s.mean, measured.every_mean, measured.higher_is_better),
                "retrain after windows": ", ".join(map(str, s.retrain_after)) or "-",
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--logs", default="elec-demand", help="comma-separated logs: " + ", ".join(LOGS)
    )
    parser.add_argument("--toy", action="store_true", help="a few windows of each log (tests)")
    parser.add_argument(
        "--matrix", type=Path, help="also write each log's E as <log>.csv here (row m: model m)"
    )
    parser.add_argument(
        "--no-gated", action="store_true", help="skip the variant limited to the gate's promotions"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.logs.split(",") if n.strip()]
    unknown = [n for n in names if n not in LOGS]
    if unknown:
        parser.error(f"unknown log(s) {', '.join(unknown)}: choose from {', '.join(LOGS)}")
    failed = []
    with tempfile.TemporaryDirectory(prefix="autoretrain-oracle-") as scratch:
        work = Path(scratch)
        for name in names:
            try:
                log = LOGS[name](work, args.toy)
                measured = measure_matrix(log, work / "oracle")
            except AutoretrainError as error:
                print(f"\n{name}: FAILED: {error}", flush=True)
                failed.append(name)
                continue
            windows = len(measured.every_metrics)
            if args.matrix is not None:
                args.matrix.mkdir(parents=True, exist_ok=True)
                pd.DataFrame(measured.matrix).to_csv(args.matrix / f"{name}.csv", index=False)
            print(
                f"\n{name} ({measured.metric}, {windows} windows): every-window mean "
                f"{measured.every_mean:.4f}, {measured.every_retrains} retrains, "
                f"{len(measured.promoted_after)} promotions; its per-window metric reproduced "
                f"from E on {measured.reproduced}/{windows} windows "
                f"(largest difference {measured.max_difference:.2e})"
            )
            print("hindsight-optimal, no gate (a budget no better than the one before omitted):")
            print_table(oracle_rows(measured, gated=False))
            if not args.no_gated:
                print("hindsight-optimal, retraining only where every-window's gate promoted:")
                print_table(oracle_rows(measured, gated=True))
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average "
        + ", ".join(f"{n:.1f}" for n in os.getloadavg())
        + f", {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
