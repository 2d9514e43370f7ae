"""The demo's model cards end to end: the bootstrap's and the promotion's, checked number for
number against the records they come from, then a rollback's; the docs' sample card is this
run's card (docs/snippets/model-card.md, rewritten with AUTORETRAIN_WRITE_SNIPPETS=1)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.monitor import monitor_flow
from flows.rollback import rollback_flow
from tasks.cli.registry import main as registry_main
from tasks.config import load_config
from tasks.core.card import ModelCard
from tasks.steps.commands import installed_command, shell_path
from tasks.stores.registry import StoredCard, open_registry
from tests.helpers import (
    DEMO_DATA,
    LATENCY_GUARD_ASIDE,
    REPO_ROOT,
    merge,
    read_artifact,
    repo_raw_config,
)
from tests.outputs import SNIPPETS, output_differences

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

SNIPPET = SNIPPETS / "model-card.md"
# What differs from run to run by design: run ids, times, who ran it, digests and commits.
_CARD_VOLATILE = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"), "<time>"),
    (re.compile(r"\b[0-9a-f]{12,}(\+dirty)?\b"), "<sha>"),
    (re.compile(r"(\*\*by\*\*: ).*"), r"\1<actor>"),
]


def _masked_card(markdown: str) -> str:
    lines = []
    for line in markdown.splitlines():
        if "latency" in line:  # a timing: its numbers differ on every run
            line = "<latency>"
        for pattern, replacement in _CARD_VOLATILE:
            line = pattern.sub(replacement, line)
        lines.append(line)
    return "\n".join(lines)


@dataclass(frozen=True)
class DemoCards:
    config_path: Path
    tmp: Path
    bootstrap: StoredCard
    promotion: StoredCard
    card_artifact: str
    summary_artifact: str
    rollback: StoredCard
    rollback_message: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoCards:
    """The demo's first monitor run (bootstrap v0001, promote v0002), then a rollback to v0001."""
    tmp = tmp_path_factory.mktemp("card")
    config = merge(
        merge(repo_raw_config(), LATENCY_GUARD_ASIDE),
        {
            "data": {"source": {"path": str(DEMO_DATA)}},
            "registry": {"path": str(tmp / "registry")},
            "reports": {"path": str(tmp / "reports")},
        },
    )
    config_path = tmp / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    result = monitor_flow(str(config_path))
    assert result.status == "promoted" and result.champion_after == "v0002"
    registry = open_registry(load_config(config_path).registry, "seattle-weather")
    bootstrap, promotion = registry.load_card("v0001"), registry.load_card("v0002")
    card_artifact = read_artifact("seattle-weather-model-card")
    summary_artifact = read_artifact("seattle-weather-monitor-summary")
    assert card_artifact is not None and summary_artifact is not None
    message = rollback_flow(str(config_path), reason="bad forecasts", actor="on-call")
    return DemoCards(
        config_path=config_path,
        tmp=tmp,
        bootstrap=bootstrap,
        promotion=promotion,
        card_artifact=str(card_artifact.data),
        summary_artifact=str(summary_artifact.data),
        rollback=registry.load_card("v0001"),
        rollback_message=message,
    )


def _fields(stored: StoredCard, key: str) -> dict[str, Any]:
    return ModelCard.from_dict(stored.record).section(key).fields


def test_the_promotion_card_copies_its_comparison_and_lineage(demo: DemoCards) -> None:
    registry = open_registry(load_config(demo.config_path).registry, "seattle-weather")
    card = ModelCard.from_dict(demo.promotion.record)
    assert (card.version, card.event) == ("v0002", "promotion")
    evaluation = card.section("evaluation").fields
    comparison = registry.load_comparison(evaluation["comparison"])
    lineage = registry.get_version("v0002")

    assert comparison["challenger"]["version"] == "v0002"
    assert comparison["champion"]["version"] == evaluation["champion"] == "v0001"
    assert evaluation["verdict"] == comparison["verdict"] == "promote"
    assert evaluation["holdout_rows"] == comparison["holdout_rows"] == 89
    assert evaluation["challenger_score"] == comparison["challenger"]["score"]
    assert evaluation["champion_score"] == comparison["champion"]["score"]
    assert evaluation["difference"] == comparison["difference"]
    for bound in ("lower", "upper", "confidence", "resamples", "seed"):
        assert evaluation["interval"][bound] == comparison["interval"][bound]
    assert evaluation["mcnemar_p_value"] == comparison["mcnemar"]["p_value"]
    assert evaluation["permutation_p_value"] == comparison["permutation"]["p_value"]
    assert evaluation["reasons"] == comparison["reasons"]
    assert [
        (g["guard"], g["challenger"], g["limit"], g["passed"]) for g in evaluation["guards"]
    ] == [(g["name"], g["challenger"], g["limit"], g["passed"]) for g in comparison["guards"]]
    assert evaluation["holdout_window"] == (
        f"[{comparison['holdout_window']['start']}, {comparison['holdout_window']['end']})"
    )
    calibration = registry.load_calibration("v0002")
    assert calibration is not None
    assert (
        evaluation["calibration_of_label_free_estimate"]["holdout_score"]
        == (calibration["holdout_score"])
    )
    assert (
        evaluation["calibration_of_label_free_estimate"]["holdout_rows"]
        == (calibration["holdout_rows"])
    )

    training = card.section("training_data").fields
    assert training["rows"] == lineage.training_rows == 173
    assert training["training_frame_fingerprint"] == lineage.data_fingerprint
    assert training["window"] == "[2013-07-05T00:00:00, 2014-01-01T00:00:00)"
    labels = registry.load_reference("v0002")["weather"].value_counts()
    assert training["label_distribution"] == {str(k): int(v) for k, v in labels.items()}
    assert sum(training["label_distribution"].values()) == lineage.training_rows
    assert training["training_window_choice"] == lineage.training_choice["chosen"]
    model = card.section("model").fields
    assert (model["estimator"], model["parameters"]) == (lineage.estimator, lineage.params)
    assert model["features"] == lineage.features
    lineage_fields = card.section("lineage").fields
    assert lineage_fields["model_sha256"] == lineage.model_sha256
    assert lineage_fields["reference_sha256"] == lineage.reference_sha256
    assert lineage_fields["code_version"] == lineage.code_version
    trigger = card.section("trigger").fields
    assert trigger["retrain_reason"] == lineage.reason
    assert trigger["retrain_reason"].startswith("monitor: severe performance breach")
    assert re.fullmatch(r"[0-9a-f-]{36}", trigger["promote_flow_run"])
    assert re.fullmatch(r"[0-9a-f-]{36}", trigger["started_by_flow_run"])  # the monitor's run
    promotion = next(
        e for e in registry.history() if e.action == "promote" and e.to_version == "v0002"
    )
    approval = card.section("approval").fields
    assert (approval["alias_changed_at"], approval["by"]) == (promotion.at, promotion.actor)
    assert approval["recorded_reason"] == promotion.reason
    assert approval["approval"].startswith("automatic: the gate's verdict")
    assert _fields(demo.promotion, "undo")["rollback_target"] == "v0001"
    assert _fields(demo.promotion, "monitoring")["performance_threshold"] == 0.45


def test_the_bootstrap_card_has_no_champion_to_beat_and_nothing_to_roll_back_to(
    demo: DemoCards,
) -> None:
    card = ModelCard.from_dict(demo.bootstrap.record)

    assert (card.version, card.event) == ("v0001", "bootstrap")
    assert card.summary.startswith("v0001 became the first champion of seattle-weather")
    evaluation = card.section("evaluation").fields
    assert evaluation["champion"].startswith("none (bootstrap")
    assert evaluation["comparison"].endswith("-v0001-vs-none")
    assert card.section("undo").missing == (
        "v0001 is the first champion: there is no earlier one to roll back to"
    )
    assert "**Not available:** v0001 is the first champion" in demo.bootstrap.markdown


def test_a_rollback_writes_the_restored_versions_card_with_why(demo: DemoCards) -> None:
    card = ModelCard.from_dict(demo.rollback.record)

    assert "v0002 -> v0001 (rollback by on-call: bad forecasts)" in demo.rollback_message
    assert (card.version, card.event) == ("v0001", "rollback")
    assert card.summary == (
        "v0001 was restored as champion by a rollback from v0002: bad forecasts."
    )
    trigger = card.section("trigger").fields
    assert (trigger["rolled_back_from"], trigger["reason"], trigger["by"]) == (
        "v0002",
        "bad forecasts",
        "on-call",
    )
    # The evidence it first became champion on: the bootstrap's comparison, still linked.
    bootstrap = ModelCard.from_dict(demo.bootstrap.record)
    assert card.section("evaluation").fields == bootstrap.section("evaluation").fields
    assert "Written at the rollback of v0001" in demo.rollback.markdown


def test_the_promote_run_publishes_the_card_and_the_summary_points_at_it(
    demo: DemoCards,
) -> None:
    assert demo.card_artifact.startswith("# Model card: seattle-weather v0002")
    assert f"*Stored at {demo.promotion.location}.*" in demo.card_artifact
    # printed to run as printed: the venv's command where PATH does not find it (issue 25)
    command = f"{installed_command('autoretrain')} registry card v0002"
    assert (
        f"Model card of the champion v0002: `{command} --config {shell_path(demo.config_path)}`"
        in demo.summary_artifact
    )


def test_the_registry_cli_prints_a_card(
    demo: DemoCards, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(demo.config_path)

    assert registry_main(["card", "--config", config]) == 0
    champion = capsys.readouterr().out
    assert registry_main(["card", "v0002", "--json", "--config", config]) == 0
    as_json = capsys.readouterr().out
    assert registry_main(["card", "v0009", "--config", config]) == 2
    missing = capsys.readouterr().err

    assert champion == demo.rollback.markdown  # the champion's: v0001, restored
    assert json.loads(as_json) == demo.promotion.record
    assert missing.startswith("error: no model version v0009")
    with pytest.raises(SystemExit):
        registry_main(["list", "v0002", "--config", config])
    assert "only card does" in capsys.readouterr().err


def test_the_docs_show_the_demo_promotions_card(demo: DemoCards) -> None:
    """docs/model-card.md includes docs/snippets/model-card.md: this run's card of v0002, the
    same text and numbers once ids, times, digests and paths are masked."""
    shown = demo.promotion.markdown.replace(f"{demo.tmp}/", "").replace(f"{REPO_ROOT}/", "")
    if os.environ.get("AUTORETRAIN_WRITE_SNIPPETS") == "1":
        SNIPPET.write_text(shown)
    assert output_differences(_masked_card(SNIPPET.read_text()), _masked_card(shown)) == []
