"""The retraining trigger, guard by guard, on hand-built signals and hand-made histories."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tasks.config import PolicyConfig
from tasks.core.outcomes import monitor_events
from tasks.core.policy import PastRun, decide_retrain
from tasks.core.reasons import codes
from tasks.core.signals import ColumnDrift, Performance, Signals
from tasks.steps.monitoring import decide_on_history
from tasks.stores.history import RunRecord, open_history
from tasks.stores.resources import open_stores
from tests.helpers import repo_config
from tests.reasons import params_of

FEATURES = ("precipitation", "temp_max", "temp_min", "wind")
NOW = datetime(2014, 4, 1)
ONE_OF_ONE = {"breaches": 1, "runs": 1}


def _policy(**changes: Any) -> PolicyConfig:
    """A policy with every history guard off, so each test turns on only the guard it tests."""
    values: dict[str, Any] = {
        "performance_threshold": 0.6,
        "drift_threshold": 0.5,
        "min_labelled_rows": 30,
        "min_current_rows": 30,
        "confirmation": {
            "drift": ONE_OF_ONE,
            "prediction_drift": ONE_OF_ONE,
            "performance": ONE_OF_ONE,
        },
        "cooldown": "0d",
        "retrain_on_drift": True,  # drift alone retrains; when-harmful: test_policy_estimate.py
    }
    return PolicyConfig(**{**values, **changes})


def _signals(
    *,
    drifted: tuple[str, ...] = (),
    current_rows: int = 90,
    performance: float | None = 0.8,
    labelled_rows: int = 85,
    predictions_drifted: bool | None = None,
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
    prediction = (
        None
        if predictions_drifted is None
        else ColumnDrift(
            "__prediction__",
            "chi-square p_value",
            0.001 if predictions_drifted else 0.5,
            0.05,
            predictions_drifted,
        )
    )
    return Signals(
        current_rows=current_rows,
        reference_rows=350,
        drift_share=len(drifted) / len(FEATURES),
        columns=columns,
        performance=None
        if performance is None
        else Performance(
            "f1 (macro)",
            performance,
            labelled_rows,
            "champion",
            labelled_start="2014-01-01 00:00",
            labelled_end="2014-03-20 00:00",
        ),
        prediction_drift=prediction,
    )


def _run(
    days_ago: int,
    *,
    drift: bool | None = False,
    performance: bool | None = False,
    prediction: bool | None = False,
    champion: str = "v0001",
    retrained: bool = False,
    promoted: bool = False,
) -> PastRun:
    return PastRun(
        as_of=NOW - timedelta(days=days_ago),
        champion=champion,
        drift_breach=drift,
        prediction_drift_breach=prediction,
        performance_breach=performance,
        retrained=retrained,
        promoted=promoted,
    )


def _decide(
    signals: Signals, policy: PolicyConfig, history: list[PastRun] | None = None, **kw: Any
):
    return decide_retrain(
        signals, policy, history or [], as_of=NOW, champion=kw.pop("champion", "v0001"), **kw
    )


# -- thresholds ------------------------------------------------------------------------------


def test_healthy_signals_do_not_retrain() -> None:
    decision = _decide(_signals(drifted=("wind",), performance=0.8), _policy())

    assert decision.action == "none"
    assert not decision.retrain
    assert codes(decision.reason_codes) == ["no-data-drift", "performance-ok"]
    assert len(decision.reasons) == 2  # a sentence for each code
    drift, performance = (item.params for item in decision.reason_codes)
    assert drift == {"drift_share": pytest.approx(0.25), "drift_threshold": 0.5}
    assert performance == {
        "metric": "f1 (macro)",
        "value": pytest.approx(0.8),
        "threshold": 0.6,
        "higher_is_better": True,
        "labelled_rows": 85,
        "labelled_start": "2014-01-01 00:00",
        "labelled_end": "2014-03-20 00:00",
    }
    assert decision.drift_share == 0.25
    assert decision.performance == 0.8
    assert (decision.labelled_rows, decision.current_rows) == (85, 90)
    assert decision.labelled_period == ("2014-01-01 00:00", "2014-03-20 00:00")


def test_performance_breach_retrains() -> None:
    decision = _decide(_signals(performance=0.42), _policy())

    assert decision.action == "retrain"
    assert decision.confirmed == ("performance",)
    assert codes(decision.reason_codes) == [
        "breach-confirmed",
        "no-data-drift",
        "performance-breach",
    ]
    confirmation = params_of(decision.reason_codes, "breach-confirmed")
    assert confirmation["signal"] == "performance"
    assert (confirmation["seen"], confirmation["looked"]) == (1, 1)
    assert (confirmation["breaches"], confirmation["runs"]) == (1, 1)
    breach = params_of(decision.reason_codes, "performance-breach")
    assert breach["value"] == pytest.approx(0.42)
    assert (breach["threshold"], breach["labelled_rows"]) == (0.6, 85)
    assert decision.trigger == "performance breach: 0.420 < 0.600 (higher is better)"


def test_drift_breach_retrains_and_names_the_columns() -> None:
    decision = _decide(_signals(drifted=("precipitation", "wind", "temp_min")), _policy())

    assert decision.action == "retrain"
    assert decision.confirmed == ("drift",)
    drift = params_of(decision.reason_codes, "data-drift")
    assert drift["drift_share"] == pytest.approx(0.75)
    assert drift["drift_threshold"] == 0.5
    assert drift["drifted_columns"] == ["precipitation", "temp_min", "wind"]
    assert decision.trigger == "data drift: share 0.75 >= 0.50"


def test_drift_without_retrain_on_drift_does_not_retrain() -> None:
    decision = _decide(_signals(drifted=FEATURES), _policy(retrain_on_drift=False))

    assert decision.action == "none"
    assert "data-drift-ignored" in codes(decision.reason_codes)


@pytest.mark.parametrize(
    ("share_columns", "threshold", "breach"),
    [(("wind", "temp_max"), 0.5, True), (("wind",), 0.5, False), (FEATURES, 1.0, True)],
    ids=["equal-is-drift", "below", "all"],
)
def test_drift_threshold_boundary(
    share_columns: tuple[str, ...], threshold: float, breach: bool
) -> None:
    decision = _decide(_signals(drifted=share_columns), _policy(drift_threshold=threshold))

    assert decision.breaches.drift is breach
    assert decision.retrain is breach


@pytest.mark.parametrize(
    ("value", "breach"),
    [(0.6, False), (0.5999, True), (0.61, False)],
    ids=["equal", "below", "above"],
)
def test_performance_threshold_boundary(value: float, breach: bool) -> None:
    decision = _decide(_signals(performance=value), _policy(performance_threshold=0.6))

    assert decision.breaches.performance is breach
    assert decision.retrain is breach


def test_a_share_just_below_the_threshold_does_not_read_as_equal() -> None:
    signals = replace(_signals(), drift_share=0.499)
    decision = _decide(signals, _policy())

    assert decision.action == "none"
    assert decision.reason_codes[0].code == "no-data-drift"
    assert decision.reason_codes[0].params["drift_share"] == pytest.approx(0.499)


# -- minimum samples and label delay ----------------------------------------------------------


@pytest.mark.parametrize(
    ("labelled_rows", "judged"), [(0, False), (29, False), (30, True), (31, True)]
)
def test_min_labelled_rows_boundary(labelled_rows: int, judged: bool) -> None:
    performance = None if labelled_rows == 0 else 0.1
    decision = _decide(_signals(performance=performance, labelled_rows=labelled_rows), _policy())

    assert (decision.breaches.performance is not None) is judged
    assert decision.retrain is judged
    if not judged:
        assert decision.reason_codes[-1].code == "performance-insufficient-data"
        numbers = decision.reason_codes[-1].params
        assert (numbers["labelled_rows"], numbers["min_labelled_rows"]) == (labelled_rows, 30)


@pytest.mark.parametrize(("current_rows", "judged"), [(29, False), (30, True), (31, True)])
def test_min_current_rows_boundary(current_rows: int, judged: bool) -> None:
    signals = _signals(drifted=FEATURES, current_rows=current_rows, performance=0.9)

    decision = _decide(signals, _policy(min_labelled_rows=5))

    assert (decision.breaches.drift is not None) is judged
    assert decision.retrain is judged
    assert (decision.drift_share is None) is not judged
    if not judged:
        assert decision.reason_codes[0].code == "drift-insufficient-data"
        assert decision.reason_codes[0].params == {
            "current_rows": current_rows,
            "min_current_rows": 30,
        }


def test_too_few_rows_for_both_is_insufficient_data() -> None:
    signals = _signals(drifted=FEATURES, current_rows=5, performance=0.1, labelled_rows=4)

    decision = _decide(signals, _policy())

    assert decision.action == "insufficient-data"
    assert not decision.retrain


def test_label_delay_unlabelled_rows_count_for_drift_only() -> None:
    # 90 rows arrived, 12 of them labelled so far: drift is judged, performance is not.
    signals = _signals(drifted=FEATURES, current_rows=90, performance=0.1, labelled_rows=12)

    decision = _decide(signals, _policy())

    assert decision.breaches.drift is True
    assert decision.breaches.performance is None
    assert decision.labelled_rows == 12
    assert decision.reason_codes[-1].code == "performance-insufficient-data"
    assert decision.reason_codes[-1].params == {
        "labelled_rows": 12,
        "labelled_start": "2014-01-01 00:00",
        "labelled_end": "2014-03-20 00:00",
        "min_labelled_rows": 30,
    }
    assert decision.confirmed == ("drift",)


# -- confirmation -----------------------------------------------------------------------------


def _flag(signal: str, value: bool) -> dict[str, Any]:
    """_run's keyword for one signal's breach."""
    return {signal: value}


@pytest.mark.parametrize(
    ("earlier", "confirmed"),
    [
        ([], False),
        ([False, False], False),
        ([True], True),
        ([False, True], True),
        ([False, False, True], False),  # the third earlier run is outside the last 3
    ],
    ids=["first-run", "none-earlier", "previous", "one-of-two", "outside-n"],
)
@pytest.mark.parametrize("signal", ["drift", "performance", "prediction"])
def test_confirmation_needs_m_of_the_last_n_runs(
    signal: str, earlier: list[bool], confirmed: bool
) -> None:
    rule = {"breaches": 2, "runs": 3}
    policy = _policy(
        confirmation={"drift": rule, "performance": rule, "prediction_drift": rule},
        prediction_drift={"retrain": True},
    )
    signals = {
        "drift": _signals(drifted=FEATURES),
        "performance": _signals(performance=0.4),
        "prediction": _signals(predictions_drifted=True),
    }[signal]
    history = [_run(30 * (i + 1), **_flag(signal, value)) for i, value in enumerate(earlier)]

    decision = _decide(signals, policy, history)

    assert decision.retrain is confirmed
    assert decision.action == ("retrain" if confirmed else "unconfirmed")
    verdict = "breach-confirmed" if confirmed else "breach-not-confirmed"
    name = "prediction_drift" if signal == "prediction" else signal
    assert params_of(decision.reason_codes, verdict)["signal"] == name


def test_confirmation_is_separate_per_signal() -> None:
    # Earlier runs breached performance only: a drift breach now is not confirmed by them.
    policy = _policy(confirmation={"drift": {"breaches": 2, "runs": 3}, "performance": ONE_OF_ONE})
    history = [_run(30, performance=True), _run(60, performance=True)]

    decision = _decide(_signals(drifted=FEATURES), policy, history)

    assert decision.action == "unconfirmed"
    assert decision.reason_codes[0].code == "breach-not-confirmed"
    assert decision.reason_codes[0].params == {
        "signal": "drift",
        "seen": 1,
        "looked": 3,
        "breaches": 2,
        "runs": 3,
        "min_spacing_days": 0,
    }


def test_confirmation_counts_only_runs_of_the_same_champion() -> None:
    policy = _policy(confirmation={"performance": {"breaches": 2, "runs": 3}})
    history = [_run(30, performance=True, champion="v0001")]

    decision = _decide(_signals(performance=0.4), policy, history, champion="v0002")

    assert decision.action == "unconfirmed"


def test_an_earlier_run_of_the_same_window_does_not_confirm_a_rerun() -> None:
    # A retried job or a rerun by hand sees the same rows again: not a second window.
    policy = _policy(confirmation={"performance": {"breaches": 2, "runs": 3}})
    history = [_run(0, performance=True), _run(30, performance=False)]

    decision = _decide(_signals(performance=0.4), policy, history)

    assert decision.action == "unconfirmed"
    assert decision.reason_codes[0].code == "breach-not-confirmed"
    confirmation = decision.reason_codes[0].params
    assert (confirmation["seen"], confirmation["looked"]) == (1, 2)
    assert (confirmation["breaches"], confirmation["runs"]) == (2, 3)


def test_a_window_recorded_twice_counts_once() -> None:
    # A history written before windows were unique (or a second backend) may list one window
    # twice: the newest record of each window counts, once.
    policy = _policy(confirmation={"performance": {"breaches": 3, "runs": 3}})
    history = [_run(30, performance=True), _run(30, performance=True), _run(60)]

    decision = _decide(_signals(performance=0.4), policy, history)

    assert decision.action == "unconfirmed"
    assert decision.reason_codes[0].code == "breach-not-confirmed"
    confirmation = decision.reason_codes[0].params
    assert (confirmation["seen"], confirmation["looked"]) == (2, 3)
    assert (confirmation["breaches"], confirmation["runs"]) == (3, 3)


@pytest.mark.parametrize(
    ("spacing", "breached_days_ago", "action", "seen"),
    [
        # Yesterday's run of a 90-day window saw nearly the same rows: by default it confirms ...
        ("0d", [1], "retrain", (2, 2)),
        # ... with min_spacing it does not count, so one daily run cannot confirm the next.
        ("30d", [1], "unconfirmed", (1, 1)),
        # A breach still there a spacing later confirms (days 30 and 60 count; the rest do not).
        ("30d", range(1, 70), "retrain", (3, 3)),
    ],
)
def test_min_spacing_keeps_overlapping_runs_from_confirming_each_other(
    tmp_path: Path, spacing: str, breached_days_ago: Any, action: str, seen: tuple[int, int]
) -> None:
    config = repo_config(
        {
            "registry.path": str(tmp_path / "registry"),
            "policy.cooldown": "0d",
            "policy.confirmation.min_spacing": spacing,
        }
    )
    breached = _decide(_signals(performance=0.40), _policy())
    store = open_history(config.registry.path)
    for days in breached_days_ago:
        store.record(
            config.name,
            RunRecord(
                NOW - timedelta(days=days), "v0001", breached, "unconfirmed", False, False, {}
            ),
        )

    # The monitor's own step: the store spaces the runs, the policy counts them.
    decision = decide_on_history(
        config, open_stores(config), _signals(performance=0.40), NOW, "v0001"
    )

    assert decision.action == action
    verdict = "breach-confirmed" if action == "retrain" else "breach-not-confirmed"
    confirmation = params_of(decision.reason_codes, verdict)
    assert (confirmation["seen"], confirmation["looked"]) == seen
    assert (confirmation["breaches"], confirmation["runs"]) == (2, 3)
    assert confirmation["min_spacing_days"] == (30 if spacing == "30d" else 0)


def test_severe_breach_skips_confirmation() -> None:
    policy = _policy(
        confirmation={"performance": {"breaches": 3, "runs": 3}},
        severe_performance_threshold=0.3,
    )

    decision = _decide(_signals(performance=0.29), policy)

    assert decision.action == "retrain"
    assert decision.breaches.severe
    assert params_of(decision.reason_codes, "confirmation-skipped") == {"signal": "performance"}
    # The trigger names what retrains, not the first of the notes.
    assert decision.trigger == "severe performance breach: 0.290 < 0.300 (higher is better)"


@pytest.mark.parametrize(("value", "severe"), [(0.3, False), (0.2999, True)])
def test_severe_threshold_boundary(value: float, severe: bool) -> None:
    policy = _policy(
        confirmation={"performance": {"breaches": 2, "runs": 2}},
        severe_performance_threshold=0.3,
    )

    decision = _decide(_signals(performance=value), policy)

    assert decision.breaches.severe is severe
    assert decision.retrain is severe


# -- cooldown ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_since", "cooling"), [(1, True), (59, True), (60, False), (61, False)]
)
def test_cooldown_after_the_last_retrain(days_since: int, cooling: bool) -> None:
    last = NOW - timedelta(days=days_since)

    decision = _decide(_signals(drifted=FEATURES), _policy(cooldown="60d"), last_retrain_as_of=last)

    assert decision.action == ("cooldown" if cooling else "retrain")
    if cooling:
        assert decision.reason_codes[1].code == "cooldown"
        assert decision.reason_codes[1].params == {
            "elapsed_days": pytest.approx(days_since),
            "cooldown_days": pytest.approx(60),
        }


def test_severe_breach_skips_cooldown() -> None:
    policy = _policy(cooldown="60d", severe_performance_threshold=0.3)

    decision = _decide(
        _signals(performance=0.1), policy, last_retrain_as_of=NOW - timedelta(days=1)
    )

    assert decision.action == "retrain"
    skipped = params_of(decision.reason_codes, "cooldown-skipped")
    assert skipped == {"elapsed_days": pytest.approx(1), "cooldown_days": pytest.approx(60)}


@pytest.mark.parametrize("cooldown", ["0d", "60d"])
def test_a_rerun_of_a_window_that_retrained_never_retrains_it_again(cooldown: str) -> None:
    # Even a severe breach, which skips the cooldown between windows: the same window would
    # train the same challenger on the same rows again.
    policy = _policy(cooldown=cooldown, severe_performance_threshold=0.3)

    decision = _decide(_signals(performance=0.1), policy, last_retrain_as_of=NOW)

    assert decision.action == "cooldown"
    assert decision.reason_codes[1].code == "cooldown-same-window"
    assert decision.reason_codes[1].params == {"as_of": "2014-04-01T00:00:00"}


def test_no_breach_means_no_cooldown_note() -> None:
    decision = _decide(_signals(), _policy(cooldown="60d"), last_retrain_as_of=NOW)

    assert decision.action == "none"
    assert not any(code.startswith("cooldown") for code in codes(decision.reason_codes))


# -- prediction drift -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drifted", "retrain_on_it", "action"),
    [(True, True, "retrain"), (True, False, "none"), (False, True, "none")],
)
def test_prediction_drift_is_its_own_signal(
    drifted: bool, retrain_on_it: bool, action: str
) -> None:
    policy = _policy(prediction_drift={"retrain": retrain_on_it})

    decision = _decide(_signals(predictions_drifted=drifted), policy)

    assert decision.action == action
    assert decision.breaches.drift is False
    assert decision.prediction_drift_score == (0.001 if drifted else 0.5)
    code = {
        (True, True): "prediction-drift",
        (True, False): "prediction-drift-ignored",
        (False, True): "no-prediction-drift",
    }[(drifted, retrain_on_it)]
    prediction = params_of(decision.reason_codes, code)
    assert prediction["method"] == "chi-square p_value"
    assert prediction["score"] == pytest.approx(0.001 if drifted else 0.5)
    assert prediction["threshold"] == pytest.approx(0.05)


# -- config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"confirmation": {"drift": {"breaches": 3, "runs": 2}}}, "cannot exceed runs"),
        ({"severe_performance_threshold": 0.7}, "must be below performance_threshold"),
        ({"cooldown": "-1d"}, "is not a duration"),
        ({"confirmation": {"drfit": ONE_OF_ONE}}, "Extra inputs are not permitted"),
    ],
)
def test_bad_policy_settings_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _policy(**changes)


def test_decision_to_dict_holds_the_numbers() -> None:
    last = NOW - timedelta(days=90)
    decision = _decide(_signals(performance=0.42), _policy(), last_retrain_as_of=last)

    data = decision.to_dict()

    assert data["action"] == "retrain"
    assert data["performance"] == 0.42
    assert data["performance_threshold"] == 0.6
    assert data["labelled_rows"] == 85
    assert data["breaches"] == {
        "drift": False,
        "prediction_drift": None,
        "performance": True,
        "severe": False,
        "estimated_performance": None,
    }
    assert data["last_retrain_as_of"] == last.isoformat()


# -- performance_drop: the bar follows each champion's own holdout score -------------------------


def _with_holdout(signals: Signals, holdout_score: float | None) -> Signals:
    return replace(signals, holdout_score=holdout_score)


def test_a_drop_from_the_holdout_score_breaches_above_the_fixed_threshold() -> None:
    # f1 0.70 clears performance_threshold 0.6, but the champion scored 0.96 on its holdout:
    # more than 25% worse (limit 0.72).
    signals = _with_holdout(_signals(performance=0.70), 0.96)

    decision = _decide(signals, _policy(performance_drop=0.25))

    assert decision.action == "retrain"
    assert decision.confirmed == ("performance",)
    assert decision.performance_drop_limit == pytest.approx(0.72)
    drop = params_of(decision.reason_codes, "performance-drop")
    assert drop["value"] == pytest.approx(0.70)
    assert drop["drop_limit"] == pytest.approx(0.72)
    assert drop["performance_drop"] == pytest.approx(0.25)
    assert drop["holdout_score"] == pytest.approx(0.96)
    assert drop["threshold"] == 0.6
    assert decision.trigger == (
        "performance breach (performance_drop from the holdout score): 0.700 < 0.720 "
        "(higher is better)"
    )


def test_the_event_of_a_drop_breach_names_the_drop_not_the_threshold() -> None:
    decision = _decide(_with_holdout(_signals(performance=0.70), 0.96), _policy())

    event = dict(monitor_events(decision, _with_holdout(_signals(performance=0.70), 0.96)))
    payload = event["performance.degraded"]

    assert payload["performance_drop_limit"] == pytest.approx(0.72)
    assert payload["holdout_score"] == 0.96
    assert payload["summary"] == (
        "f1 (macro) 0.700 < 0.720 (performance_drop from the champion's holdout score 0.960) "
        "on 85 labelled rows; decision retrain"
    )


def test_within_the_drop_the_reason_gives_the_limit() -> None:
    decision = _decide(_with_holdout(_signals(performance=0.80), 0.96), _policy())

    assert decision.action == "none"
    within = params_of(decision.reason_codes, "performance-ok")
    assert within["drop_limit"] == pytest.approx(0.72)
    assert within["performance_drop"] == pytest.approx(0.25)
    assert within["holdout_score"] == pytest.approx(0.96)


def test_an_error_metric_breaches_at_the_holdout_error_times_one_plus_the_drop() -> None:
    policy = PolicyConfig.model_validate(
        {
            "performance_metric": {"name": "mae"},
            "performance_threshold": 10.0,
            "drift_threshold": 0.5,
            "min_labelled_rows": 30,
            "confirmation": {"performance": ONE_OF_ONE},
            "cooldown": "0d",
        }
    )  # performance_drop defaults to 0.25: above 1.25x the holdout's error
    base = _with_holdout(_signals(), 2.0)

    def with_mae(value: float) -> Signals:
        return replace(base, performance=Performance("mae", value, 85, "champion"))

    assert _decide(with_mae(2.4), policy).action == "none"
    breached = _decide(with_mae(2.6), policy)
    assert breached.action == "retrain"
    assert breached.performance_drop_limit == pytest.approx(2.5)
    drop = params_of(breached.reason_codes, "performance-drop")
    assert (drop["metric"], drop["higher_is_better"]) == ("mae", False)
    assert drop["value"] == pytest.approx(2.6)
    assert drop["drop_limit"] == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("drop", "holdout_score"),
    [(None, 0.95), (0.25, None), (0.25, 0.0)],
    ids=["off", "no holdout score on record", "a holdout score of 0"],
)
def test_no_drop_is_judged_without_a_setting_or_a_usable_holdout_score(
    drop: float | None, holdout_score: float | None
) -> None:
    decision = _decide(
        _with_holdout(_signals(performance=0.70), holdout_score), _policy(performance_drop=drop)
    )

    assert decision.action == "none"
    assert decision.performance_drop_limit is None
    assert "drop_limit" not in params_of(decision.reason_codes, "performance-ok")


def test_performance_drop_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="performance_drop"):
        _policy(performance_drop=0)
