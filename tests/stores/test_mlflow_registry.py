"""What only the MLflow registry has: what MLflow's UI and a serving system see, and its errors.

The contract it shares with the local registry is tested on both in test_registry.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tasks.cli.registry import main as registry_main
from tasks.config import RegistryConfig
from tasks.errors import RegistryError
from tasks.stores.registry import HistoryEntry, open_registry
from tasks.stores.registry._mlflow_alias_history import (
    HISTORY_RUN_TAG,
    HISTORY_TAGS_SHOWN,
    RUN_TAG_LIMIT,
    fitted_entry,
)
from tasks.stores.registry._mlflow_client import HISTORY_TAG
from tasks.stores.registry.mlflow_server import (
    MlflowRegistry,
    tree_sha256,
    version_id,
    version_number,
)
from tests.processes import free_port
from tests.registry_backends import MlflowBackend, MlflowServer, fresh_model_name
from tests.stores.test_registry import _lineage, _model, _promote, _reference, _register


@pytest.fixture
def backend(mlflow_server: MlflowServer, tmp_path: Path) -> MlflowBackend:
    return MlflowBackend(mlflow_server, tmp_path / "registry", fresh_model_name())


@pytest.fixture
def registry(backend: MlflowBackend) -> MlflowRegistry:
    opened = backend.open()
    assert isinstance(opened, MlflowRegistry)
    return opened


def _client(backend: MlflowBackend) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=backend.server.uri, registry_uri=backend.server.uri)


def test_version_ids_map_to_mlflow_version_numbers() -> None:
    assert version_number("v0012") == "12"
    assert version_id("12") == "v0012"
    assert version_id(version_number("v12345")) == "v12345"
    with pytest.raises(RegistryError, match="is not a version id"):
        version_number("12")


@pytest.mark.parametrize("letter", ["a", "é", '"'], ids=["ascii", "escaped-unicode", "quote"])
def test_a_history_entry_too_long_for_a_run_tag_keeps_its_start_and_says_so(letter: str) -> None:
    entry = HistoryEntry(
        "2026-12-03T08:00:00Z", "rollback", "champion", "v2", "v1", letter * 9000, "me"
    )

    fitted = fitted_entry(json.dumps(asdict(entry), sort_keys=True))

    assert len(fitted) <= RUN_TAG_LIMIT
    read = HistoryEntry(**json.loads(fitted))
    assert read.reason.startswith(letter * 500)
    assert read.reason.endswith("[shortened from 9000 characters to fit an MLflow run tag]")
    assert asdict(read) == {**asdict(entry), "reason": read.reason}
    short = json.dumps(asdict(replace(entry, reason="v0002 is worse")), sort_keys=True)
    assert fitted_entry(short) == short


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "mlflow"}, "kind mlflow needs tracking_uri"),
        (
            {"kind": "mlflow", "tracking_uri": "ftp://example.org/mlflow"},
            "is not an MLflow tracking URI with a model registry: use one of the schemes http",
        ),
        ({"tracking_uri": "http://127.0.0.1:5000"}, "tracking_uri is only for kind mlflow"),
    ],
    ids=["no-uri", "bad-scheme", "uri-without-kind"],
)
def test_registry_config_is_checked_before_any_work(
    write_config: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    changes: dict[str, str],
    message: str,
) -> None:
    config = write_config({"registry": changes})

    assert registry_main(["list", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert "registry: " in error and message in error


def test_an_unreachable_server_is_a_clear_error_and_exit_2(
    write_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = write_config(
        {"registry": {"kind": "mlflow", "tracking_uri": uri, "path": str(tmp_path / "r")}}
    )

    assert registry_main(["verify", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert f"cannot reach the MLflow tracking server at {uri}" in error
    assert "fix registry.tracking_uri" in error
    with pytest.raises(RegistryError, match="cannot reach the MLflow tracking server"):
        open_registry(
            RegistryConfig(kind="mlflow", path=tmp_path / "r", tracking_uri=uri), "some-model"
        )


def test_a_password_in_the_tracking_uri_is_never_shown(
    write_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there
    uri = f"http://alice:s3cr%40t@127.0.0.1:{port}"
    config = write_config(
        {"registry": {"kind": "mlflow", "tracking_uri": uri, "path": str(tmp_path / "r")}}
    )

    assert registry_main(["verify", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    with pytest.raises(RegistryError) as raised:
        open_registry(
            RegistryConfig(kind="mlflow", path=tmp_path / "r", tracking_uri=uri), "some-model"
        )

    shown = f"http://alice:**********@127.0.0.1:{port}"
    for message in (error, str(raised.value)):
        assert "s3cr" not in message
        assert f"cannot reach the MLflow tracking server at {shown}" in message


def test_a_bad_tracking_uri_is_refused_without_showing_its_password(
    write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config({"registry": {"kind": "mlflow", "tracking_uri": "ftp://bob:hunter2@h"}})

    assert registry_main(["list", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert "tracking_uri 'ftp://bob:**********@h' is not an MLflow tracking URI" in error
    assert "hunter2" not in error


@pytest.mark.mlflow
@pytest.mark.slow
@pytest.mark.parametrize("command", ["list", "history", "verify"])
def test_a_missing_registered_model_is_a_clear_error_and_exit_2(
    backend: MlflowBackend,
    write_config: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    config = write_config(backend.config_overrides())

    assert registry_main([command, "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert f"no registered model '{backend.model_name}' in the MLflow registry at" in error
    assert "run the monitor flow first" in error
    assert backend.model_name not in [m.name for m in _client(backend).search_registered_models()]


@pytest.mark.mlflow
@pytest.mark.slow
def test_what_mlflow_shows_and_serves(
    registry: MlflowRegistry, backend: MlflowBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.sklearn

    _register(registry)
    _register(registry, 0.1)
    _promote(registry, "v0001")
    _promote(registry, "v0002", reason="comparison c2")
    registry.save_comparison(
        "c2", {"verdict": "promote", "difference": 0.25, "challenger": {"version": "v0002"}}
    )
    client = _client(backend)

    model = client.get_registered_model(backend.model_name)
    assert model.aliases == {"champion": "2"}
    history = [json.loads(v) for k, v in sorted(model.tags.items()) if k.startswith(HISTORY_TAG)]
    assert [(h["action"], h["to_version"], h["reason"]) for h in history] == [
        ("promote", "v0001", "better"),
        ("promote", "v0002", "comparison c2"),
    ]
    version = client.get_model_version(backend.model_name, "2")
    assert version.tags["autoretrain.status"] == "registered"
    lineage = json.loads(version.tags["autoretrain.metadata"])
    assert lineage["training_rows"] == 6 and lineage["model_sha256"] == tree_sha256(
        backend.model_file("v0002").parent
    )
    run = client.get_run(version.run_id)
    assert run.data.metrics["training_f1 _macro_"] == 1.0
    assert run.data.params == {"random_state": "0"}
    logged = {f.path for f in client.list_artifacts(version.run_id, "model")}
    assert {"model/MLmodel", "model/model.pkl", "model/input_example.json"} <= logged
    assert "signature:" in (backend.run_directory("v0002") / "model" / "MLmodel").read_text()
    comparison_run = client.get_run(version.tags["autoretrain.comparison.c2"])
    assert comparison_run.data.metrics == {"difference": 0.25}
    assert comparison_run.data.tags["autoretrain.verdict"] == "promote"
    # A serving system loads the champion by its alias.
    with monkeypatch.context() as serving:  # told where, as a serving system is
        serving.setenv("MLFLOW_TRACKING_URI", backend.server.uri)
        served = mlflow.sklearn.load_model(f"models:/{backend.model_name}@champion")
    rows = _reference(0.1)[["precipitation", "wind"]]
    assert served.predict(rows).tolist() == registry.load_model("v0002").predict(rows).tolist()


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_version_deleted_by_hand_stops_the_loop_and_a_rollback_recovers(
    registry: MlflowRegistry,
    backend: MlflowBackend,
    write_config: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _register(registry)
    _register(registry, 0.1)
    _promote(registry, "v0001")
    _promote(registry, "v0002")
    _client(backend).delete_model_version(backend.model_name, "2")  # MLflow drops its alias too

    # No silent fresh start without a champion: the loop stops and says what happened.
    with pytest.raises(RegistryError, match=r"the champion alias is gone .* set it to v0002"):
        registry.get_alias("champion")
    with pytest.raises(RegistryError, match=r"no model version v0002 .* deleted by hand"):
        registry.get_version("v0002")
    config = write_config(backend.config_overrides())
    assert registry_main(["verify", "--config", str(config)]) == 2
    out = capsys.readouterr().out
    assert "problem: champion is None in MLflow but v0002 after replaying the history" in out

    assert registry.rollback(to_version="v0001", reason="v0002 was deleted") == ("v0002", "v0001")

    assert registry.get_alias("champion") == "v0001"
    assert registry.get_version("v0001").status == "champion"
    assert registry_main(["verify", "--config", str(config)]) == 0


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_tampered_artifact_fails_verify(
    registry: MlflowRegistry,
    backend: MlflowBackend,
    write_config: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _register(registry)
    _promote(registry, "v0001")
    config = write_config(backend.config_overrides())
    assert registry_main(["verify", "--config", str(config)]) == 0
    capsys.readouterr()
    mlmodel = backend.run_directory("v0001") / "model" / "MLmodel"
    mlmodel.write_text(mlmodel.read_text().replace("model.pkl", "other.pkl"))

    assert registry_main(["verify", "--config", str(config)]) == 2

    out = capsys.readouterr().out
    assert "problem: model of v0001 (its files) does not match its registered SHA-256" in out
    assert out.rstrip().endswith("INCONSISTENT")


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_change_killed_between_history_and_alias_is_completed_on_open(
    registry: MlflowRegistry, backend: MlflowBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register(registry)
    _register(registry, 0.1)
    _promote(registry, "v0001")

    def die(alias: str, version: str | None) -> None:
        raise KeyboardInterrupt  # the process dies after the history entry, before the alias

    monkeypatch.setattr(registry, "_write_alias", die)
    with pytest.raises(KeyboardInterrupt):
        _promote(registry, "v0002")
    assert backend.stored_aliases() == {"champion": "v0001"}

    reopened = backend.open()

    assert backend.stored_aliases() == {"champion": "v0002"}
    assert reopened.get_alias("champion") == "v0002"
    assert reopened.get_version("v0002").status == "champion"
    assert [(h.from_version, h.to_version) for h in reopened.history()] == [
        (None, "v0001"),
        ("v0001", "v0002"),
    ]


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_version_not_registered_by_autoretrain_is_refused(
    registry: MlflowRegistry, backend: MlflowBackend
) -> None:
    record = _register(registry)
    client = _client(backend)
    found = client.get_model_version(backend.model_name, "1")
    client.create_model_version(backend.model_name, found.source, run_id=found.run_id)

    with pytest.raises(
        RegistryError, match=r"MLflow version 2 .* was not registered by autoretrain"
    ):
        registry.get_version("v0002")
    assert registry.get_version("v0001") == record


@pytest.mark.mlflow
@pytest.mark.slow
def test_requests_are_claimed_once_across_openings(backend: MlflowBackend) -> None:
    assert backend.open().claim_request("retrain-event-1")
    assert not backend.open().claim_request("retrain-event-1")
    assert backend.open().claim_request("retrain-event-2")
    with pytest.raises(RegistryError, match="is not a request id"):
        backend.open().claim_request("../x")


@pytest.mark.mlflow
@pytest.mark.slow
def test_the_reference_sample_is_seeded(registry: MlflowRegistry) -> None:
    reference = pd.concat([_reference(offset) for offset in range(5)], ignore_index=True)
    registry.register(_model(reference), reference, _lineage(reference))

    first = registry.load_reference("v0001", sample_rows=7, seed=3)

    assert len(first) == 7
    pd.testing.assert_frame_equal(first, registry.load_reference("v0001", sample_rows=7, seed=3))


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_challenger_left_pointing_at_the_champion_is_dropped_on_open(
    registry: MlflowRegistry, backend: MlflowBackend
) -> None:
    _register(registry)
    registry.set_alias("challenger", "v0001", reason="trained", action="register")
    _promote(registry, "v0001")  # a promotion killed before it cleared the challenger alias

    reopened = backend.open()

    assert backend.stored_aliases() == {"champion": "v0001"}
    last = reopened.history()[-1]
    assert (last.action, last.alias, last.from_version, last.to_version) == (
        "recover",
        "challenger",
        "v0001",
        None,
    )
    assert reopened.get_version("v0001").status == "champion"


@pytest.mark.mlflow
@pytest.mark.slow
def test_concurrent_registers_get_distinct_versions(backend: MlflowBackend) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=3) as pool:
        records = list(pool.map(lambda offset: _register(backend.open(), offset), [0.0, 0.1, 0.2]))

    assert sorted(r.version for r in records) == ["v0001", "v0002", "v0003"]
    listed = backend.open().list_versions()
    assert {v.version: v.data_fingerprint for v in listed} == {
        r.version: r.data_fingerprint for r in records
    }


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_writer_that_loses_the_race_to_create_the_experiment_uses_the_winners(
    backend: MlflowBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = backend.open()
    assert isinstance(registry, MlflowRegistry)
    # Another writer creates the experiment between this one's lookup and its create.
    winner = registry.client.create_experiment(registry.experiment_name)
    monkeypatch.setattr(registry.client, "get_experiment_by_name", _none_then(registry.client))

    record = _register(registry)

    run_id = registry.client.get_model_version(registry.model_name, "1").run_id
    assert run_id is not None
    run = registry.client.get_run(run_id)
    assert record.version == "v0001" and run.info.experiment_id == winner


def _none_then(client: Any) -> Callable[[str], Any]:
    """get_experiment_by_name that answers None the first time (the lookup before the race)."""
    real, calls = client.get_experiment_by_name, []

    def lookup(name: str) -> Any:
        calls.append(name)
        return None if len(calls) == 1 else real(name)

    return lookup


def _history_on_page(backend: MlflowBackend) -> list[tuple[str | None, str | None]]:
    """The alias changes shown as tags on the registered model's page, by key."""
    tags = _client(backend).get_registered_model(backend.model_name).tags
    shown = [json.loads(v) for k, v in sorted(tags.items()) if k.startswith(HISTORY_TAG)]
    return [(h["from_version"], h["to_version"]) for h in shown]


def _twelve_changes(registry: MlflowRegistry) -> list[tuple[str | None, str | None]]:
    """Two promotions, then ten challenger changes: the champion before the last promotion is
    older than the entries the model's page keeps."""
    for offset in (0.0, 0.1, 0.2):
        _register(registry, offset)
    _promote(registry, "v0001")
    _promote(registry, "v0002")
    changes: list[tuple[str | None, str | None]] = [(None, "v0001"), ("v0001", "v0002")]
    for _ in range(5):
        registry.set_alias("challenger", "v0003", reason="trained", action="register")
        registry.set_alias("challenger", None, reason="worse", action="reject")
        changes += [(None, "v0003"), ("v0003", None)]
    return changes


@pytest.mark.mlflow
@pytest.mark.slow
def test_the_model_page_keeps_the_latest_alias_changes_and_the_history_run_all(
    registry: MlflowRegistry, backend: MlflowBackend
) -> None:
    changes = _twelve_changes(registry)

    assert len(changes) == 12
    assert _history_on_page(backend) == changes[-HISTORY_TAGS_SHOWN:]
    reopened = backend.open()
    assert [(h.from_version, h.to_version) for h in reopened.history()] == changes
    model = _client(backend).get_registered_model(backend.model_name)
    run = _client(backend).get_run(model.tags[HISTORY_RUN_TAG])
    assert run.info.run_name == "alias history"
    assert len([k for k in run.data.tags if k.startswith(HISTORY_TAG)]) == 12

    # The previous champion is only in the run: the rollback still finds it.
    assert reopened.rollback(reason="v0002 is worse") == ("v0002", "v0001")

    assert backend.stored_aliases() == {"champion": "v0001"}
    assert [(h.from_version, h.to_version) for h in reopened.history()][-1] == ("v0002", "v0001")
    assert len(reopened.history()) == 13
    assert _history_on_page(backend) == [*changes, ("v0002", "v0001")][-HISTORY_TAGS_SHOWN:]
    assert reopened.verify().ok


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_registry_with_every_change_on_the_model_page_reads_and_moves_to_the_run(
    registry: MlflowRegistry,
    backend: MlflowBackend,
    monkeypatch: pytest.MonkeyPatch,
    write_config: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = _client(backend)

    def append_as_before(entry: HistoryEntry) -> None:  # how registries were written until now
        key = f"{HISTORY_TAG}{len(registry.history()) + 1:06d}-{uuid.uuid4().hex[:6]}"
        client.set_registered_model_tag(
            backend.model_name, key, json.dumps(asdict(entry), sort_keys=True)
        )

    with monkeypatch.context() as patched:
        patched.setattr(registry, "_append_history", append_as_before)
        changes = _twelve_changes(registry)
    assert _history_on_page(backend) == changes
    assert HISTORY_RUN_TAG not in client.get_registered_model(backend.model_name).tags

    old = backend.open()
    assert [(h.from_version, h.to_version) for h in old.history()] == changes
    config = write_config(backend.config_overrides())
    assert registry_main(["history", "--config", str(config)]) == 0
    assert capsys.readouterr().out.count("v0003") == 10

    assert old.rollback(reason="v0002 is worse") == ("v0002", "v0001")

    moved = [*changes, ("v0002", "v0001")]
    assert _history_on_page(backend) == moved[-HISTORY_TAGS_SHOWN:]
    assert [(h.from_version, h.to_version) for h in backend.open().history()] == moved
    assert backend.open().verify().ok
