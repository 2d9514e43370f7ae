"""The watch after a promotion: the previous champion judged beside the promoted one, on tiny
frames, by the gate's own comparison (the previous champion in the challenger's seat)."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.core.gate import Comparison, GateRules, ModelOutputs, compare_models
from tasks.core.reasons import codes
from tasks.core.watch import WatchState, decide_watch
from tests.core.test_gate import _rules as gate_rules
from tests.core.test_gate import _truth
from tests.reasons import params_of

ROWS = {"start": "2014-04-01T00:00:00", "end": "2014-05-01T00:00:00"}
TRAINED = {"start": "2013-01-01T00:00:00", "end": "2013-10-01T00:00:00"}


def _rules(**changes: Any) -> GateRules:
    return gate_rules(**{"resamples": 500, **changes})


def _predict(truth: list[str], right: int) -> list[str]:
    """Right on the first `right` rows, wrong on the others."""
    other = {"rain": "sun", "sun": "rain"}
    return [label if i < right else other[label] for i, label in enumerate(truth)]


def _outputs(version: str, predictions: list[str] | None) -> ModelOutputs:
    return ModelOutputs(
        version=version,
        training_window=TRAINED,
        trained_on_holdout=False,
        predictions=predictions,
        problem=None if predictions is not None else f"{version}: could not be loaded",
    )


def _comparison(
    rows: int, champion_right: int, previous_right: int | None, **rules: Any
) -> Comparison:
    """The watch's comparison: champion v0002 (promoted) against previous v0001, on `rows`."""
    truth = _truth(rows)
    previous = _predict(truth, previous_right) if previous_right is not None else None
    return compare_models(
        comparison_id="watch-v0001-vs-v0002",
        model_name="weather",
        holdout_window=ROWS,
        y_true=truth,
        rules=_rules(**rules),
        champion=_outputs("v0002", _predict(truth, champion_right)),
        challenger=_outputs("v0001", previous),
    )


def _state(runs_watched: int = 0, windows: int = 3, previous: str | None = "v0001") -> WatchState:
    return WatchState(
        champion="v0002", previous=previous, runs_watched=runs_watched, windows=windows
    )


def test_a_previous_champion_better_beyond_min_improvement_rolls_back() -> None:
    decision = decide_watch(_state(runs_watched=1), _comparison(200, 120, 190))

    assert decision is not None
    assert decision.action == "rollback"
    assert decision.rollback
    assert codes(decision.reason_codes) == ["watch-rollback"]
    numbers = params_of(decision.reason_codes, "watch-rollback")
    assert numbers["window"] == 2 and numbers["windows"] == 3
    assert numbers["previous"] == "v0001" and numbers["champion"] == "v0002"
    assert numbers["champion_score"] == pytest.approx(0.60)
    assert numbers["previous_score"] == pytest.approx(0.95)
    assert numbers["difference"] == pytest.approx(0.35)
    assert numbers["lower"] >= 0.02
    assert (numbers["rows_start"], numbers["rows_end"]) == (ROWS["start"], ROWS["end"])
    assert decision.rows == 200 and decision.rows_window == ROWS
    assert decision.comparison_id == "watch-v0001-vs-v0002"
    assert decision.advantage == pytest.approx(0.35)
    assert "comparison watch-v0001-vs-v0002" in decision.reason


def test_a_previous_champion_not_better_by_min_improvement_leaves_the_champion() -> None:
    # Better in the point estimate by 0.01, but the interval does not clear 0.02.
    decision = decide_watch(_state(), _comparison(200, 150, 152))

    assert decision is not None
    assert decision.action == "hold"
    assert not decision.rollback and not decision.found_better
    numbers = params_of(decision.reason_codes, "watch-champion-holds")
    assert numbers["difference"] == pytest.approx(0.01)
    assert numbers["lower"] < 0.02
    assert numbers["required"] == pytest.approx(0.02)


def test_a_worse_previous_champion_leaves_the_champion() -> None:
    decision = decide_watch(_state(), _comparison(200, 190, 120))

    assert decision is not None and decision.action == "hold"
    assert params_of(decision.reason_codes, "watch-champion-holds")["difference"] < 0


def test_too_few_labelled_rows_after_the_holdout_wait_for_more() -> None:
    # The previous champion is far better on these rows, but 20 rows are no evidence.
    decision = decide_watch(_state(), _comparison(20, 5, 20))

    assert decision is not None
    assert decision.action == "wait"
    assert params_of(decision.reason_codes, "watch-insufficient-data") == {
        "champion": "v0002",
        "previous": "v0001",
        "window": 1,
        "windows": 3,
        "rows": 20,
        "min_holdout_rows": 30,
    }


def test_a_previous_champion_that_cannot_be_scored_is_no_rollback() -> None:
    decision = decide_watch(_state(), _comparison(200, 120, None))

    assert decision is not None
    assert decision.action == "not-judged"
    assert "could not be loaded" in params_of(decision.reason_codes, "watch-not-judged")["problem"]


def test_the_watch_expires_after_its_windows_and_is_noted_once() -> None:
    expired = decide_watch(_state(runs_watched=3), None)
    later = decide_watch(_state(runs_watched=4), None)

    assert expired is not None and expired.action == "expired"
    assert params_of(expired.reason_codes, "watch-expired")["windows"] == 3
    assert later is None


def test_approval_required_asks_instead_of_rolling_back() -> None:
    decision = decide_watch(_state(), _comparison(200, 120, 190), approval_required=True)

    assert decision is not None
    assert decision.action == "ask-approval"
    assert not decision.rollback and decision.found_better
    assert codes(decision.reason_codes) == ["watch-approval-required"]


@pytest.mark.parametrize(
    "state",
    [_state(windows=0), _state(previous=None)],
    ids=["watch-off", "champion-not-promoted-over-another"],
)
def test_nothing_is_watched_without_a_promotion_or_with_the_watch_off(state: WatchState) -> None:
    assert decide_watch(state, None) is None


def test_a_watched_run_without_its_comparison_is_an_error() -> None:
    with pytest.raises(ValueError, match="needs the comparison"):
        decide_watch(_state(), None)


def test_a_window_whose_data_quality_blocks_is_not_judged_and_counts_as_watched() -> None:
    summary = "data quality failed in wind: wind type text (reference numeric)"

    decision = decide_watch(_state(runs_watched=1), None, data_issue=summary)

    assert decision is not None
    assert decision.action == "not-judged"
    assert not decision.rollback and not decision.found_better
    assert decision.comparison_id is None and decision.rows == 0
    numbers = params_of(decision.reason_codes, "watch-not-judged")
    assert (numbers["window"], numbers["windows"]) == (2, 3)
    assert numbers["problem"] == f"the window failed its data-quality checks ({summary})"
    assert decision.reasons == (
        f"watch of v0002 (promoted over v0001), run 2 of 3: not judged, {numbers['problem']}",
    )


def test_a_data_issue_after_the_watch_changes_nothing() -> None:
    # Past its windows, the watch notes its end once, whatever the window's data.
    expired = decide_watch(_state(runs_watched=3), None, data_issue="data quality failed")
    assert expired is not None and expired.action == "expired"
    assert decide_watch(_state(runs_watched=4), None, data_issue="data quality failed") is None


def test_the_decision_for_an_error_metric_reads_lower_as_better() -> None:
    truth = [float(i % 7) for i in range(60)]
    champion = [value + 2.0 for value in truth]  # mae 2
    previous = [value + 0.5 for value in truth]  # mae 0.5
    rules = _rules(
        metric="mae",
        metric_name="mae",
        performance_threshold=5.0,
        min_improvement=0.1,
        higher_is_better=False,
    )
    comparison = compare_models(
        comparison_id="watch-mae",
        model_name="load",
        holdout_window=ROWS,
        y_true=truth,
        rules=rules,
        champion=_outputs("v0002", champion),  # type: ignore[arg-type]
        challenger=_outputs("v0001", previous),  # type: ignore[arg-type]
    )

    decision = decide_watch(_state(), comparison)

    assert decision is not None and decision.action == "rollback"
    assert decision.advantage == pytest.approx(1.5)


def test_the_gate_never_promotes_a_version_rolled_back_after_its_promotion() -> None:
    truth = _truth(200)
    comparison = compare_models(
        comparison_id="again",
        model_name="weather",
        holdout_window=ROWS,
        y_true=truth,
        rules=_rules(),
        champion=_outputs("v0001", _predict(truth, 120)),
        challenger=ModelOutputs(
            version="v0002",
            training_window=TRAINED,
            trained_on_holdout=False,
            predictions=_predict(truth, 190),
            rolled_back=True,
        ),
    )

    assert comparison.verdict == "reject"
    assert params_of(comparison.reason_codes, "challenger-rolled-back") == {"version": "v0002"}
    # Everything else would have promoted it.
    assert "improvement-shown" in codes(comparison.reason_codes)
