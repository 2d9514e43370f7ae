"""The model card: each section copies its record's numbers, and says so when a record is missing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tasks.core.card import (
    NOT_STATED,
    CardSources,
    ModelCard,
    RunContext,
    build_model_card,
    promoting_comparison_id,
)
from tasks.core.gate import (
    Approval,
    Comparison,
    GateRules,
    GuardRules,
    ModelOutputs,
    compare_models,
)
from tasks.errors import ConfigError
from tasks.render.card import render_card_markdown
from tests.helpers import repo_config

HOLDOUT = {"start": "2014-01-01T00:00:00", "end": "2014-04-01T00:00:00"}
TRAINED = {"start": "2013-07-05T00:00:00", "end": "2014-01-01T00:00:00"}


def _comparison(champion: bool = True, rows: int = 60) -> Comparison:
    truth = ["rain" if i % 2 else "sun" for i in range(rows)]
    challenger = [label for label in truth]
    weaker = [("sun" if i % 3 == 0 else label) for i, label in enumerate(truth)]

    def outputs(version: str, predictions: list[str]) -> ModelOutputs:
        return ModelOutputs(
            version=version,
            training_window=TRAINED,
            trained_on_holdout=False,
            predictions=predictions,
            true_class_probability=[0.8] * rows,
            latency_ms_per_1k_rows=10.0,
            model_size_bytes=1000,
        )

    return compare_models(
        comparison_id="20240101t000000-v0002-vs-v0001",
        model_name="seattle-weather",
        holdout_window=HOLDOUT,
        y_true=truth,
        rules=GateRules(
            metric="f1 (macro)",
            performance_threshold=0.45,
            min_improvement=0.02,
            min_holdout_rows=30,
            resamples=500,
            guards=GuardRules(recall=0.05, log_loss=0.25),
        ),
        champion=outputs("v0001", weaker) if champion else None,
        challenger=outputs("v0002", challenger),
    )


def _version(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "version": "v0002",
        "model_name": "seattle-weather",
        "created_at": "2026-12-01T00:00:00+00:00",
        "status": "champion",
        "estimator": "sklearn.ensemble.RandomForestClassifier",
        "params": {"n_estimators": 100},
        "training_window": TRAINED,
        "training_rows": 173,
        "data_fingerprint": "9c44def8b648be1f",
        "metrics": {},
        "code_version": "abc123",
        "source": "trained",
        "reason": "monitor: severe performance breach",
        "features": ["precipitation", "temp_max"],
        "training_choice": {
            "chosen": "configured-span",
            "reason": "too few rows since the change",
            "change": {
                "start": "2014-01-01T00:00:00",
                "streak_runs": 3,
                "first_breached": "2014-02-01T00:00:00",
                "basis": "x",
            },
        },
        "model_sha256": "ab" * 32,
        "reference_sha256": "cd" * 32,
        "git_sha": "",
        "lock_sha256": "ef" * 32,
    }
    return {**values, **changes}


def _entry(**changes: Any) -> dict[str, Any]:
    values = {
        "at": "2026-12-01T00:00:05+00:00",
        "action": "promote",
        "alias": "champion",
        "from_version": "v0001",
        "to_version": "v0002",
        "reason": "comparison 20240101t000000-v0002-vs-v0001",
        "actor": "ci",
    }
    return {**values, **changes}


def _sources(**changes: Any) -> CardSources:
    values: dict[str, Any] = {
        "config": repo_config(),
        "event": "promotion",
        "written_at": "2026-12-01 00:00:06 UTC",
        "version": _version(),
        "alias_entry": _entry(),
        "run": RunContext(reason="monitor: severe", flow_run_id="run-1", config_path="c.yaml"),
        "comparison": _comparison(),
        "label_counts": {"rain": 50, "sun": 123},
        "calibration": {
            "metric": "f1 (macro)",
            "holdout_score": 0.81,
            "holdout_rows": 89,
            "classes": ["rain", "sun"],
        },
        "rollback_target": "v0001",
        "registry_ids": {"registry": "local"},
    }
    return CardSources(**{**values, **changes})


def test_evaluation_copies_the_comparison_number_for_number() -> None:
    comparison = _comparison()
    card = build_model_card(_sources(comparison=comparison))

    evaluation = card.section("evaluation")
    assert evaluation.missing == ""
    assert evaluation.fields["holdout_rows"] == comparison.holdout_rows == 60
    assert comparison.champion is not None and comparison.interval is not None
    assert evaluation.fields["champion_score"] == comparison.champion.score
    assert evaluation.fields["challenger_score"] == comparison.challenger.score
    assert evaluation.fields["difference"] == comparison.difference
    assert evaluation.fields["interval"]["lower"] == comparison.interval.lower
    assert evaluation.fields["interval"]["upper"] == comparison.interval.upper
    assert evaluation.fields["verdict"] == comparison.verdict == "promote"
    assert [g["guard"] for g in evaluation.fields["guards"]] == [g.name for g in comparison.guards]
    assert evaluation.fields["slices"] == "none configured"
    assert evaluation.fields["calibration_of_label_free_estimate"]["holdout_score"] == 0.81
    assert card.summary == (
        "v0002 replaced v0001 as champion (comparison 20240101t000000-v0002-vs-v0001)."
    )


def test_training_data_and_lineage_copy_the_version_record() -> None:
    card = build_model_card(_sources())

    training = card.section("training_data")
    assert training.fields["rows"] == 173
    assert training.fields["window"] == "[2013-07-05T00:00:00, 2014-01-01T00:00:00)"
    assert training.fields["label_distribution"] == {"rain": 50, "sun": 123}
    assert training.fields["training_frame_fingerprint"] == "9c44def8b648be1f"
    assert training.fields["training_window_choice"] == "configured-span"
    assert training.fields["why"] == "too few rows since the change"
    lineage = card.section("lineage")
    assert lineage.fields["model_sha256"] == "ab" * 32
    assert lineage.fields["git_sha"] == "not recorded"  # "" in the record: never a made-up value
    assert lineage.fields["uv_lock_sha256"] == "ef" * 32
    trigger = card.section("trigger")
    assert trigger.fields["breach_streak_runs"] == 3
    assert trigger.fields["retrain_reason"] == "monitor: severe performance breach"


def test_intended_use_is_not_stated_unless_the_config_says() -> None:
    plain = build_model_card(_sources()).section("intended_use")
    assert set(plain.fields.values()) == {NOT_STATED}

    config = repo_config({"card": {"owner": "forecasting team", "limitations": "Seattle only"}})
    stated = build_model_card(_sources(config=config)).section("intended_use")

    assert stated.fields["owner"] == "forecasting team"
    assert stated.fields["limitations"] == "Seattle only"
    assert stated.fields["contact"] == NOT_STATED


def test_missing_sources_say_so_instead_of_showing_numbers() -> None:
    card = build_model_card(
        _sources(
            comparison=None,
            alias_entry=None,
            label_counts=None,
            calibration=None,
            rollback_target=None,
            rollback_refusal="v0002 is the first champion: there is no earlier one to roll back to",
        )
    )

    evaluation = card.section("evaluation")
    assert evaluation.missing == "no comparison recorded"
    assert "challenger_score" not in evaluation.fields
    assert str(evaluation.fields["calibration_of_label_free_estimate"]).startswith("none recorded")
    assert card.section("approval").missing == "no alias history entry of this change was found"
    assert card.section("undo").missing.startswith("v0002 is the first champion")
    assert card.section("training_data").fields["label_distribution"].startswith("not recorded")
    markdown = render_card_markdown(card)
    assert "**Not available:** no comparison recorded." in markdown
    assert "**Not available:** v0002 is the first champion" in markdown


def test_bootstrap_card_names_no_champion_and_the_automatic_approval() -> None:
    comparison = _comparison(champion=False)
    card = build_model_card(
        _sources(
            event="bootstrap",
            comparison=comparison,
            alias_entry=_entry(from_version=None),
            rollback_target=None,
        )
    )

    assert card.summary.startswith("v0002 became the first champion of seattle-weather")
    evaluation = card.section("evaluation")
    assert evaluation.fields["champion"].startswith("none (bootstrap")
    assert evaluation.fields["champion_score"] is None
    assert card.section("approval").fields["approval"].startswith("automatic: the gate's verdict")
    assert "monitor_decision" not in card.section("trigger").fields


def test_an_approval_names_the_reviewer_and_the_note() -> None:
    approved = replace(
        _comparison(),
        approval=Approval(True, "alice", "checked the slices", "2026-12-01T00:00:04+00:00"),
    )

    approval = build_model_card(_sources(comparison=approved)).section("approval")

    assert approval.fields["reviewer"] == "alice"
    assert approval.fields["note"] == "checked the slices"
    assert approval.fields["decided_at"] == "2026-12-01T00:00:04+00:00"


def test_rollback_card_says_it_was_restored_and_why() -> None:
    entry = _entry(
        action="rollback",
        from_version="v0003",
        to_version="v0002",
        reason="bad forecasts",
        actor="on-call",
    )
    card = build_model_card(
        _sources(
            event="rollback", alias_entry=entry, promotion_entry=_entry(), rollback_target="v0001"
        )
    )

    assert card.summary == (
        "v0002 was restored as champion by a rollback from v0003: bad forecasts."
    )
    trigger = card.section("trigger")
    assert trigger.title == "Why it is champion"
    assert (trigger.fields["rolled_back_from"], trigger.fields["reason"]) == (
        "v0003",
        "bad forecasts",
    )
    assert trigger.fields["by"] == "on-call"
    assert trigger.fields["first_promoted_at"] == "2026-12-01T00:00:05+00:00"
    # The evidence it was first promoted on is still the comparison's.
    assert card.section("evaluation").fields["comparison"] == "20240101t000000-v0002-vs-v0001"
    assert "Written at the rollback of v0002" in render_card_markdown(card)


def test_the_undo_command_names_the_target_and_the_config() -> None:
    undo = build_model_card(_sources()).section("undo")

    assert undo.fields["rollback_target"] == "v0001"
    assert undo.fields["command"] == (
        'autoretrain rollback --config c.yaml --to v0001 --reason "WHY" --actor "WHO"'
    )


def test_the_card_round_trips_through_its_json_record() -> None:
    card = build_model_card(_sources())

    assert ModelCard.from_dict(card.to_dict()) == card


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("comparison 20240101t000000-v0002-vs-v0001", "20240101t000000-v0002-vs-v0001"),
        (
            "comparison 20240101t000000-v0002-vs-none; approved by alice: ok",
            "20240101t000000-v0002-vs-none",
        ),
        ("bad forecasts", None),
        ("gate passed comparison 2024-x, but no approval", None),
    ],
)
def test_the_promoting_comparison_is_read_from_the_promotion_reason(
    reason: str, expected: str | None
) -> None:
    assert promoting_comparison_id(reason) == expected


def test_a_misspelt_card_key_fails_naming_its_path() -> None:
    with pytest.raises(ConfigError, match=r"card\.ownr: unknown key"):
        repo_config({"card": {"ownr": "forecasting team"}})


def test_the_trigger_says_whether_a_monitor_run_started_the_promotion() -> None:
    inline = RunContext(reason="monitor: x", flow_run_id="run-2", parent_flow_run_id="run-1")
    by_hand = RunContext(reason="requested from the command line", flow_run_id="run-3")

    started = build_model_card(_sources(run=inline)).section("trigger").fields
    alone = build_model_card(_sources(run=by_hand)).section("trigger").fields

    assert started["request_id"] == "none (inline: the monitor ran retrain and promote)"
    assert started["started_by_flow_run"] == "run-1"
    assert started["monitor_decision"].startswith("recorded by the monitor run after")
    assert alone["request_id"] == "none (started on its own: by hand or by a schedule)"
    assert alone["started_by_flow_run"] == "none (started on its own)"
    assert alone["monitor_decision"] == "none: no monitor run asked for this retrain"
