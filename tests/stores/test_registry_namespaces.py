"""Many models in one registry: a namespace each, no version of one used by another, and the
registry of the layout before namespaces moved into its model's namespace (or refused if mixed)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tasks.cli.registry import main as registry_main
from tasks.errors import RegistryError
from tasks.stores.registry import (
    LocalRegistry,
    list_models,
    model_directory,
)
from tests.stores.test_registry import _promote, _register

A = "weather-a"
B = "weather-b"


def snapshot(path: Path) -> dict[str, str]:
    """Every file under path by its SHA-256, but the locks."""
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _registry_of_a(path: Path) -> LocalRegistry:
    """weather-a with v0001 and v0002, v0002 champion (promoted over v0001), a comparison and a
    handled request."""
    registry = LocalRegistry(path, A)
    _register(registry)
    _register(registry, 0.1)
    _promote(registry, "v0001")
    _promote(registry, "v0002", reason="comparison c1")
    registry.mark("v0001", "retired")
    registry.mark("v0002", "champion")
    registry.save_comparison("c1", {"verdict": "promote"})
    assert registry.claim_request("event-1")
    return registry


def _to_root_layout(path: Path) -> None:
    """Rewrite a registry of one model into the layout before namespaces: all at the top."""
    (namespace,) = (path / "models").iterdir()
    for entry in namespace.iterdir():
        if entry.name == ".lock":
            entry.unlink()
        else:
            entry.rename(path / entry.name)
    namespace.rmdir()
    (path / "models").rmdir()


def _claim_version_for(path: Path, version: str, model_name: str) -> None:
    """Rewrite a version's metadata.json to name another model (as a copy by hand, or the bug,
    would leave it)."""
    metadata = path / "versions" / version / "metadata.json"
    metadata.write_text(json.dumps({**json.loads(metadata.read_text()), "model_name": model_name}))


def _mixed_root_layout(path: Path) -> None:
    """What two models sharing a registry.path left before namespaces: B's v0003 beside A's."""
    _registry_of_a(path)
    _to_root_layout(path)
    shutil.copytree(path / "versions" / "v0002", path / "versions" / "v0003")
    metadata = path / "versions" / "v0003" / "metadata.json"
    record = json.loads(metadata.read_text())
    metadata.write_text(json.dumps({**record, "version": "v0003", "model_name": B}))


# -- namespaces ------------------------------------------------------------------------------
def test_two_models_on_one_path_keep_their_own_versions_aliases_history_and_requests(
    tmp_path: Path,
) -> None:
    path = tmp_path / "registry"
    a = _registry_of_a(path)
    b = LocalRegistry(path, B)

    assert b.list_versions() == []
    assert b.get_alias("champion") is None  # so B bootstraps a first champion of its own
    assert b.history() == []
    assert b.claim_request("event-1")  # A handled its event-1, not B's
    first_of_b = _register(b)
    _promote(b, first_of_b.version)

    assert first_of_b.version == "v0001"  # each model numbers its own versions
    assert first_of_b.model_name == B
    assert [v.version for v in a.list_versions()] == ["v0001", "v0002"]
    assert {v.model_name for v in a.list_versions()} == {A}
    assert (a.get_alias("champion"), b.get_alias("champion")) == ("v0002", "v0001")
    assert [e.reason for e in b.history()] == ["better"]
    assert len(a.history()) == 2
    assert (a.get_version("v0001").status, b.get_version("v0001").status) == (
        "retired",
        "registered",
    )
    with pytest.raises(RegistryError, match="comparison c1 not found"):
        b.load_comparison("c1")
    assert list_models(path) == [A, B]
    assert a.root == path / "models" / A and b.root == path / "models" / B
    assert a.verify().ok and b.verify().ok


@pytest.mark.parametrize("name", ["../escape", "Weather", "", ".migrating-x", "a/b", "x" * 101])
def test_a_model_name_that_is_not_a_safe_directory_name_is_refused(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(RegistryError, match="is not a model name: use lower-case letters"):
        LocalRegistry(tmp_path / "registry", name)
    assert not (tmp_path / "registry").exists()


# -- never another model's version ------------------------------------------------------------
def _act(operation: str) -> Callable[[LocalRegistry], Any]:
    actions: dict[str, Callable[[LocalRegistry], Any]] = {
        "get_version": lambda r: r.get_version("v0003"),
        "load_model": lambda r: r.load_model("v0003"),
        "load_reference": lambda r: r.load_reference("v0003", sample_rows=3),
        "promote": lambda r: r.set_alias(
            "champion", "v0003", reason="x", action="promote", expected="v0002"
        ),
        "register-challenger": lambda r: r.set_alias(
            "challenger", "v0003", reason="x", action="register"
        ),
        "mark": lambda r: r.mark("v0003", "rejected"),
        "rollback-to": lambda r: r.rollback(to_version="v0003", reason="x"),
    }
    return actions[operation]


@pytest.mark.parametrize(
    "operation",
    [
        "get_version",
        "load_model",
        "load_reference",
        "promote",
        "register-challenger",
        "mark",
        "rollback-to",
    ],
)
def test_a_version_whose_metadata_names_another_model_is_refused_and_nothing_changes(
    tmp_path: Path, operation: str
) -> None:
    path = tmp_path / "registry"
    registry = _registry_of_a(path)
    _register(registry, 0.2)
    _claim_version_for(registry.root, "v0003", B)
    before = snapshot(path)

    with pytest.raises(RegistryError) as caught:
        _act(operation)(LocalRegistry(path, A))

    assert "version v0003" in str(caught.value)
    assert f"belongs to model '{B}', not to '{A}' (the config's name)" in str(caught.value)
    assert snapshot(path) == before


def test_rolling_back_from_a_champion_of_another_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "registry"
    registry = _registry_of_a(path)
    _claim_version_for(registry.root, "v0002", B)  # the champion
    before = snapshot(path)

    with pytest.raises(RegistryError, match=f"v0002 .* belongs to model '{B}', not to '{A}'"):
        LocalRegistry(path, A).rollback(reason="x")

    assert snapshot(path) == before


def test_rolling_back_from_a_champion_whose_metadata_is_unreadable_still_works(
    tmp_path: Path,
) -> None:
    # "metadata of v0002 is unreadable ... roll back to another version": that advice holds.
    path = tmp_path / "registry"
    registry = _registry_of_a(path)
    (registry.root / "versions" / "v0002" / "metadata.json").write_text("{")

    assert LocalRegistry(path, A).rollback(reason="damaged") == ("v0002", "v0001")

    assert registry.get_alias("champion") == "v0001"
    assert registry.get_version("v0001").status == "champion"


def test_verify_names_a_version_of_another_model(
    tmp_path: Path, write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "registry"
    registry = _registry_of_a(path)
    _claim_version_for(registry.root, "v0002", B)
    config = write_config({"name": A, "registry": {"path": str(path)}})

    check = LocalRegistry(path, A).verify()

    assert f"versions/v0002 belongs to model '{B}', not to '{A}' (the config's name)" in " ".join(
        check.problems
    )
    assert f"champion points at v0002, a version of '{B}'" in check.problems
    assert registry_main(["verify", "--config", str(config)]) == 2
    out = capsys.readouterr().out
    assert f"problem: versions/v0002 belongs to model '{B}'" in out
    assert out.splitlines()[-1] == f"model {A} in registry {path}: INCONSISTENT"


# -- the command line acts on the config's model ----------------------------------------------
def test_list_history_and_verify_show_the_configs_model_and_list_all_shows_every_model(
    tmp_path: Path, write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "registry"
    _registry_of_a(path)
    b = LocalRegistry(path, B)
    _promote(b, _register(b).version, reason="first of b")
    config_a = write_config({"name": A, "registry": {"path": str(path)}}, name="a.yaml")
    config_b = write_config({"name": B, "registry": {"path": str(path)}}, name="b.yaml")

    assert registry_main(["list", "--config", str(config_b)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0] == f"model {B} in {path}"
    assert [line.split()[0] for line in listed[2:-1]] == ["v0001", "made"]  # made in: ...
    assert listed[-1] == f"other models in this registry: {A} (list --all)"

    assert registry_main(["history", "--config", str(config_b)]) == 0
    history = capsys.readouterr().out.splitlines()
    assert len(history) == 3 and history[2].endswith("first of b")

    assert registry_main(["list", "--all", "--config", str(config_a)]) == 0
    every = capsys.readouterr().out
    assert every.startswith(f"model {A}\n")
    assert f"\n\nmodel {B}\n" in every
    assert every.count("v0001") == 2 and every.count("v0002") == 1

    assert registry_main(["verify", "--config", str(config_a)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"model {A} in registry {path}: consistent"


# -- the layout before namespaces --------------------------------------------------------------
@pytest.mark.parametrize("opener", [A, B], ids=["its-model", "another-model"])
def test_a_registry_of_one_model_at_the_top_is_moved_into_that_models_namespace(
    tmp_path: Path, opener: str
) -> None:
    path = tmp_path / "registry"
    before = _registry_of_a(path)
    entries = before.history()
    _to_root_layout(path)
    files = snapshot(path)

    opened = LocalRegistry(path, opener)

    a = LocalRegistry(path, A)
    assert not [p.name for p in path.iterdir() if p.name not in {".lock", "models"}]
    moved = snapshot(a.root)
    assert {k: v for k, v in moved.items() if k != "history.jsonl"} == {
        k: v for k, v in files.items() if k != "history.jsonl"
    }
    history = a.history()
    assert history[:-1] == entries
    migrate = history[-1]
    assert (migrate.action, migrate.alias, migrate.from_version, migrate.to_version) == (
        "migrate",
        "champion",
        "v0002",
        "v0002",
    )
    assert f"moved from the top of {path} into models/{A}/" in migrate.reason
    assert a.get_alias("champion") == "v0002"
    assert a.load_model("v0002") is not None
    assert a.load_comparison("c1") == {"verdict": "promote"}
    assert not a.claim_request("event-1")  # still handled
    assert a.verify().ok
    if opener == B:
        assert opened.list_versions() == [] and opened.get_alias("champion") is None
    # Opened again: nothing left to move, no second line.
    assert LocalRegistry(path, A).history() == history
    # The migrate line moved nothing: a rollback still goes back to the champion before.
    assert a.rollback(reason="after the move") == ("v0002", "v0001")


def test_an_empty_registry_at_the_top_goes_to_the_model_that_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "registry"
    (path / "versions").mkdir(parents=True)
    (path / "comparisons").mkdir()

    registry = LocalRegistry(path, B)

    assert list_models(path) == [B]
    assert not (path / "versions").exists()
    assert registry.list_versions() == []
    assert [e.action for e in registry.history()] == ["migrate"]
    assert registry.verify().ok


def test_a_registry_mixing_two_models_at_the_top_is_refused_and_left_unchanged(
    tmp_path: Path, write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "registry"
    _mixed_root_layout(path)
    before = snapshot(path)
    config = write_config({"name": B, "registry": {"path": str(path)}})

    for name in (A, B):
        with pytest.raises(RegistryError) as caught:
            LocalRegistry(path, name)
        message = str(caught.value)
        assert f"the registry at {path} mixes versions of 2 models" in message
        assert f"'{A}': v0001, v0002; '{B}': v0003" in message
        assert "aliases.json (champion -> v0002)" in message
        assert f"mkdir -p {path}/models/NAME/versions" in message
        assert "python -m tasks.cli.registry verify --config CONFIG" in message

    assert registry_main(["list", "--config", str(config)]) == 2
    assert f"'{A}': v0001, v0002; '{B}': v0003" in capsys.readouterr().err
    assert snapshot(path) == before
    assert not (path / "models").exists()


def test_a_registry_at_the_top_with_unreadable_metadata_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "registry"
    _registry_of_a(path)
    _to_root_layout(path)
    (path / "versions" / "v0002" / "metadata.json").write_text("{")
    before = snapshot(path)

    with pytest.raises(RegistryError, match=r"the metadata\.json of v0002 is unreadable"):
        LocalRegistry(path, A)

    assert snapshot(path) == before


def test_the_separation_the_refusal_describes_gives_two_working_models(tmp_path: Path) -> None:
    """Follow the message's steps by hand: both models then open and verify."""
    path = tmp_path / "registry"
    _mixed_root_layout(path)
    for name, versions in ((A, ["v0001", "v0002"]), (B, ["v0003"])):
        (path / "models" / name / "versions").mkdir(parents=True)
        for version in versions:
            (path / "versions" / version).rename(path / "models" / name / "versions" / version)
    (path / "versions").rmdir()
    for entry in ("aliases.json", "history.jsonl", "comparisons", "requests"):
        (path / entry).rename(path / "models" / A / entry)  # the champion v0002 is A's

    a, b = LocalRegistry(path, A), LocalRegistry(path, B)

    assert a.verify().ok and b.verify().ok
    assert a.get_alias("champion") == "v0002" and b.get_alias("champion") is None
    assert [v.version for v in b.list_versions()] == ["v0003"]
    assert model_directory(path, B) == b.root
