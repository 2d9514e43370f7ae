"""The promotion gate: every way a challenger is promoted or rejected, with the reasons."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from tasks.core.gate import (
    Comparison,
    GateRules,
    GuardRules,
    ModelOutputs,
    SliceRules,
    compare_models,
)
from tasks.core.reasons import codes
from tasks.core.statistics import pair_row_types, paired_bootstrap
from tests.reasons import params_of

HOLDOUT = {"start": "2014-01-01T00:00:00", "end": "2014-04-01T00:00:00"}
EARLIER = {"start": "2013-07-05T00:00:00", "end": "2014-01-01T00:00:00"}
OLD = {"start": "2012-01-01T00:00:00", "end": "2013-01-01T00:00:00"}
ALL_GUARDS = GuardRules(
    recall=0.05,
    per_class_f1=0.10,
    min_class_rows=30,
    log_loss=0.25,
    latency_ratio=3.0,
    model_size_ratio=3.0,
)


def _rules(**changes: Any) -> GateRules:
    values: dict[str, Any] = {
        "metric": "accuracy",
        "metric_name": "accuracy",
        "performance_threshold": 0.45,
        "min_improvement": 0.02,
        "min_holdout_rows": 30,
        "resamples": 1000,
    }
    return GateRules(**{**values, **changes})


def _truth(rows: int) -> list[str]:
    return ["rain" if i % 2 else "sun" for i in range(rows)]


def _predict(truth: list[str], right: int, *, start: int = 0) -> list[str]:
    """Right on `right` rows (a contiguous block from start, wrapping), wrong on the others."""
    rows = len(truth)
    correct = {(start + i) % rows for i in range(right)}
    other = {"rain": "sun", "sun": "rain"}
    return [label if i in correct else other[label] for i, label in enumerate(truth)]


def _outputs(
    version: str,
    predictions: list[str] | None,
    *,
    window: dict[str, str] = EARLIER,
    trained_on_holdout: bool = False,
    probability: float | None = 0.7,
    latency: float | None = 10.0,
    size: int | None = 1000,
    rows: int | None = None,
    problem: str | None = None,
) -> ModelOutputs:
    return ModelOutputs(
        version=version,
        training_window=window,
        trained_on_holdout=trained_on_holdout,
        predictions=predictions,
        true_class_probability=(
            None if predictions is None or probability is None else [probability] * len(predictions)
        ),
        latency_ms_per_1k_rows=latency,
        model_size_bytes=size,
        training_rows=rows,
        problem=problem,
    )


def _compare(
    truth: list[str],
    challenger: ModelOutputs,
    champion: ModelOutputs | None,
    *,
    rules: GateRules | None = None,
    slice_values: dict[str, list[Any]] | None = None,
) -> Comparison:
    return compare_models(
        comparison_id="20240101t000000-v0002-vs-v0001",
        model_name="seattle-weather",
        holdout_window=HOLDOUT,
        y_true=truth,
        rules=rules or _rules(),
        champion=champion,
        challenger=challenger,
        slice_values=slice_values,
    )


def _pair(
    rows: int, champion_right: int, challenger_right: int
) -> tuple[list[str], ModelOutputs, ModelOutputs]:
    truth = _truth(rows)
    return (
        truth,
        _outputs("v0002", _predict(truth, challenger_right)),
        _outputs("v0001", _predict(truth, champion_right), window=OLD),
    )


def test_clearly_better_challenger_is_promoted_with_every_number_recorded() -> None:
    truth, challenger, champion = _pair(400, 200, 320)  # 0.50 -> 0.80

    comparison = _compare(truth, challenger, champion, rules=_rules(guards=ALL_GUARDS))

    assert comparison.verdict == "promote", comparison.reasons
    assert comparison.difference == pytest.approx(0.30)
    assert comparison.interval is not None
    assert 0.02 < comparison.interval.lower < 0.30 < comparison.interval.upper
    assert comparison.mcnemar is not None
    assert (
        comparison.mcnemar.champion_only_correct,
        comparison.mcnemar.challenger_only_correct,
    ) == (
        0,
        120,
    )
    assert comparison.permutation is not None and comparison.permutation.p_value < 0.01
    assert [g.passed for g in comparison.guards] == [True] * 6
    assert (
        codes(comparison.reason_codes) == ["floor-met", "improvement-shown"] + ["guard-passed"] * 6
    )
    assert comparison.reason_codes[0].params == {
        "metric": "accuracy",
        "score": pytest.approx(0.8),
        "threshold": 0.45,
        "higher_is_better": True,
    }
    improvement = comparison.reason_codes[1].params
    assert improvement["champion_score"] == pytest.approx(0.5)
    assert improvement["challenger_score"] == pytest.approx(0.8)
    assert improvement["difference"] == pytest.approx(0.3)
    assert (improvement["lower"], improvement["upper"]) == (
        comparison.interval.lower,
        comparison.interval.upper,
    )
    assert (improvement["confidence"], improvement["required"]) == (0.95, 0.02)
    assert "6 guard checks" in comparison.multiplicity
    assert not comparison.bootstrap


def test_point_estimate_above_min_improvement_is_not_enough_when_the_interval_is_wide() -> None:
    # +3 points on 100 rows: a point-estimate gate would promote; the interval reaches below 0.
    truth, challenger, champion = _pair(100, 60, 63)

    comparison = _compare(truth, challenger, champion)

    assert comparison.difference == pytest.approx(0.03)
    assert comparison.verdict == "reject"
    assert comparison.interval is not None and comparison.interval.lower < 0.02
    assert comparison.reason_codes[0].code == "improvement-not-shown"
    assert comparison.reason_codes[0].params["lower"] == comparison.interval.lower
    assert comparison.reason_codes[0].params["required"] == 0.02


def test_the_same_gain_on_many_rows_is_promoted() -> None:
    truth, challenger, champion = _pair(20_000, 12_000, 12_600)  # +3 points, 20k rows

    comparison = _compare(truth, challenger, champion)

    assert comparison.verdict == "promote", comparison.reasons
    assert comparison.interval is not None and comparison.interval.lower > 0.02


@pytest.mark.parametrize("min_improvement", [0.0, 0.02])
def test_identical_predictions_are_rejected(min_improvement: float) -> None:
    truth, challenger, _ = _pair(200, 150, 150)
    champion = replace(challenger, version="v0001", training_window=OLD)

    comparison = _compare(
        truth, challenger, champion, rules=_rules(min_improvement=min_improvement)
    )

    assert comparison.verdict == "reject"
    assert comparison.difference == 0.0
    assert comparison.interval is not None
    assert (comparison.interval.lower, comparison.interval.upper) == (0.0, 0.0)
    assert comparison.mcnemar is not None and comparison.mcnemar.p_value == 1.0


def test_worse_challenger_is_rejected_with_a_negative_interval() -> None:
    truth, challenger, champion = _pair(400, 320, 200)

    comparison = _compare(truth, challenger, champion, rules=_rules(min_improvement=0.0))

    assert comparison.verdict == "reject"
    assert comparison.interval is not None and comparison.interval.upper < 0
    assert comparison.reason_codes[0].code == "improvement-not-shown"
    assert comparison.reason_codes[0].params["difference"] == pytest.approx(-0.3)


def test_comparison_is_reproducible_with_the_seed() -> None:
    truth, challenger, champion = _pair(300, 180, 195)

    first = _compare(truth, challenger, champion)
    again = _compare(truth, challenger, champion)
    other = _compare(truth, challenger, champion, rules=_rules(seed=1))

    assert first == again
    assert other.interval != first.interval


def test_challenger_below_the_floor_is_rejected_even_when_better() -> None:
    truth, challenger, champion = _pair(400, 40, 160)

    comparison = _compare(truth, challenger, champion)

    assert comparison.verdict == "reject"
    assert comparison.reason_codes[0].code == "below-floor"
    assert comparison.reason_codes[0].params["score"] == pytest.approx(0.4)
    assert comparison.reason_codes[0].params["threshold"] == 0.45


@pytest.mark.parametrize("rows", [0, 29])
def test_too_few_holdout_rows_is_insufficient_evidence(rows: int) -> None:
    truth = _truth(rows)
    comparison = _compare(
        truth,
        _outputs("v0002", truth),
        _outputs("v0001", _predict(truth, rows // 2), window=OLD),
    )

    assert comparison.verdict == "insufficient-evidence"
    assert comparison.reason_codes[0].code == "insufficient-evidence"
    assert comparison.reason_codes[0].params == {"holdout_rows": rows, "min_holdout_rows": 30}
    assert comparison.holdout_rows == rows


def test_holdout_rows_equal_to_the_minimum_are_enough() -> None:
    truth = _truth(30)
    comparison = _compare(
        truth, _outputs("v0002", truth), _outputs("v0001", _predict(truth, 5), window=OLD)
    )

    assert comparison.verdict == "promote", comparison.reasons


def test_challenger_trained_on_the_holdout_is_rejected() -> None:
    truth, challenger, champion = _pair(400, 200, 390)

    comparison = _compare(
        truth, replace(challenger, training_window=HOLDOUT, trained_on_holdout=True), champion
    )

    assert comparison.verdict == "reject"
    assert comparison.reason_codes[0].code == "challenger-trained-on-holdout"


def test_champion_trained_on_the_holdout_is_noted_but_not_blocking() -> None:
    truth, challenger, champion = _pair(400, 200, 390)

    comparison = _compare(truth, challenger, replace(champion, trained_on_holdout=True))

    assert comparison.verdict == "promote"
    assert comparison.reason_codes[-1].code == "champion-trained-on-holdout"


def test_champion_that_fails_to_load_rejects() -> None:
    truth, challenger, _ = _pair(400, 200, 390)
    problem = "v0001: model file of v0001 does not match its registered SHA-256"

    comparison = _compare(truth, challenger, _outputs("v0001", None, window=OLD, problem=problem))

    assert comparison.verdict == "reject"
    assert comparison.difference is None and comparison.interval is None
    assert codes(comparison.reason_codes)[:2] == ["champion-not-scored", "model-unusable"]
    assert comparison.reason_codes[1].params == {"version": "v0001", "problem": problem}
    assert comparison.reasons[1] == problem  # the loader's own words


def test_challenger_that_fails_to_predict_rejects() -> None:
    truth, _, champion = _pair(400, 200, 390)
    problem = "v0002: the model failed to predict: ValueError: boom"

    comparison = _compare(truth, _outputs("v0002", None, problem=problem), champion)

    assert comparison.verdict == "reject"
    assert codes(comparison.reason_codes)[:2] == ["challenger-not-scored", "model-unusable"]
    assert comparison.reason_codes[1].params == {"version": "v0002", "problem": problem}


def test_bootstrap_challenger_above_the_floor_is_promoted() -> None:
    truth = _truth(88)

    comparison = _compare(truth, _outputs("v0001", _predict(truth, 50)), None)

    assert comparison.verdict == "promote"
    assert comparison.bootstrap
    assert comparison.interval is None and comparison.guards == ()
    assert codes(comparison.reason_codes) == ["floor-met", "bootstrap"]
    assert comparison.reason_codes[0].params["score"] == pytest.approx(50 / 88)


def test_bootstrap_challenger_below_the_floor_is_rejected() -> None:
    truth = _truth(88)

    comparison = _compare(truth, _outputs("v0001", _predict(truth, 30)), None)

    assert comparison.verdict == "reject"
    assert comparison.bootstrap
    assert codes(comparison.reason_codes) == ["below-floor", "bootstrap"]
    assert comparison.reason_codes[0].params["score"] == pytest.approx(30 / 88)


@pytest.mark.parametrize(
    ("changes", "guard"),
    [
        ({"probability": None}, "log loss"),
        ({"probability": float("nan")}, "log loss"),
        ({"latency": None}, "latency ms per 1k rows"),
        ({"size": None}, "model size bytes"),
    ],
    ids=["no-predict-proba", "nan-probability", "no-latency", "no-size"],
)
def test_a_missing_guard_metric_fails_closed(changes: dict[str, Any], guard: str) -> None:
    truth = _truth(400)
    challenger = _outputs("v0002", _predict(truth, 390), **changes)
    champion = _outputs("v0001", _predict(truth, 200), window=OLD)

    comparison = _compare(truth, challenger, champion, rules=_rules(guards=ALL_GUARDS))

    assert comparison.verdict == "reject"
    assert params_of(comparison.reason_codes, "guard-missing") == {
        "guard": guard,
        "missing": "challenger",
    }


def test_a_guard_that_is_off_is_not_computed() -> None:
    truth = _truth(400)
    challenger = _outputs("v0002", _predict(truth, 390), probability=None, latency=None)
    champion = _outputs("v0001", _predict(truth, 200), window=OLD)

    comparison = _compare(
        truth,
        challenger,
        champion,
        rules=_rules(guards=replace(ALL_GUARDS, log_loss=None, latency_ratio=None)),
    )

    assert comparison.verdict == "promote", comparison.reasons
    assert {g.name for g in comparison.guards} == {
        "recall (macro)",
        "f1 of class 'rain' (200 rows)",
        "f1 of class 'sun' (200 rows)",
        "model size bytes",
    }


@pytest.mark.parametrize(
    ("champion_changes", "challenger_changes", "guard"),
    [
        ({"probability": 0.9}, {"probability": 0.6}, "log loss"),
        ({"latency": 10.0}, {"latency": 31.0}, "latency ms per 1k rows"),
        ({"size": 1000}, {"size": 3001}, "model size bytes"),
    ],
)
def test_a_guard_beyond_its_margin_rejects(
    champion_changes: dict[str, Any], challenger_changes: dict[str, Any], guard: str
) -> None:
    truth = _truth(400)
    challenger = _outputs("v0002", _predict(truth, 390), **challenger_changes)
    champion = _outputs("v0001", _predict(truth, 200), window=OLD, **champion_changes)

    comparison = _compare(truth, challenger, champion, rules=_rules(guards=ALL_GUARDS))

    assert comparison.verdict == "reject"
    failing = [g for g in comparison.guards if not g.passed]
    assert [g.name for g in failing] == [guard]
    broken = params_of(comparison.reason_codes, "guard-failed")
    (check,) = failing
    assert broken == {
        "guard": guard,
        "champion": check.champion,
        "challenger": check.challenger,
        "limit": check.limit,
        "rule": check.rule,
    }


@pytest.mark.parametrize(
    ("challenger_rows", "challenger_size", "passed", "limit", "rule"),
    [
        # 3.5x the bytes on 4x the rows: what a forest trained on more rows weighs.
        (
            400,
            3500,
            True,
            12000.0,
            "<= 3 x champion x 4 (trained on 400 rows, the champion on 100)",
        ),
        # 13x the bytes on 4x the rows: bloated beyond its rows, still rejected.
        (
            400,
            13000,
            False,
            12000.0,
            "<= 3 x champion x 4 (trained on 400 rows, the champion on 100)",
        ),
        # The same rows: the plain ratio.
        (100, 3500, False, 3000.0, "<= 3 x champion"),
        # Fewer rows never lower the limit: a linear model's size does not shrink with its rows.
        (50, 2900, True, 3000.0, "<= 3 x champion"),
        # Rows unknown (a record written before they were kept): the plain ratio.
        (None, 3500, False, 3000.0, "<= 3 x champion"),
    ],
    ids=["more-rows", "bloated", "same-rows", "fewer-rows", "rows-unknown"],
)
def test_the_size_guard_allows_growth_in_proportion_to_the_training_rows(
    challenger_rows: int | None, challenger_size: int, passed: bool, limit: float, rule: str
) -> None:
    truth = _truth(400)
    challenger = _outputs("v0002", _predict(truth, 390), size=challenger_size, rows=challenger_rows)
    champion = _outputs("v0001", _predict(truth, 200), window=OLD, size=1000, rows=100)

    comparison = _compare(truth, challenger, champion, rules=_rules(guards=ALL_GUARDS))

    (size,) = [g for g in comparison.guards if g.name == "model size bytes"]
    assert (size.passed, size.limit, size.rule) == (passed, limit, rule)
    assert comparison.verdict == ("promote" if passed else "reject"), comparison.reasons
    assert comparison.challenger.training_rows == challenger_rows
    assert comparison.champion is not None and comparison.champion.training_rows == 100
    if not passed:
        assert rule in " ".join(comparison.reasons)
    # A record written before the field existed reads back without rows.
    data = comparison.to_dict()
    del data["challenger"]["training_rows"]
    assert Comparison.from_dict(data).challenger.training_rows is None


def test_a_latency_timed_again_says_so_in_its_rule_and_in_the_record() -> None:
    truth = _truth(400)
    challenger = replace(_outputs("v0002", _predict(truth, 390), latency=35.0), latency_rounds=3)
    champion = replace(_outputs("v0001", _predict(truth, 200), window=OLD), latency_rounds=3)

    comparison = _compare(truth, challenger, champion, rules=_rules(guards=ALL_GUARDS))

    (latency,) = [g for g in comparison.guards if g.name == "latency ms per 1k rows"]
    assert not latency.passed and latency.limit == 30.0
    assert latency.rule == "<= 3 x champion, fastest of 3 timing rounds"
    assert comparison.challenger.latency_rounds == 3
    assert "fastest of 3 timing rounds" in " ".join(comparison.reasons)
    # A record written before the field existed reads back as one round.
    data = comparison.to_dict()
    del data["challenger"]["latency_rounds"]
    assert Comparison.from_dict(data).challenger.latency_rounds == 1
    # One round (the usual case): the rule as before.
    plain = _compare(
        truth,
        _outputs("v0002", _predict(truth, 390)),
        champion=_outputs("v0001", _predict(truth, 200), window=OLD),
        rules=_rules(guards=ALL_GUARDS),
    )
    (latency,) = [g for g in plain.guards if g.name == "latency ms per 1k rows"]
    assert latency.rule == "<= 3 x champion"


def test_recall_and_per_class_f1_guards_catch_a_challenger_that_drops_a_class() -> None:
    # Predicting the common class everywhere: the rare class's recall and F1 collapse.
    truth = ["sun"] * 300 + ["rain"] * 100
    champion = ["sun"] * 240 + ["rain"] * 60 + ["rain"] * 90 + ["sun"] * 10
    challenger = ["sun"] * 400

    comparison = _compare(
        truth,
        _outputs("v0002", challenger),
        _outputs("v0001", champion, window=OLD),
        rules=_rules(min_improvement=0.0, guards=ALL_GUARDS),
    )

    failing = {g.name for g in comparison.guards if not g.passed}
    assert failing == {"recall (macro)", "f1 of class 'rain' (100 rows)"}
    assert comparison.verdict == "reject"


def _sliced(
    north_champion: int, north_challenger: int
) -> tuple[list[str], ModelOutputs, ModelOutputs, dict[str, list[Any]]]:
    """600 rows: 150 in the north, 440 in the south, 10 with no region."""
    truth = _truth(600)
    champion = _predict(truth[:150], north_champion) + _predict(truth[150:], 225)
    challenger = _predict(truth[:150], north_challenger) + _predict(truth[150:], 430)
    regions: list[Any] = ["north"] * 150 + ["south"] * 440 + [None] * 10
    return (
        truth,
        _outputs("v0002", challenger),
        _outputs("v0001", champion, window=OLD),
        {"region": regions},
    )


def test_a_slice_that_regresses_significantly_rejects_a_better_challenger() -> None:
    truth, challenger, champion, slices = _sliced(north_champion=140, north_challenger=80)
    rules = _rules(slices=SliceRules(columns=("region",), min_rows=30, margin=0.05))

    comparison = _compare(truth, challenger, champion, rules=rules, slice_values=slices)

    assert comparison.verdict == "reject"
    assert comparison.difference is not None and comparison.difference > 0.2
    by_value = {s.value: s for s in comparison.slices}
    assert set(by_value) == {"north", "south", "(missing)"}
    assert by_value["north"].regressed and by_value["north"].rows == 150
    assert by_value["north"].difference == pytest.approx(80 / 150 - 140 / 150)
    assert not by_value["south"].regressed
    assert not by_value["(missing)"].judged and by_value["(missing)"].note == "too few rows"
    regressed = params_of(comparison.reason_codes, "slice-regressed")
    assert (regressed["column"], regressed["value"], regressed["rows"]) == ("region", "north", 150)
    assert regressed["margin"] == 0.05
    assert regressed["difference"] == pytest.approx(80 / 150 - 140 / 150)
    assert regressed["adjusted_p_value"] == by_value["north"].adjusted_p_value
    assert "2 slice comparisons, Holm-controlled" in comparison.multiplicity
    assert "1 slices not judged" in comparison.multiplicity


def test_slices_without_a_regression_let_the_challenger_through() -> None:
    truth, challenger, champion, slices = _sliced(north_champion=100, north_challenger=120)
    rules = _rules(slices=SliceRules(columns=("region",), min_rows=30, margin=0.05))

    comparison = _compare(truth, challenger, champion, rules=rules, slice_values=slices)

    assert comparison.verdict == "promote", comparison.reasons
    assert [s.regressed for s in comparison.slices if s.judged] == [False, False]
    assert all(s.adjusted_p_value is not None for s in comparison.slices if s.judged)


def test_a_small_slice_that_looks_worse_is_noted_not_blocking() -> None:
    # 30 rows, 3 more wrong: beyond the margin as a point estimate, far from significant.
    truth = _truth(430)
    champion = _predict(truth[:30], 27) + _predict(truth[30:], 200)
    challenger = _predict(truth[:30], 24) + _predict(truth[30:], 380)
    slices = {"region": ["north"] * 30 + ["south"] * 400}
    rules = _rules(slices=SliceRules(columns=("region",), min_rows=30, margin=0.05))

    comparison = _compare(
        truth,
        _outputs("v0002", challenger),
        _outputs("v0001", champion, window=OLD),
        rules=rules,
        slice_values=slices,
    )

    assert comparison.verdict == "promote", comparison.reasons
    dip = params_of(comparison.reason_codes, "slice-dip")
    assert (dip["column"], dip["value"], dip["rows"], dip["margin"]) == (
        "region",
        "north",
        30,
        0.05,
    )
    assert dip["difference"] == pytest.approx(-0.1)
    assert dip["adjusted_p_value"] > 0.05


@pytest.mark.parametrize(
    ("slice_values", "missing"),
    [({"region": ["north"] * 10 + ["south"] * 390}, False), ({}, True)],
    ids=["all-slices-too-small", "column-missing"],
)
def test_slices_asked_for_but_none_judged_fail_closed(
    slice_values: dict[str, list[Any]], missing: bool
) -> None:
    truth, challenger, champion = _pair(400, 200, 390)
    rules = _rules(slices=SliceRules(columns=("region",), min_rows=500, margin=0.05))

    comparison = _compare(truth, challenger, champion, rules=rules, slice_values=slice_values)

    assert comparison.verdict == "reject"
    assert params_of(comparison.reason_codes, "no-slice-judged") == {
        "columns": ["region"],
        "min_rows": 500,
    }
    assert ("slice-column-missing" in codes(comparison.reason_codes)) is missing
    if missing:
        assert params_of(comparison.reason_codes, "slice-column-missing") == {"column": "region"}


@pytest.mark.parametrize("with_champion", [True, False])
def test_comparison_round_trips_through_a_dict_and_json(with_champion: bool) -> None:
    truth, challenger, champion, slices = _sliced(north_champion=140, north_challenger=80)
    rules = _rules(
        guards=ALL_GUARDS, slices=SliceRules(columns=("region",), min_rows=30, margin=0.05)
    )
    comparison = _compare(
        truth, challenger, champion if with_champion else None, rules=rules, slice_values=slices
    )

    restored = Comparison.from_dict(json.loads(json.dumps(comparison.to_dict())))

    assert restored == comparison
    assert restored.bootstrap is (not with_champion)
    assert restored.reason_codes == comparison.reason_codes and restored.reason_codes
    assert tuple(item.text for item in restored.reason_codes) == comparison.reasons


def test_a_comparison_saved_before_reasons_had_codes_still_loads() -> None:
    truth, challenger, champion = _pair(300, 180, 200)
    saved = json.loads(json.dumps(_compare(truth, challenger, champion).to_dict()))
    del saved["reason_codes"]

    restored = Comparison.from_dict(saved)

    assert restored.reason_codes == ()
    assert restored.reasons == tuple(saved["reasons"]) and restored.reasons


def test_macro_f1_gate_uses_the_same_scores_as_the_metric_module() -> None:
    truth = ["sun"] * 50 + ["rain"] * 30 + ["fog"] * 20
    rng = np.random.default_rng(0)
    champion = list(np.where(rng.random(100) < 0.5, truth, "sun"))
    challenger = list(np.where(rng.random(100) < 0.9, truth, "sun"))

    comparison = _compare(
        truth,
        _outputs("v0002", challenger),
        _outputs("v0001", champion, window=OLD),
        rules=_rules(metric="f1 (macro)", metric_name="f1"),
    )

    from sklearn.metrics import f1_score

    assert comparison.champion is not None
    assert comparison.champion.score == pytest.approx(
        f1_score(truth, champion, average="macro", zero_division=0)
    )
    assert comparison.difference == pytest.approx(
        f1_score(truth, challenger, average="macro") - f1_score(truth, champion, average="macro")
    )


def test_the_saved_row_types_recompute_the_interval_exactly() -> None:
    truth, challenger, champion = _pair(300, 180, 200)
    comparison = _compare(truth, challenger, champion)
    saved = json.loads(json.dumps(comparison.to_dict()))

    paired = pair_row_types(saved["row_types"])
    rules = GateRules.from_dict(saved["rules"])
    interval = paired_bootstrap(
        rules.metric_config(),
        paired,
        confidence=rules.confidence,
        resamples=rules.resamples,
        seed=rules.seed,
    )

    assert sum(row[3] for row in saved["row_types"]) == 300
    assert interval == comparison.interval
