"""Gathering a card's records from the stores: the request's monitoring record (events mode),
the comparison the alias history names, and a card that cannot be written never failing."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from tasks.core.card import RunContext
from tasks.errors import RegistryError
from tasks.render.card import render_card_markdown
from tasks.steps.cards import gather_card_sources, write_model_card
from tasks.stores.history import RunRecord, open_history
from tasks.stores.registry import LocalRegistry
from tasks.stores.resources import Stores
from tests.core.test_card import _comparison
from tests.helpers import make_decision, make_lineage, repo_config

REQUEST = "0b7e1c1e-1111-4222-8333-444455556666"


def _registry(tmp_path: Path) -> tuple[LocalRegistry, str]:
    registry = LocalRegistry(tmp_path / "registry", "seattle-weather")
    reference = pd.DataFrame(
        {"wind": [1.0, 2.0, 3.0, 4.0], "weather": ["sun", "rain", "sun", "sun"]}
    )
    model = DecisionTreeClassifier(random_state=0).fit(reference[["wind"]], reference["weather"])
    champion = registry.register(model, reference, make_lineage(features=["wind"])).version
    registry.set_alias("champion", champion, reason="first", action="promote")
    version = registry.register(model, reference, make_lineage(features=["wind"])).version
    comparison = _comparison()
    registry.save_comparison(comparison.comparison_id, comparison.to_dict())
    registry.set_alias(
        "champion", version, reason=f"comparison {comparison.comparison_id}", action="promote"
    )
    return registry, version


def test_an_events_mode_card_reads_the_requesting_monitor_record(tmp_path: Path) -> None:
    registry, version = _registry(tmp_path)
    history = open_history(tmp_path / "registry")
    history.record(
        "seattle-weather",
        RunRecord(
            as_of=datetime(2014, 4, 1),
            champion="v0001",
            decision=make_decision(confirmed=("performance", "drift")),
            status="retrain-requested",
            retrained=True,
            promoted=False,
            details={"confirmed": ["performance", "drift"]},
            request_id=REQUEST,
        ),
    )
    run = RunContext(reason="monitor: performance", request_id=REQUEST)

    sources = gather_card_sources(
        repo_config(), registry, history, version, "promotion", run, comparison_id=None
    )

    assert sources.request_record is not None
    assert sources.request_record["confirmed"] == ["performance", "drift"]
    assert sources.request_record["decision"] == "retrain"
    assert sources.request_record["as_of"].startswith("2014-04-01")
    # No comparison id given: the one the alias history entry of its promotion names.
    assert sources.comparison is not None
    assert sources.comparison.comparison_id == "20240101t000000-v0002-vs-v0001"
    assert sources.label_counts == {"rain": 1, "sun": 3}
    assert sources.rollback_target == "v0001"


def test_a_request_without_a_monitoring_record_says_so(tmp_path: Path) -> None:
    registry, version = _registry(tmp_path)
    stores = Stores(_config(tmp_path), registry=registry, history=open_history(tmp_path))

    stored = write_model_card(
        _config(tmp_path),
        stores,
        version,
        "promotion",
        RunContext(reason="r", request_id=REQUEST),
        render_card_markdown,
    )

    assert stored is not None
    trigger = stored.record["sections"][4]
    assert trigger["key"] == "trigger"
    assert trigger["fields"]["monitor_decision"] == (
        f"no monitoring history record of request {REQUEST} was found"
    )
    assert trigger["fields"]["event_chain"][0] == "autoretrain.retrain.requested"


class _BrokenRegistry(LocalRegistry):
    def save_card(self, version: str, markdown: str, record: dict[str, Any]) -> Any:
        raise RegistryError("the store went away")


def test_a_card_that_cannot_be_written_is_logged_and_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _registry(tmp_path)
    broken = _BrokenRegistry(tmp_path / "registry", "seattle-weather")
    stores = Stores(_config(tmp_path), registry=broken, history=open_history(tmp_path))
    before = broken.history()

    with caplog.at_level(logging.ERROR):
        stored = write_model_card(
            _config(tmp_path),
            stores,
            "v0002",
            "promotion",
            RunContext(reason="r"),
            render_card_markdown,
        )

    assert stored is None
    assert "the model card of v0002 was not written: the store went away" in caplog.text
    assert broken.get_alias("champion") == "v0002"
    assert broken.history() == before


def _config(tmp_path: Path) -> Any:
    return repo_config({"registry": {"path": str(tmp_path / "registry")}})
