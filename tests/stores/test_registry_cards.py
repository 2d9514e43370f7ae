"""A version's model card in the registry: stored with the version on both backends, replaced by
a later card, and a version without one said so.

Every test that takes `backend` runs on the local registry and on a real MLflow server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from tasks.errors import RegistryError
from tasks.stores.registry import LocalRegistry, ModelRegistry
from tests.helpers import make_lineage
from tests.registry_backends import Backend

RECORD: dict[str, Any] = {"version": "v0001", "event": "bootstrap", "sections": [{"key": "x"}]}


def _register(registry: ModelRegistry) -> str:
    reference = pd.DataFrame({"wind": [1.0, 2.0, 3.0, 4.0], "weather": ["sun", "rain"] * 2})
    model = DecisionTreeClassifier(random_state=0).fit(reference[["wind"]], reference["weather"])
    lineage = make_lineage(features=["wind"], training_rows=len(reference))
    return registry.register(model, reference, lineage).version


def test_a_card_is_stored_with_its_version_and_a_later_one_replaces_it(backend: Backend) -> None:
    registry = backend.open()
    version = _register(registry)

    stored = registry.save_card(version, "# Model card: v0001\n\nfirst\n", RECORD)
    loaded = registry.load_card(version)

    assert (loaded.markdown, loaded.record) == ("# Model card: v0001\n\nfirst\n", RECORD)
    assert loaded.location == stored.location
    assert stored.location.endswith("card.md")

    # A rollback writes a new card of the same version: it replaces the first.
    registry.save_card(
        version, "# Model card: v0001\n\nrestored\n", {**RECORD, "event": "rollback"}
    )

    again = registry.load_card(version)
    assert again.markdown.endswith("restored\n")
    assert again.record["event"] == "rollback"
    assert registry.verify().ok


def test_a_version_without_a_card_says_when_cards_are_written(backend: Backend) -> None:
    registry = backend.open()
    version = _register(registry)

    with pytest.raises(RegistryError, match=f"{version} has no model card") as raised:
        registry.load_card(version)
    assert "written when a version becomes champion" in str(raised.value)
    with pytest.raises(RegistryError, match="no model version v0009"):
        registry.load_card("v0009")
    with pytest.raises(RegistryError, match="no model version v0009"):
        registry.save_card("v0009", "# card\n", RECORD)


def test_version_ids_say_where_the_version_is_kept(backend: Backend) -> None:
    registry = backend.open()
    version = _register(registry)

    ids = registry.version_ids(version)

    assert ids["registry"] == backend.kind
    if backend.kind == "mlflow":
        assert ids["mlflow_model_version"] == "1"
        assert ids["model_uri"] == f"models:/{backend.model_name}/1"
        assert len(ids["mlflow_run_id"]) == 32
    else:
        assert ids["version_directory"].endswith(f"versions/{version}")


def test_the_local_card_sits_next_to_the_version_and_no_temporary_file_stays(
    tmp_path: Path,
) -> None:
    registry = LocalRegistry(tmp_path, "seattle-weather")
    version = _register(registry)

    registry.save_card(version, "# Model card\n", RECORD)

    directory = registry.root / "versions" / version
    assert (directory / "card.md").read_text() == "# Model card\n"
    assert json.loads((directory / "card.json").read_text()) == RECORD
    assert sorted(p.name for p in directory.iterdir() if p.name.startswith(".")) == []


def test_an_unreadable_local_card_record_is_reported(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path, "seattle-weather")
    version = _register(registry)
    registry.save_card(version, "# Model card\n", RECORD)
    (registry.root / "versions" / version / "card.json").write_text("{not json")

    with pytest.raises(RegistryError, match=r"model card .*card\.json is unreadable"):
        registry.load_card(version)


@pytest.mark.mlflow
@pytest.mark.slow
def test_in_mlflow_the_card_is_the_model_versions_description_and_an_artifact(
    mlflow_server: Any, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    from tasks.stores.registry.mlflow_server import DESCRIPTION_CHARACTERS
    from tests.registry_backends import MlflowBackend, fresh_model_name

    backend = MlflowBackend(mlflow_server, tmp_path / "registry", fresh_model_name())
    registry = backend.open()
    version = _register(registry)
    client = MlflowClient(tracking_uri=mlflow_server.uri, registry_uri=mlflow_server.uri)

    stored = registry.save_card(version, "# Model card: v0001\n", RECORD)

    found = client.get_model_version(backend.model_name, "1")
    assert found.description == "# Model card: v0001\n"
    assert stored.location == f"runs:/{found.run_id}/card/card.md"
    assert (backend.run_directory(version) / "card" / "card.md").read_text() == (
        "# Model card: v0001\n"
    )
    assert json.loads((backend.run_directory(version) / "card" / "card.json").read_text()) == RECORD

    # A card longer than MLflow keeps of a description is cut there, pointing at the artifact.
    long = "# Model card\n" + "x" * (DESCRIPTION_CHARACTERS * 2)
    registry.save_card(version, long, RECORD)

    description = client.get_model_version(backend.model_name, "1").description
    assert description is not None
    assert len(description) <= DESCRIPTION_CHARACTERS
    assert description.rstrip().endswith(f"(cut: the whole card is the artifact {stored.location})")
    assert registry.load_card(version).markdown == long
