"""The gate's serialised comparisons, compared with saved ones (floats within a tolerance).

tests/data/gate_comparisons.json holds `Comparison.to_dict()` of each scenario below as the gate
produced it before it became a package; the gate must keep producing the same records: the same
verdicts, reasons (the wording people read), guards, slices and numbers. After a deliberate
change of the gate's output, rewrite the file with `python -m tests.core.test_gate_golden` and
review its diff.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tasks.core.gate import GateRules, GuardRules, ModelOutputs, SliceRules, compare_models
from tests.helpers import repo_config

SAVED = Path(__file__).resolve().parent.parent / "data" / "gate_comparisons.json"
HOLDOUT = {"start": "2014-01-01T00:00:00", "end": "2014-04-01T00:00:00"}
EARLIER = {"start": "2013-07-05T00:00:00", "end": "2014-01-01T00:00:00"}
OLD = {"start": "2012-01-01T00:00:00", "end": "2013-01-01T00:00:00"}
CLASSIFIER_GUARDS = GuardRules(
    recall=0.05, per_class_f1=0.10, min_class_rows=30, log_loss=0.25, latency_ratio=3.0,
    model_size_ratio=3.0,
)  # fmt: skip
REGRESSOR_GUARDS = GuardRules(
    second_error=0.05, bias=0.10, tail_error=0.10, latency_ratio=3.0, model_size_ratio=3.0
)
REGION = SliceRules(columns=("region",), min_rows=30, margin=0.05)


def _classifier_rules(**changes: Any) -> GateRules:
    values: dict[str, Any] = {
        "metric": "accuracy",
        "metric_name": "accuracy",
        "performance_threshold": 0.45,
        "min_improvement": 0.02,
        "min_holdout_rows": 30,
        "resamples": 200,
    }
    return GateRules(**{**values, **changes})


def _regressor_rules(**changes: Any) -> GateRules:
    values: dict[str, Any] = {
        "metric": "mae",
        "metric_name": "mae",
        "performance_threshold": 6.0,
        "min_improvement": 0.1,
        "min_holdout_rows": 30,
        "resamples": 200,
        "higher_is_better": False,
        "guards": REGRESSOR_GUARDS,
    }
    return GateRules(**{**values, **changes})


def _outputs(version: str, predictions: Any, **changes: Any) -> ModelOutputs:
    values: dict[str, Any] = {
        "version": version,
        "training_window": EARLIER if version == "v0002" else OLD,
        "trained_on_holdout": False,
        "predictions": None if predictions is None else list(predictions),
        "true_class_probability": None,
        "latency_ms_per_1k_rows": 10.0,
        "model_size_bytes": 1000,
    }
    values = {**values, **changes}
    if values.pop("probability", None) is not None and values["predictions"] is not None:
        values["true_class_probability"] = [changes["probability"]] * len(values["predictions"])
    return ModelOutputs(**values)


def _labels(rows: int) -> list[str]:
    return ["rain" if i % 2 else "sun" for i in range(rows)]


def _right_on(truth: list[str], right: int) -> list[str]:
    other = {"rain": "sun", "sun": "rain"}
    return [label if i < right else other[label] for i, label in enumerate(truth)]


def _regression_rows(
    rows: int, champion_noise: float, challenger_noise: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Targets, and the champion's and challenger's predictions with their noise."""
    rng = np.random.default_rng(seed)
    y = rng.normal(50, 10, rows)
    return y, y + rng.normal(0, champion_noise, rows), y + rng.normal(0, challenger_noise, rows)


def _compare(
    truth: Any,
    champion: ModelOutputs | None,
    challenger: ModelOutputs,
    rules: GateRules,
    slices: dict[str, list[Any]] | None = None,
) -> dict[str, Any]:
    comparison = compare_models(
        comparison_id="c1",
        model_name="golden",
        holdout_window=HOLDOUT,
        y_true=list(truth),
        rules=rules,
        champion=champion,
        challenger=challenger,
        slice_values=slices,
    )
    return json.loads(json.dumps(comparison.to_dict()))  # as it is saved: tuples become lists


def _classifier_promoted() -> dict[str, Any]:
    truth = _labels(400)
    return _compare(
        truth,
        _outputs("v0001", _right_on(truth, 200), probability=0.7),
        _outputs("v0002", _right_on(truth, 320), probability=0.7),
        _classifier_rules(guards=CLASSIFIER_GUARDS),
    )


def _classifier_sliced() -> dict[str, Any]:
    """A better challenger that regresses on one slice; a small slice; a missing value."""
    truth = _labels(600)
    champion = _right_on(truth[:150], 140) + _right_on(truth[150:], 225)
    challenger = _right_on(truth[:150], 80) + _right_on(truth[150:], 430)
    regions: list[Any] = ["north"] * 150 + ["south"] * 440 + [None] * 10
    return _compare(
        truth,
        _outputs("v0001", champion, probability=0.9),
        _outputs("v0002", challenger, probability=0.6, latency_ms_per_1k_rows=None),
        _classifier_rules(guards=CLASSIFIER_GUARDS, slices=REGION),
        {"region": regions},
    )


def _classifier_noted_slice() -> dict[str, Any]:
    truth = _labels(430)
    champion = _right_on(truth[:30], 27) + _right_on(truth[30:], 200)
    challenger = _right_on(truth[:30], 24) + _right_on(truth[30:], 380)
    return _compare(
        truth,
        _outputs("v0001", champion, trained_on_holdout=True),
        _outputs("v0002", challenger),
        _classifier_rules(slices=REGION),
        {"region": ["north"] * 30 + ["south"] * 400},
    )


def _classifier_macro_f1() -> dict[str, Any]:
    truth = ["sun"] * 50 + ["rain"] * 30 + ["fog"] * 20
    rng = np.random.default_rng(0)
    champion = list(np.where(rng.random(100) < 0.5, truth, "sun"))
    challenger = list(np.where(rng.random(100) < 0.9, truth, "sun"))
    return _compare(
        truth,
        _outputs("v0001", champion),
        _outputs("v0002", challenger),
        _classifier_rules(
            metric="f1 (macro)", metric_name="f1", guards=CLASSIFIER_GUARDS, slices=REGION
        ),
        {},
    )


def _classifier_champion_not_loaded() -> dict[str, Any]:
    truth = _labels(200)
    return _compare(
        truth,
        _outputs("v0001", None, problem="v0001 could not be loaded: no such file"),
        _outputs("v0002", _right_on(truth, 150), trained_on_holdout=True),
        _classifier_rules(guards=CLASSIFIER_GUARDS),
    )


def _classifier_bootstrap_too_few_rows() -> dict[str, Any]:
    truth = _labels(20)
    return _compare(truth, None, _outputs("v0001", _right_on(truth, 8)), _classifier_rules())


def _classifier_challenger_not_scored() -> dict[str, Any]:
    truth = _labels(100)
    return _compare(
        truth,
        _outputs("v0001", _right_on(truth, 60)),
        _outputs("v0002", None, problem="v0002 could not predict: a column is missing"),
        _classifier_rules(approval_required=True),
    )


def _regressor_promoted() -> dict[str, Any]:
    y, champion, challenger = _regression_rows(600, 5.0, 3.0)
    region = ["north", "south", "east"] * 200
    return _compare(
        y,
        _outputs("v0001", champion),
        _outputs("v0002", challenger),
        _regressor_rules(slices=REGION, min_relative_improvement=0.02),
        {"region": region},
    )


def _regressor_biased_and_sliced() -> dict[str, Any]:
    y, champion, challenger = _regression_rows(600, 5.0, 1.0)
    region = np.array(["north", "south", "east"] * 200)
    challenger = np.where(
        region == "east", y + np.random.default_rng(9).normal(0, 8, 600), challenger
    )
    return _compare(
        y,
        _outputs("v0001", champion, trained_on_holdout=True),
        _outputs("v0002", challenger + 2.0, model_size_bytes=None),
        _regressor_rules(slices=REGION),
        {"region": list(region)},
    )


def _regressor_r2_equal() -> dict[str, Any]:
    y, champion, challenger = _regression_rows(400, 4.0, 4.0, seed=5)
    return _compare(
        y,
        _outputs("v0001", champion),
        _outputs("v0002", challenger),
        _regressor_rules(
            metric="r2", metric_name="r2", performance_threshold=0.5, higher_is_better=True,
            min_improvement=0.0,
        ),
    )  # fmt: skip


def _regressor_bootstrap() -> dict[str, Any]:
    y, _, challenger = _regression_rows(200, 4.0, 2.0)
    return _compare(y, None, _outputs("v0001", challenger), _regressor_rules())


def _regressor_champion_not_scored() -> dict[str, Any]:
    y, _, challenger = _regression_rows(200, 4.0, 2.0)
    return _compare(
        y,
        _outputs("v0001", None, problem="v0001 could not be loaded"),
        _outputs("v0002", challenger),
        _regressor_rules(),
    )


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "classifier-promoted": _classifier_promoted,
    "classifier-sliced": _classifier_sliced,
    "classifier-noted-slice": _classifier_noted_slice,
    "classifier-macro-f1": _classifier_macro_f1,
    "classifier-champion-not-loaded": _classifier_champion_not_loaded,
    "classifier-bootstrap-too-few-rows": _classifier_bootstrap_too_few_rows,
    "classifier-challenger-not-scored": _classifier_challenger_not_scored,
    "regressor-promoted": _regressor_promoted,
    "regressor-biased-and-sliced": _regressor_biased_and_sliced,
    "regressor-r2-equal": _regressor_r2_equal,
    "regressor-bootstrap": _regressor_bootstrap,
    "regressor-champion-not-scored": _regressor_champion_not_scored,
}


def _differences(saved: Any, now: Any, where: str = "") -> list[str]:
    """Where two JSON values differ; numbers within a relative 1e-9 (or 1e-12 near 0) agree."""
    if isinstance(saved, dict) and isinstance(now, dict):
        if saved.keys() != now.keys():
            return [f"{where}: keys {sorted(saved)} != {sorted(now)}"]
        return [d for key in saved for d in _differences(saved[key], now[key], f"{where}.{key}")]
    if isinstance(saved, list) and isinstance(now, list):
        if len(saved) != len(now):
            return [f"{where}: {len(saved)} items != {len(now)}"]
        return [
            d
            for i, pair in enumerate(zip(saved, now, strict=True))
            for d in _differences(*pair, f"{where}[{i}]")
        ]
    numbers = (int, float)
    if isinstance(saved, numbers) and isinstance(now, numbers) and not isinstance(saved, bool):
        if isinstance(now, bool) or not math.isclose(saved, now, rel_tol=1e-9, abs_tol=1e-12):
            return [f"{where}: {saved!r} != {now!r}"]
        return []
    return [] if saved == now and type(saved) is type(now) else [f"{where}: {saved!r} != {now!r}"]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_comparison_record_is_the_saved_one(name: str) -> None:
    saved = json.loads(SAVED.read_text())[name]

    assert _differences(saved, SCENARIOS[name](), name) == []


def test_the_comparison_of_differences_catches_a_change() -> None:
    saved = {"a": [1.0, {"b": "x"}], "c": True}

    assert _differences(saved, {"a": [1.0 + 1e-12, {"b": "x"}], "c": True}) == []
    assert _differences(saved, {"a": [1.001, {"b": "x"}], "c": True}) == [".a[0]: 1.0 != 1.001"]
    assert _differences(saved, {"a": [1.0, {"b": "y"}], "c": 1}) == [
        ".a[1].b: 'x' != 'y'",
        ".c: True != 1",
    ]


def test_the_scenarios_cover_every_branch_of_the_decision() -> None:
    saved = json.loads(SAVED.read_text())
    verdicts = {record["verdict"] for record in saved.values()}
    kinds = {(record["mcnemar"] is None, record["interval"] is None) for record in saved.values()}

    assert verdicts == {"promote", "reject", "insufficient-evidence"}
    assert kinds == {(False, False), (True, False), (True, True)}  # classifier, regressor, none


def test_the_rules_take_every_guard_and_slice_setting_of_the_config() -> None:
    guards: dict[str, Any] = {
        "recall": 0.01, "per_class_f1": 0.02, "min_class_rows": 3, "log_loss": 0.04,
        "latency_ratio": 5.0, "model_size_ratio": 6.0, "second_error": 0.07, "bias": 0.08,
        "tail_error": 0.09, "tail_quantile": 0.8,
    }  # fmt: skip
    config = repo_config(
        {
            "promotion.guards": guards,
            "data.categorical_features": ["wind"],
            "data.numerical_features": ["precipitation", "temp_max", "temp_min"],
            "promotion.slices": {"columns": ["wind"], "min_rows": 11, "margin": 0.12},
        }
    )

    rules = GateRules.from_config(config)

    assert rules.guards == GuardRules(**guards)
    assert rules.slices == SliceRules(columns=("wind",), min_rows=11, margin=0.12)
    assert (rules.metric_name, rules.min_improvement, rules.seed) == ("f1", 0.02, 0)


if __name__ == "__main__":
    SAVED.write_text(
        json.dumps({name: SCENARIOS[name]() for name in sorted(SCENARIOS)}, indent=1) + "\n"
    )
