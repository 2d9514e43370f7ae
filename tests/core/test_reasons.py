"""The wording of every reason, compared with saved sentences: the one place tests read them.

Every other test asserts a reason's code and numbers (tests/reasons.py). Here each code is
rendered from example numbers and compared with tests/data/reason_texts.json, so a rewording
shows up as one reviewed diff of that file. After a deliberate change of the wording (or a new
code, which needs an example below), rewrite the file with `python -m tests.core.test_reasons`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tasks.config import PolicyConfig
from tasks.core.outcomes import monitor_events
from tasks.core.policy import PastRun, TriggerDecision, decide_retrain
from tasks.core.reasons import Reason, ReasonCode, read_reasons
from tasks.core.signals import ColumnDrift, EstimatedPerformance, Performance, Signals

SAVED = Path(__file__).resolve().parent.parent / "data" / "reason_texts.json"
GATE_SAVED = Path(__file__).resolve().parent.parent / "data" / "gate_comparisons.json"

_LABELLED = {
    "labelled_rows": 85,
    "labelled_start": "2014-01-01 00:00",
    "labelled_end": "2014-03-20 00:00",
}
_F1 = {"metric": "f1 (macro)", "threshold": 0.6, "higher_is_better": True, **_LABELLED}
_MAE = {"metric": "mae", "threshold": 3.0, "higher_is_better": False, **_LABELLED}
_ESTIMATE = {"metric": "f1 (macro)", "threshold": 0.6, "higher_is_better": True, "rows": 90}
_DRIFT = {"drift_share": 0.75, "drift_threshold": 0.5, "drifted_columns": ["temp_max", "wind"]}
_HARM = {
    **_DRIFT,
    "evidence": "estimated",
    "metric": "f1 (macro)",
    "value": 0.7,
    "holdout_score": 0.8,
    "drop": 0.1,
    "higher_is_better": True,
    "harm_margin": 0.08,
    "harm_drop": 0.1,
}
_CONFIRMATION = {"signal": "performance", "seen": 1, "looked": 3, "breaches": 2, "runs": 3}
_IMPROVEMENT = {
    "metric": "accuracy",
    "higher_is_better": True,
    "champion_score": 0.5,
    "challenger_score": 0.8,
    "difference": 0.3,
    "confidence": 0.95,
    "lower": 0.25,
    "upper": 0.35,
    "required": 0.02,
    "min_improvement": 0.02,
    "min_relative_improvement": None,
}
_MAE_IMPROVEMENT = {
    **_IMPROVEMENT,
    "metric": "mae",
    "higher_is_better": False,
    "champion_score": 4.1,
    "challenger_score": 3.9,
    "difference": 0.2,
    "lower": 0.05,
    "upper": 0.31,
    "required": 0.41,
    "min_improvement": 0.1,
    "min_relative_improvement": 0.1,
}
_GUARD = {
    "guard": "recall (macro)",
    "champion": 0.8,
    "challenger": 0.79,
    "limit": 0.75,
    "rule": ">= champion - 0.05",
}
_SLICE = {
    "column": "region",
    "value": "north",
    "rows": 150,
    "difference": -0.4,
    "adjusted_p_value": 0.0001,
    "margin": 0.05,
    "higher_is_better": True,
}

# One example or more per code, under "code" or "code/variant".
_WATCHED = {"champion": "v0002", "previous": "v0001", "window": 2, "windows": 3}
_WATCH_NUMBERS = {
    **_WATCHED,
    "metric": "f1 (macro)",
    "higher_is_better": True,
    "champion_score": 0.62,
    "previous_score": 0.71,
    "difference": 0.09,
    "confidence": 0.95,
    "lower": 0.04,
    "upper": 0.14,
    "required": 0.02,
    "min_improvement": 0.02,
    "min_relative_improvement": None,
    "rows": 60,
    "rows_start": "2014-04-01T00:00:00",
    "rows_end": "2014-05-31T00:00:00",
}
_QUALITY = {
    "failing_columns": ["wind"],
    "failures": [
        {"check": "missing", "column": "wind", "value": 1.0, "reference": 0.0, "tolerance": 0.1}
    ],
    "summary": "data quality failed in wind: wind missing share 1.000 (reference 0.000 + 0.100)",
    "rows": 90,
}

EXAMPLES: dict[str, dict[str, Any]] = {
    "estimate-missing": {"note": "the champion has no predict_proba"},
    "estimate-insufficient-data": {"rows": 10, "min_current_rows": 30},
    "estimate-reported-only": {**_ESTIMATE, "value": 0.5, "breach": True, "labelled_rows": 90},
    "estimate-ok": {**_ESTIMATE, "value": 0.7, "breach": False, "labelled_rows": 0},
    "estimate-breach": {**_ESTIMATE, "value": 0.5, "breach": True, "labelled_rows": 0},
    "estimate-breach-ignored": {**_ESTIMATE, "value": 0.5, "breach": True, "labelled_rows": 0},
    "drift-insufficient-data": {"current_rows": 29, "min_current_rows": 30},
    "no-data-drift": {"drift_share": 0.25, "drift_threshold": 0.5},
    "data-drift": _DRIFT,
    "data-drift-ignored": _DRIFT,
    "data-drift-harmful": _HARM,
    "data-drift-harmful/below-threshold": {
        **_HARM,
        "value": 0.55,
        "holdout_score": 0.56,
        "drop": 0.01,
        "harm_margin": 0.5,
        "harm_drop": None,
        "worse_than_threshold": True,
        "performance_threshold": 0.6,
    },
    "data-drift-not-harmful": {**_HARM, "value": 0.78, "drop": 0.02},
    "data-drift-not-harmful/error-metric": {
        **_HARM,
        "evidence": "realised",
        "metric": "mae",
        "value": 4.5,
        "holdout_score": 5.0,
        "drop": -0.5,
        "higher_is_better": False,
        "harm_margin": 1.0,
        "harm_drop": None,
    },
    "data-drift-harm-unknown": {
        **_DRIFT,
        "missing": "estimate",
        "estimate_note": None,
        "labelled_rows": 0,
        "min_labelled_rows": 30,
    },
    "data-drift-harm-unknown/no-holdout-score": {**_DRIFT, "missing": "holdout-score"},
    "no-prediction-drift": {"method": "chi-square p_value", "score": 0.5, "threshold": 0.05},
    "prediction-drift": {"method": "chi-square p_value", "score": 0.001, "threshold": 0.05},
    "prediction-drift-ignored": {"method": "psi", "score": 0.31, "threshold": 0.1},
    "performance-insufficient-data": {**_LABELLED, "labelled_rows": 12, "min_labelled_rows": 30},
    "performance-insufficient-data/no-labels": {
        "labelled_rows": 0,
        "labelled_start": None,
        "labelled_end": None,
        "min_labelled_rows": 30,
    },
    "performance-ok": {**_F1, "value": 0.8},
    "performance-ok/within-drop": {
        **_F1,
        "value": 0.8,
        "drop_limit": 0.72,
        "performance_drop": 0.25,
        "holdout_score": 0.96,
    },
    "performance-ok/error-metric": {**_MAE, "value": 2.5},
    "performance-breach": {**_F1, "value": 0.42},
    "performance-breach/error-metric": {**_MAE, "value": 3.4},
    "performance-drop": {
        **_F1,
        "value": 0.7,
        "drop_limit": 0.72,
        "performance_drop": 0.25,
        "holdout_score": 0.96,
    },
    "performance-drop/reference": {
        **_MAE,
        "value": 0.586,
        "drop_limit": 0.366,
        "performance_drop": 0.25,
        "holdout_score": 0.523,
        "reference": 0.293,
        "reference_windows": [0.29, 0.293],
        "reference_rule": "the median of the champion's holdout score 0.523 and its first 2 "
        "monitored windows (0.290, 0.293)",
    },
    "severe-performance-breach": {**_F1, "value": 0.29, "severe_threshold": 0.3},
    "breach-confirmed": {**_CONFIRMATION, "seen": 2, "min_spacing_days": 0},
    "breach-not-confirmed": {**_CONFIRMATION, "signal": "prediction_drift", "min_spacing_days": 30},
    "confirmation-skipped": {"signal": "performance"},
    "cooldown": {"elapsed_days": 1.5, "cooldown_days": 60},
    "cooldown-skipped": {"elapsed_days": 1, "cooldown_days": 60},
    "cooldown-same-window": {"as_of": "2014-04-01T00:00:00"},
    "insufficient-evidence": {"holdout_rows": 29, "min_holdout_rows": 30},
    "challenger-trained-on-holdout": {},
    "model-not-scorable": {"version": "v0002", "error": "the labels are all missing"},
    "model-unusable": {"version": "v0001", "problem": "v0001: model file of v0001 is missing"},
    "challenger-not-scored": {},
    "below-floor": {
        "metric": "accuracy",
        "score": 0.4,
        "threshold": 0.45,
        "higher_is_better": True,
    },
    "floor-met": {"metric": "mae", "score": 4.2, "threshold": 6.0, "higher_is_better": False},
    "bootstrap": {},
    "champion-not-scored": {},
    "champion-trained-on-holdout": {},
    "improvement-shown": _IMPROVEMENT,
    "improvement-not-shown": {
        **_IMPROVEMENT,
        "champion_score": 0.6,
        "challenger_score": 0.63,
        "difference": 0.03,
        "lower": -0.01,
        "upper": 0.07,
    },
    "improvement-not-shown/error-metric": _MAE_IMPROVEMENT,
    "guard-passed": _GUARD,
    "guard-failed": {**_GUARD, "challenger": 0.7},
    "guard-missing": {"guard": "log loss", "missing": "challenger"},
    "slice-column-missing": {"column": "region"},
    "no-slice-judged": {"columns": ["region"], "min_rows": 500},
    "slice-regressed": _SLICE,
    "slice-dip": {**_SLICE, "rows": 30, "difference": -0.1, "adjusted_p_value": 0.4},
    "follow-up-retrain": {
        "change_start": "2020-04-15T00:00:00",
        "rows_at_training": 350,
        "rows_now": 700,
        "min_rows": 100,
    },
    "backoff": {
        "rejected": 2,
        "since": "2014-03-12T00:00:00",
        "kinds": ["performance"],
        "cooldown_days": 56.0,
        "base_cooldown_days": 28.0,
        "factor": 2.0,
        "exponent": 1,
        "capped": False,
        "max_cooldown_days": 365.0,
        "elapsed_days": 42.0,
    },
    "backoff/capped": {
        "rejected": 5,
        "since": "2014-03-12T00:00:00",
        "kinds": ["performance", "severe"],
        "cooldown_days": 365.0,
        "base_cooldown_days": 28.0,
        "factor": 2.0,
        "exponent": 4,
        "capped": True,
        "max_cooldown_days": 365.0,
        "elapsed_days": 14.0,
    },
    "backoff-reset": {"new_kinds": ["drift"], "rejected": 3, "cooldown_days": 28.0},
    "threshold-unreachable": {
        "rejected": 2,
        "since": "2014-04-23T00:00:00",
        "kinds": ["performance"],
        "metric": "mae",
        "best": 0.231,
        "best_worse": True,
        "threshold": 0.2,
        "higher_is_better": False,
    },
    "threshold-unreachable/no-labels": {
        "rejected": 1,
        "since": "2014-04-23T00:00:00",
        "kinds": ["estimated_performance"],
        "metric": "f1 (macro)",
        "best": None,
        "best_worse": False,
        "threshold": 0.6,
        "higher_is_better": True,
    },
    "slice-dip/error-metric": {
        **_SLICE,
        "difference": -0.3,
        "adjusted_p_value": 0.3,
        "higher_is_better": False,
    },
    "watch-expired": _WATCHED,
    "watch-insufficient-data": {**_WATCHED, "rows": 12, "min_holdout_rows": 30},
    "watch-not-judged": {**_WATCHED, "problem": "v0001 could not be scored: no labels"},
    "watch-champion-holds": {**_WATCH_NUMBERS, "difference": 0.01, "lower": -0.03, "upper": 0.05},
    "watch-rollback": _WATCH_NUMBERS,
    "watch-rollback/error-metric": {
        **_WATCH_NUMBERS,
        "metric": "mae",
        "higher_is_better": False,
        "champion_score": 2.5,
        "previous_score": 1.9,
        "difference": 0.6,
        "lower": 0.4,
        "upper": 0.8,
        "min_improvement": 0.0,
        "min_relative_improvement": 0.02,
        "required": 0.05,
    },
    "watch-approval-required": _WATCH_NUMBERS,
    "challenger-rolled-back": {"version": "v0002"},
    "data-quality-failed": _QUALITY,
    "data-quality-warning": _QUALITY,
    "data-quality-holdout-failed": {**_QUALITY, "failing_columns": [], "rows": 60},
    "breach-confirmed-after-warning": {
        **_CONFIRMATION,
        "seen": 2,
        "min_spacing_days": 0,
        "warnings": 1,
        "warning_limit": 0.33,
        "warning": 0.5,
        "performance_drop": 0.25,
        "reference": 0.2933,
        "warm_up": 2,
        "higher_is_better": False,
    },
    "breach-not-confirmed/warnings": {
        **_CONFIRMATION,
        "seen": 2,
        "looked": 4,
        "breaches": 3,
        "runs": 4,
        "min_spacing_days": 0,
        "warnings": 2,
        "warning_limit": 0.855,
        "warning": 0.5,
        "performance_drop": 0.1,
        "reference": 0.9,
        "warm_up": 2,
        "higher_is_better": True,
    },
}


def _rendered() -> dict[str, str]:
    return {
        key: Reason(ReasonCode(key.split("/")[0]), params).text for key, params in EXAMPLES.items()
    }


def test_every_code_has_an_example() -> None:
    assert {key.split("/")[0] for key in EXAMPLES} == {code.value for code in ReasonCode}


def test_the_docs_explain_every_code_and_no_other() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "reasons.md").read_text()

    rows = re.findall(r"^\| `([a-z-]+)` \|", page, re.M)

    assert sorted(rows) == sorted(code.value for code in ReasonCode)


def test_every_code_is_kebab_case_and_unique() -> None:
    values = [code.value for code in ReasonCode]
    assert len(values) == len(set(values))
    assert all(value == value.lower() and " " not in value and "_" not in value for value in values)


@pytest.mark.parametrize("key", sorted(EXAMPLES))
def test_each_reason_reads_as_saved(key: str) -> None:
    saved = json.loads(SAVED.read_text())

    assert _rendered()[key] == saved[key]


def test_the_saved_comparisons_codes_render_their_saved_sentences() -> None:
    # Real gate records, read back as a saved comparison is: the codes and numbers alone give
    # the sentences people read.
    for name, record in json.loads(GATE_SAVED.read_text()).items():
        reasons = read_reasons(record)
        assert [item.text for item in reasons] == record["reasons"], name


def _signals() -> Signals:
    """A drifted window, 12 of its rows labelled, with an estimate and prediction drift."""
    columns = tuple(ColumnDrift(name, "K-S p_value", 0.01, 0.05, True) for name in ("a", "b"))
    return Signals(
        current_rows=90,
        reference_rows=300,
        drift_share=1.0,
        columns=columns,
        performance=Performance("f1 (macro)", 0.5, 12, "champion", "2014-01-01", "2014-03-01"),
        estimate=EstimatedPerformance("f1 (macro)", 0.55, 90, 0.8),
        prediction_drift=ColumnDrift("__prediction__", "psi", 0.3, 0.1, True),
    )


def decisions() -> list[TriggerDecision]:
    """Policy decisions that give most of its reasons: harm, confirmation, cooldown, estimate."""
    now = datetime(2014, 4, 1)
    signals = _signals()
    policy = PolicyConfig.model_validate(
        {
            "performance_threshold": 0.6,
            "drift_threshold": 0.5,
            "retrain_on_drift": "when-harmful",
            "confirmation": {"min_spacing": "7d", "drift": {"breaches": 2, "runs": 3}},
            "cooldown": "30d",
        }
    )
    earlier = PastRun(now - timedelta(days=10), "v0001", True, None, None, False, False)
    return [
        decide_retrain(signals, policy, [earlier], as_of=now, champion="v0001"),
        decide_retrain(signals, policy, as_of=now, last_retrain_as_of=now - timedelta(days=3)),
        decide_retrain(signals, policy, as_of=now, last_retrain_as_of=now),
    ]


def test_the_decisions_codes_render_their_sentences_after_a_trip_through_json() -> None:
    # As the history keeps them: JSON, with anything else as a string.
    for decision in decisions():
        saved = json.loads(json.dumps(decision.to_dict(), default=str))
        assert saved["reason_codes"], decision.reasons
        assert [item.text for item in read_reasons(saved)] == list(decision.reasons)


def test_the_monitor_events_carry_the_codes_beside_the_sentences() -> None:
    decision = decisions()[0]

    events = dict(monitor_events(decision, _signals()))

    assert set(events) == {"drift.detected", "performance.estimate-degraded"}
    for payload in events.values():
        assert payload["reasons"] == list(decision.reasons)
        assert payload["reason_codes"] == [
            {"code": item.code.value, "params": item.params} for item in decision.reason_codes
        ]
    harmful = payload["reason_codes"][2]
    assert harmful["code"] == "data-drift-harmful"
    assert harmful["params"]["value"] == pytest.approx(0.55)


if __name__ == "__main__":  # after a deliberate change of the wording: review the diff
    SAVED.write_text(json.dumps(_rendered(), indent=2, sort_keys=True) + "\n")
