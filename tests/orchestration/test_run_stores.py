"""A flow run's stores: its own, or those its inline parent lends for the same model."""

from __future__ import annotations

from pathlib import Path

from tasks.orchestration.stores import run_stores, sharing_stores
from tasks.stores.resources import open_stores
from tests.helpers import repo_config


def test_a_subflow_takes_the_stores_its_parent_lends_for_the_same_model(tmp_path: Path) -> None:
    config = repo_config({"registry.path": str(tmp_path / "registry")})
    other = repo_config({"name": "other-model", "registry.path": str(tmp_path / "registry")})
    parent = open_stores(config)

    alone = run_stores(config)
    with sharing_stores(parent):
        lent = run_stores(config)
        with sharing_stores(run_stores(other)):
            nested = run_stores(config)
        after_nested = run_stores(config)
        others = run_stores(other)
    after = run_stores(config)

    assert alone is not parent
    assert lent is parent
    assert nested is not parent  # the innermost lender serves another model
    assert after_nested is parent
    assert others is not parent
    assert after is not parent  # lent only for the block
