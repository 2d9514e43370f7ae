"""The promotion gate: every way a challenger is promoted or rejected, with the reasons."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tasks.gate import Comparison, Contender, GateRules, compare_models

HOLDOUT = {"start": "2014-01-01T00:00:00", "end": "2014-04-01T00:00:00"}
EARLIER = {"start": "2013-07-05T00:00:00", "end": "2014-01-01T00:00:00"}
OLD = {"start": "2012-01-01T00:00:00", "end": "2013-01-01T00:00:00"}


def _rules(**changes: Any) -> GateRules:
    values: dict[str, Any] = {
        "metric": "f1 (macro)",
        "performance_threshold": 0.45,
        "min_improvement": 0.02,
        "min_holdout_rows": 30,
    }
    return GateRules(**{**values, **changes})


def _challenger(score: float | None, *, trained_on_holdout: bool = False) -> Contender:
    window = HOLDOUT if trained_on_holdout else EARLIER
    return Contender("v0002", score, window, trained_on_holdout)


def _champion(score: float | None, *, trained_on_holdout: bool = False) -> Contender:
    return Contender("v0001", score, OLD, trained_on_holdout)


def _compare(
    challenger: Contender,
    champion: Contender | None,
    *,
    rules: GateRules | None = None,
    holdout_rows: int = 88,
    scoring_problems: tuple[str, ...] = (),
) -> Comparison:
    return compare_models(
        comparison_id="20240101t000000-v0002-vs-v0001",
        model_name="seattle-weather",
        holdout_window=HOLDOUT,
        holdout_rows=holdout_rows,
        rules=rules or _rules(),
        champion=champion,
        challenger=challenger,
        scoring_problems=scoring_problems,
    )


def test_better_challenger_is_promoted() -> None:
    comparison = _compare(_challenger(0.62), _champion(0.40))

    assert comparison.verdict == "promote"
    assert comparison.difference == pytest.approx(0.22)
    assert not comparison.bootstrap
    assert comparison.reasons == (
        "challenger f1 (macro) 0.620 >= performance_threshold 0.450",
        "challenger - champion = 0.620 - 0.400 = +0.220 >= min_improvement 0.020",
    )


def test_improvement_below_min_improvement_is_rejected() -> None:
    comparison = _compare(_challenger(0.61), _champion(0.60))

    assert comparison.verdict == "reject"
    assert comparison.difference == pytest.approx(0.01)
    assert comparison.reasons[0] == (
        "challenger - champion = 0.610 - 0.600 = +0.010, not an improvement of at least 0.020"
    )


@pytest.mark.parametrize(
    ("challenger", "champion", "min_improvement"),
    [(0.75, 0.5, 0.25), (0.56, 0.54, 0.02), (29 / 50, 28 / 50, 0.02), (0.3, 0.28, 0.02)],
    ids=["exact-in-binary", "rounds-up", "29-vs-28-of-50", "rounds-down"],
)
def test_improvement_of_exactly_min_improvement_is_promoted(
    challenger: float, champion: float, min_improvement: float
) -> None:
    # 29/50 - 28/50 is 0.01999... in floating point: one more right row out of 50 must count.
    comparison = _compare(
        _challenger(challenger),
        _champion(champion),
        rules=_rules(min_improvement=min_improvement, performance_threshold=0.2),
    )

    assert comparison.verdict == "promote", comparison.reasons
    assert comparison.reasons[-1].endswith(f">= min_improvement {min_improvement:.3f}")


@pytest.mark.parametrize("min_improvement", [0.0, 0.02])
def test_exact_tie_is_rejected(min_improvement: float) -> None:
    comparison = _compare(
        _challenger(0.6), _champion(0.6), rules=_rules(min_improvement=min_improvement)
    )

    assert comparison.verdict == "reject"
    assert comparison.difference == 0.0
    assert "= +0.000, not an improvement of at least" in comparison.reasons[0]


def test_worse_challenger_is_rejected_with_a_negative_difference() -> None:
    comparison = _compare(_challenger(0.5), _champion(0.6), rules=_rules(min_improvement=0.0))

    assert comparison.verdict == "reject"
    assert comparison.difference == pytest.approx(-0.1)
    assert "= -0.100, not an improvement" in comparison.reasons[0]


def test_challenger_below_the_floor_is_rejected_even_when_better() -> None:
    comparison = _compare(_challenger(0.40), _champion(0.10))

    assert comparison.verdict == "reject"
    assert comparison.reasons[0] == "challenger f1 (macro) 0.400 < performance_threshold 0.450"
    assert comparison.difference == pytest.approx(0.30)


@pytest.mark.parametrize("holdout_rows", [0, 29])
def test_too_few_holdout_rows_is_insufficient_evidence(holdout_rows: int) -> None:
    comparison = _compare(_challenger(0.9), _champion(0.4), holdout_rows=holdout_rows)

    assert comparison.verdict == "reject"
    assert comparison.reasons[0] == (
        f"insufficient evidence: {holdout_rows} holdout rows < min_holdout_rows 30"
    )
    assert comparison.holdout_rows == holdout_rows


def test_holdout_rows_equal_to_the_minimum_are_enough() -> None:
    comparison = _compare(_challenger(0.9), _champion(0.4), holdout_rows=30)

    assert comparison.verdict == "promote"


def test_challenger_trained_on_the_holdout_is_rejected() -> None:
    comparison = _compare(_challenger(0.95, trained_on_holdout=True), _champion(0.4))

    assert comparison.verdict == "reject"
    assert comparison.reasons[0] == (
        "challenger's training window overlaps the holdout: its score would be inflated"
    )


def test_champion_trained_on_the_holdout_is_noted_but_not_blocking() -> None:
    comparison = _compare(_challenger(0.7), _champion(0.5, trained_on_holdout=True))

    assert comparison.verdict == "promote"
    assert comparison.reasons[-1] == (
        "note: the champion trained on part of the holdout, which favours the champion"
    )


def test_unscorable_champion_rejects() -> None:
    problem = "v0001: model file of v0001 does not match its registered SHA-256"

    comparison = _compare(_challenger(0.9), _champion(None), scoring_problems=(problem,))

    assert comparison.verdict == "reject"
    assert comparison.difference is None
    assert comparison.reasons[0] == (
        "champion could not be scored on the holdout: nothing to compare against"
    )
    assert comparison.reasons[1] == problem


def test_unscorable_challenger_rejects() -> None:
    problem = "v0002: the model failed to predict: ValueError: boom"

    comparison = _compare(_challenger(None), _champion(0.4), scoring_problems=(problem,))

    assert comparison.verdict == "reject"
    assert comparison.difference is None
    assert comparison.reasons == ("challenger could not be scored on the holdout", problem)


def test_unscorable_challenger_rejects_without_a_champion() -> None:
    comparison = _compare(_challenger(None), None)

    assert comparison.verdict == "reject"
    assert comparison.reasons[0] == "challenger could not be scored on the holdout"


def test_bootstrap_challenger_above_the_floor_is_promoted() -> None:
    comparison = _compare(_challenger(0.5), None)

    assert comparison.verdict == "promote"
    assert comparison.bootstrap
    assert comparison.difference is None
    assert comparison.reasons == (
        "challenger f1 (macro) 0.500 >= performance_threshold 0.450",
        "no champion yet: the first model needs only the floor (bootstrap)",
    )


@pytest.mark.parametrize(
    ("score", "holdout_rows", "reason"),
    [
        (0.44, 88, "challenger f1 (macro) 0.440 < performance_threshold 0.450"),
        (0.90, 10, "insufficient evidence: 10 holdout rows < min_holdout_rows 30"),
    ],
)
def test_bootstrap_challenger_failing_a_rule_is_rejected(
    score: float, holdout_rows: int, reason: str
) -> None:
    comparison = _compare(_challenger(score), None, holdout_rows=holdout_rows)

    assert comparison.verdict == "reject"
    assert comparison.bootstrap
    assert comparison.reasons[0] == reason


def test_every_failure_is_listed() -> None:
    comparison = _compare(_challenger(0.2, trained_on_holdout=True), _champion(0.3), holdout_rows=3)

    assert comparison.verdict == "reject"
    assert [reason.split(":")[0].split(" ")[0] for reason in comparison.reasons] == [
        "insufficient",
        "challenger's",
        "challenger",
        "challenger",
    ]


@pytest.mark.parametrize("with_champion", [True, False])
def test_comparison_round_trips_through_a_dict_and_json(with_champion: bool) -> None:
    champion = _champion(0.4, trained_on_holdout=True) if with_champion else None
    comparison = _compare(_challenger(0.7), champion, scoring_problems=("a problem",))

    restored = Comparison.from_dict(json.loads(json.dumps(comparison.to_dict())))

    assert restored == comparison
    assert restored.rules == comparison.rules
    assert restored.bootstrap is (not with_champion)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_score_fails_closed(bad: float) -> None:
    bootstrap = _compare(_challenger(bad), None)
    against_champion = _compare(_challenger(0.9), _champion(bad))

    assert bootstrap.verdict == "reject"
    assert "challenger could not be scored on the holdout" in bootstrap.reasons
    assert against_champion.verdict == "reject"
    assert "champion could not be scored on the holdout: nothing to compare against" in (
        against_champion.reasons
    )
