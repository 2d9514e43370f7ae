"""The retraining trigger, on hand-built signals."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tasks.config import PolicyConfig
from tasks.policy import decide_retrain
from tasks.signals import ColumnDrift, Performance, Signals

FEATURES = ("precipitation", "temp_max", "temp_min", "wind")


def _policy(**changes: Any) -> PolicyConfig:
    values: dict[str, Any] = {
        "performance_threshold": 0.6,
        "drift_threshold": 0.5,
        "min_labelled_rows": 30,
        "min_current_rows": 30,
    }
    return PolicyConfig(**{**values, **changes})


def _signals(
    *,
    drifted: tuple[str, ...] = (),
    current_rows: int = 90,
    performance: float | None = 0.8,
    labelled_rows: int = 85,
) -> Signals:
    columns = tuple(
        ColumnDrift(
            column=name,
            method="K-S p_value",
            score=0.01 if name in drifted else 0.4,
            threshold=0.05,
            drifted=name in drifted,
        )
        for name in FEATURES
    )
    return Signals(
        current_rows=current_rows,
        reference_rows=350,
        drift_share=len(drifted) / len(FEATURES),
        columns=columns,
        performance=None
        if performance is None
        else Performance("f1 (macro)", performance, labelled_rows, "champion"),
    )


def test_healthy_signals_do_not_retrain() -> None:
    decision = decide_retrain(_signals(drifted=("wind",), performance=0.8), _policy())

    assert decision.action == "none"
    assert not decision.retrain
    assert decision.reasons == (
        "no data drift: 0.250 of columns drifted < drift_threshold 0.500",
        "performance ok: f1 (macro) 0.800 >= performance_threshold 0.600 on 85 labelled rows",
    )
    assert decision.drift_share == 0.25
    assert decision.performance == 0.8
    assert (decision.labelled_rows, decision.current_rows) == (85, 90)


def test_performance_breach_retrains() -> None:
    decision = decide_retrain(_signals(performance=0.42), _policy())

    assert decision.action == "retrain"
    assert decision.retrain
    assert decision.reasons[0] == (
        "performance: f1 (macro) 0.420 < performance_threshold 0.600 on 85 labelled rows"
    )
    assert decision.reasons[1].startswith("no data drift")
    assert decision.performance == 0.42
    assert decision.performance_threshold == 0.6


def test_drift_breach_retrains_and_names_the_columns() -> None:
    decision = decide_retrain(_signals(drifted=("precipitation", "wind", "temp_min")), _policy())

    assert decision.action == "retrain"
    assert decision.reasons[0] == (
        "data drift: 0.750 of columns drifted >= drift_threshold 0.500 "
        "(precipitation, temp_min, wind)"
    )
    assert decision.reasons[1].startswith("performance ok")
    assert decision.drift_share == 0.75


def test_drift_without_retrain_on_drift_does_not_retrain() -> None:
    decision = decide_retrain(
        _signals(drifted=("precipitation", "wind", "temp_min")), _policy(retrain_on_drift=False)
    )

    assert decision.action == "none"
    assert decision.reasons[0] == (
        "data drift: 0.750 of columns drifted >= drift_threshold 0.500 "
        "(precipitation, temp_min, wind); retrain_on_drift is off, so it alone does not retrain"
    )
    assert decision.drift_share == 0.75


def test_drift_without_retrain_on_drift_still_retrains_on_a_performance_breach() -> None:
    decision = decide_retrain(
        _signals(drifted=FEATURES, performance=0.3), _policy(retrain_on_drift=False)
    )

    assert decision.action == "retrain"
    assert decision.reasons[0].startswith("performance: f1 (macro) 0.300 <")
    assert "retrain_on_drift is off" in decision.reasons[1]


def test_both_breaches_are_listed_first() -> None:
    decision = decide_retrain(_signals(drifted=FEATURES, performance=0.3), _policy())

    assert decision.action == "retrain"
    assert decision.reasons[0].startswith("data drift: 1.000 of columns drifted")
    assert decision.reasons[1].startswith("performance: f1 (macro) 0.300 <")
    assert len(decision.reasons) == 2


@pytest.mark.parametrize(
    ("performance", "labelled_rows"), [(None, 0), (0.1, 29)], ids=["no-labels", "few-labels"]
)
def test_too_few_labelled_rows_leave_performance_unjudged(
    performance: float | None, labelled_rows: int
) -> None:
    signals = _signals(performance=performance, labelled_rows=labelled_rows)

    decision = decide_retrain(signals, _policy())

    # A 0.1 score on 29 rows would breach the threshold, but is too little evidence.
    assert decision.action == "none"
    assert decision.reasons[-1] == (
        f"performance not judged: {labelled_rows} labelled rows, fewer than min_labelled_rows 30"
    )
    assert decision.labelled_rows == labelled_rows
    assert decision.performance == performance


def test_too_few_current_rows_leave_drift_unjudged() -> None:
    signals = _signals(drifted=FEATURES, current_rows=12, performance=0.8, labelled_rows=10)

    decision = decide_retrain(signals, _policy(min_labelled_rows=5))

    # Every column "drifted", but on 12 rows that is not judged.
    assert decision.action == "none"
    assert decision.reasons == (
        "drift not judged: 12 rows in the window, fewer than min_current_rows 30",
        "performance ok: f1 (macro) 0.800 >= performance_threshold 0.600 on 10 labelled rows",
    )
    assert decision.drift_share is None
    assert decision.current_rows == 12


def test_too_few_current_rows_still_retrain_on_a_performance_breach() -> None:
    signals = _signals(current_rows=12, performance=0.2, labelled_rows=10)

    decision = decide_retrain(signals, _policy(min_labelled_rows=5))

    assert decision.action == "retrain"
    assert decision.reasons[0].startswith("performance: f1 (macro) 0.200 <")
    assert decision.reasons[1].startswith("drift not judged")


@pytest.mark.parametrize("performance", [None, 0.1])
def test_too_few_rows_for_both_is_insufficient_data(performance: float | None) -> None:
    signals = _signals(drifted=FEATURES, current_rows=5, performance=performance, labelled_rows=4)

    decision = decide_retrain(signals, _policy())

    assert decision.action == "insufficient-data"
    assert not decision.retrain
    assert decision.reasons == (
        "drift not judged: 5 rows in the window, fewer than min_current_rows 30",
        f"performance not judged: {4 if performance else 0} labelled rows, "
        "fewer than min_labelled_rows 30",
    )
    assert decision.drift_share is None


def test_drift_share_equal_to_the_threshold_is_drift() -> None:
    decision = decide_retrain(_signals(drifted=("wind", "temp_max")), _policy(drift_threshold=0.5))

    assert decision.action == "retrain"
    assert decision.reasons[0].startswith("data drift: 0.500 of columns drifted >= drift_threshold")


def test_performance_equal_to_the_threshold_is_ok() -> None:
    decision = decide_retrain(_signals(performance=0.6), _policy(performance_threshold=0.6))

    assert decision.action == "none"
    assert decision.reasons[1].startswith("performance ok: f1 (macro) 0.600 >=")


def test_row_counts_equal_to_the_minimums_are_judged() -> None:
    signals = _signals(drifted=FEATURES, current_rows=30, performance=0.2, labelled_rows=30)

    decision = decide_retrain(signals, _policy())

    assert decision.action == "retrain"
    assert decision.reasons[0].startswith("data drift")
    assert decision.reasons[1].startswith("performance: ")


def test_decision_to_dict_holds_the_numbers() -> None:
    decision = decide_retrain(_signals(performance=0.42), _policy())

    assert decision.to_dict() == {
        "action": "retrain",
        "reasons": decision.reasons,
        "drift_share": 0.0,
        "drift_threshold": 0.5,
        "performance": 0.42,
        "performance_threshold": 0.6,
        "labelled_rows": 85,
        "current_rows": 90,
    }


def test_a_share_just_below_the_threshold_does_not_read_as_equal() -> None:
    # 499 of 1000 columns drifted: the message must not round it up to the threshold.
    signals = replace(_signals(), drift_share=0.499)
    decision = decide_retrain(signals, _policy())

    assert decision.action == "none"
    assert "0.499 of columns drifted < drift_threshold 0.500" in decision.reasons[0]
