"""The hindsight-optimal retrain schedule of benchmarks/retrain_oracle.py: its dynamic program
against a hand-made matrix and against trying every schedule."""

from __future__ import annotations

import importlib.util
import random
import sys
from types import ModuleType

import pytest

from tests.helpers import ROOT


@pytest.fixture(scope="module")
def oracle() -> ModuleType:
    path = ROOT / "benchmarks" / "retrain_oracle.py"
    spec = importlib.util.spec_from_file_location("retrain_oracle", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["retrain_oracle"] = module
    spec.loader.exec_module(module)
    return module


# E[m][j]: model 0 the first champion, model m + 1 trained at the end of window m (an error).
# The first champion decays; model 2 (after window 1) is the best for the rest; model 1 helps
# only in window 1; window 3 has no labelled rows.
HAND = [
    [1.0, 2.0, 3.0, None, 5.0],
    [9.0, 1.0, 2.5, None, 4.0],
    [9.0, 9.0, 1.0, None, 1.0],
    [9.0, 9.0, 9.0, None, 2.0],
    [9.0, 9.0, 9.0, None, 3.0],
]


def test_the_dp_picks_the_best_windows_by_hand(oracle: ModuleType) -> None:
    schedules = oracle.best_schedules(HAND, 4, higher_is_better=False)

    assert [s.retrain_after for s in schedules[:3]] == [(), (1,), (0, 1)]
    assert schedules[0].total == pytest.approx(11.0)  # 1 + 2 + 3 + 5
    assert schedules[1].total == pytest.approx(5.0)  # 1 + 2 + 1 + 1
    assert schedules[2].total == pytest.approx(4.0)  # 1 + 1 + 1 + 1
    assert schedules[2].scored == 4 and schedules[2].mean == pytest.approx(1.0)
    # More budget than helps: the same schedule, the retrains left unused.
    assert schedules[4].retrain_after == (0, 1)
    # Only after window 0 allowed: model 1 then, for the rest.
    gated = oracle.best_schedules(HAND, 2, higher_is_better=False, allowed={0})
    assert gated[2].retrain_after == (0,) and gated[2].total == pytest.approx(8.5)
    # Higher is better: the same schedules on the negated matrix.
    negated = [[None if v is None else -v for v in row] for row in HAND]
    mirrored = oracle.best_schedules(negated, 4, higher_is_better=True)
    assert [s.retrain_after for s in mirrored] == [s.retrain_after for s in schedules]
    assert mirrored[2].total == pytest.approx(-4.0)


def test_a_matrix_with_too_few_models_is_refused(oracle: ModuleType) -> None:
    with pytest.raises(ValueError, match="3 windows need 3 models, the matrix has 2"):
        oracle.best_schedules([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], 1, higher_is_better=False)


@pytest.mark.parametrize("higher_is_better", [False, True])
def test_the_dp_matches_trying_every_schedule(oracle: ModuleType, higher_is_better: bool) -> None:
    rng = random.Random(5)
    for _ in range(40):
        n = rng.randint(1, 7)
        matrix = [[round(rng.uniform(0, 10), 3) for _ in range(n)] for _ in range(n)]
        dp = oracle.best_schedules(matrix, n, higher_is_better)
        brute = oracle.brute_force(matrix, n, higher_is_better)
        assert len(dp) == len(brute) == n + 1
        for schedule, (total, _) in zip(dp, brute, strict=True):
            assert schedule.total == pytest.approx(total, abs=1e-9), (matrix, schedule)
            assert len(schedule.retrain_after) <= schedule.budget
            assert oracle.schedule_total(matrix, schedule.retrain_after) == pytest.approx(total)
