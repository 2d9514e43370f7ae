"""The stores of a flow run: each opened on first use, once, or taken as given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tasks.config import Config
from tasks.stores.history import HISTORY_FILE, MonitorHistory
from tasks.stores.registry import LocalRegistry
from tasks.stores.resources import Stores, open_stores
from tests.helpers import repo_config


def _config(tmp_path: Path, name: str = "seattle-weather") -> Config:
    return repo_config({"name": name, "registry.path": str(tmp_path / "registry")})


def test_each_store_opens_on_first_use_and_only_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    opened: list[str] = []
    original = LocalRegistry.__init__

    def counting(self: LocalRegistry, *args: Any) -> None:
        opened.append(str(args[1]))
        original(self, *args)

    monkeypatch.setattr(LocalRegistry, "__init__", counting)
    stores = open_stores(config)

    assert opened == []
    assert stores.registry is stores.registry
    assert opened == ["seattle-weather"]
    # A run that needs only the registry (a rollback) never creates the history's database.
    assert not (tmp_path / "registry" / HISTORY_FILE).exists()
    assert stores.history is stores.history
    assert (tmp_path / "registry" / HISTORY_FILE).is_file()
    assert stores.source is stores.source
    assert stores.source.describe() == open_stores(config).source.describe()
    assert repr(stores) == "Stores('seattle-weather', opened: registry, history, source)"


def test_stores_given_are_used_as_they_are(tmp_path: Path) -> None:
    config = _config(tmp_path)
    registry = LocalRegistry(tmp_path / "elsewhere", config.name)
    history = MonitorHistory(tmp_path / "elsewhere" / "history.sqlite")

    stores = Stores(config, registry=registry, history=history)

    assert stores.registry is registry
    assert stores.history is history
    assert not (tmp_path / "registry").exists()


@pytest.mark.parametrize(
    ("changes", "serves"),
    [
        ({}, True),
        ({"policy.cooldown": "30d"}, True),  # the policy is not a store's business
        ({"name": "other-model"}, False),
        ({"registry.path": "elsewhere"}, False),
        ({"data.source.path": "elsewhere"}, False),
        ({"history": {"url": "postgresql+psycopg://loop@db.internal/history"}}, False),
    ],
    ids=["same", "other-policy", "other-model", "other-registry", "other-log", "other-history"],
)
def test_stores_serve_only_the_config_of_their_model_registry_and_log(
    tmp_path: Path, changes: dict[str, Any], serves: bool
) -> None:
    config = _config(tmp_path)
    changed = {"registry.path": str(tmp_path / "registry"), **changes}

    assert open_stores(config).serves(repo_config(changed)) is serves
