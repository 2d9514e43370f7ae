"""The registry contract: versions, integrity checks, aliases, history and rollback.

Every test that takes `backend` runs on the local registry and on a real MLflow server.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypedDict, Unpack

import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from tasks.cli.registry import main as registry_main
from tasks.core.frames import fingerprint_frame
from tasks.errors import ModelError, RegistryError
from tasks.stores.registry import (
    STALE_STAGING_SECONDS,
    UNCHECKED,
    Lineage,
    LocalRegistry,
    ModelRegistry,
    ModelVersion,
)
from tests.registry_backends import Backend

MODEL_NAME = "seattle-weather"


def _reference(offset: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2012-01-01", periods=6, freq="D"),
            "precipitation": [0.0, 0.0, 5.1 + offset, 10.9, 0.3, 8.0],
            "wind": [2.0, 3.5, 4.7, 6.1, 1.2, 5.0],
            "weather": ["sun", "sun", "rain", "rain", "sun", "rain"],
        }
    )


def _model(reference: pd.DataFrame) -> DecisionTreeClassifier:
    return DecisionTreeClassifier(random_state=0).fit(
        reference[["precipitation", "wind"]], reference["weather"]
    )


def _lineage(reference: pd.DataFrame, reason: str = "test") -> Lineage:
    return Lineage(
        estimator="sklearn.tree.DecisionTreeClassifier",
        params={"random_state": 0},
        training_window={"start": "2012-01-01T00:00:00", "end": "2012-01-07T00:00:00"},
        training_rows=len(reference),
        data_fingerprint=fingerprint_frame(reference),
        metrics={"training_f1 (macro)": 1.0},
        code_version="abc123",
        source="trained",
        reason=reason,
        features=["precipitation", "wind"],
    )


class Made(TypedDict, total=False):
    """Where a version was made: Lineage's provenance fields."""

    image: str
    image_digest: str
    git_sha: str
    lock_sha256: str


def _register(registry: ModelRegistry, offset: float = 0.0, **made: Unpack[Made]) -> ModelVersion:
    """Register a model; made: where it was made (Lineage's image, image_digest, git_sha,
    lock_sha256)."""
    reference = _reference(offset)
    return registry.register(_model(reference), reference, replace(_lineage(reference), **made))


# Where a version was made, as training records it in an image (tasks/steps/training.py).
MADE: Made = {
    "image": "registry.example/autoretrain:1.2",
    "image_digest": "sha256:" + "d" * 64,
    "git_sha": "0123456789abcdef0123456789abcdef01234567",
    "lock_sha256": "f" * 64,
}


@pytest.fixture
def registry(backend: Backend) -> ModelRegistry:
    return backend.open()


def _promote(registry: ModelRegistry, version: str, reason: str = "better") -> None:
    registry.set_alias(
        "champion",
        version,
        reason=reason,
        action="promote",
        expected=registry.get_alias("champion"),
    )


def _snapshot(registry: ModelRegistry) -> dict[str, Any]:
    """Everything an alias change could touch."""
    return {
        "aliases": {alias: registry.get_alias(alias) for alias in ("champion", "challenger")},
        "history": registry.history(),
        "statuses": {v.version: v.status for v in registry.list_versions()},
    }


def test_register_stores_model_reference_and_lineage(
    registry: ModelRegistry, backend: Backend
) -> None:
    reference = _reference()
    model = _model(reference)

    record = registry.register(model, reference, _lineage(reference))

    assert record.version == "v0001"
    assert record.model_name == backend.model_name
    assert record.status == "registered"
    assert record.training_rows == 6
    assert record.model_sha256 == backend.stored_model_sha256("v0001")
    assert registry.get_version("v0001") == record
    assert registry.list_versions() == [record]
    loaded = registry.load_model("v0001")
    features = reference[["precipitation", "wind"]]
    assert loaded.predict(features).tolist() == model.predict(features).tolist()
    pd.testing.assert_frame_equal(registry.load_reference("v0001"), reference)


def test_reference_data_is_read_by_path_never_through_a_python_file(
    registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pandas.read_parquet(path) hands Arrow a Python file object, which one of Arrow's threads
    # releases later: when that falls in the interpreter's exit, a short command aborts after
    # its work is done (apache/arrow#34314; 4 of 268 `autoretrain registry verify` runs). The
    # registry reads by path: Arrow opens the file itself and its threads hold nothing of Python.
    import pyarrow.parquet as pq

    sources: list[Any] = []
    read_table = pq.read_table

    def spy(source: Any, *args: Any, **kwargs: Any) -> Any:
        sources.append(source)
        return read_table(source, *args, **kwargs)

    reference = _reference()
    registry.register(_model(reference), reference, _lineage(reference))
    monkeypatch.setattr(pq, "read_table", spy)

    whole = registry.load_reference("v0001")
    sample = registry.load_reference("v0001", sample_rows=3)

    pd.testing.assert_frame_equal(whole, reference)
    assert len(sample) == 3
    assert sources and all(isinstance(source, str) for source in sources), sources


def test_a_version_keeps_the_lineage_it_was_registered_with(registry: ModelRegistry) -> None:
    reference = _reference()
    lineage = replace(
        _lineage(reference),
        data_source="files data/seattle",
        training_choice={"chosen": "since-change-split", "reason": "a change in 2013-04"},
        holdout_window={"start": "2012-01-07T00:00:00", "end": "2012-01-09T00:00:00"},
    )

    record = registry.register(_model(reference), reference, lineage)

    assert record.lineage == lineage
    assert registry.get_version(record.version).lineage == lineage
    assert registry.list_versions()[0].lineage == lineage


def test_version_ids_increase(registry: ModelRegistry) -> None:
    versions = [_register(registry, offset).version for offset in (0.0, 0.1, 0.2)]

    assert versions == ["v0001", "v0002", "v0003"]
    assert [v.version for v in registry.list_versions()] == versions


def test_version_ids_continue_after_reopening(backend: Backend) -> None:
    _register(backend.open())

    record = _register(backend.open())

    assert record.version == "v0002"


@pytest.mark.parametrize("version", ["1", "v1", "v001", "../v0001", "v0001/..", "champion"])
def test_invalid_version_id_is_rejected(registry: ModelRegistry, version: str) -> None:
    _register(registry)

    with pytest.raises(RegistryError, match="is not a version id"):
        registry.get_version(version)
    with pytest.raises(RegistryError, match="is not a version id"):
        registry.load_model(version)


def test_unknown_version_is_reported(registry: ModelRegistry) -> None:
    with pytest.raises(RegistryError, match=r"no model version v0007 in .*registry"):
        registry.get_version("v0007")


def test_tampered_model_file_is_refused_and_champion_kept(
    registry: ModelRegistry, backend: Backend
) -> None:
    record = _register(registry)
    _promote(registry, record.version)
    before = _snapshot(registry)
    model_file = backend.model_file("v0001")
    model_file.write_bytes(model_file.read_bytes() + b"\x00")

    with pytest.raises(ModelError, match="does not match its registered SHA-256") as caught:
        registry.load_model("v0001")

    assert "v0001" in str(caught.value)
    assert "refusing to load it" in str(caught.value)
    assert _snapshot(registry) == before
    assert registry.get_alias("champion") == "v0001"


def test_missing_model_file_is_reported(registry: ModelRegistry, backend: Backend) -> None:
    _register(registry)
    model_file = backend.model_file("v0001")
    model_file.unlink()

    with pytest.raises(ModelError, match=backend.missing_model_message) as caught:
        registry.load_model("v0001")

    assert backend.missing_model_names(model_file) in str(caught.value)


def test_missing_reference_data_is_reported(registry: ModelRegistry, backend: Backend) -> None:
    _register(registry)
    backend.reference_file("v0001").unlink()

    with pytest.raises(RegistryError, match="reference data of v0001 is missing"):
        registry.load_reference("v0001")


def test_set_alias_points_the_alias_and_records_history(
    registry: ModelRegistry, backend: Backend
) -> None:
    first, second = _register(registry).version, _register(registry, 0.1).version

    registry.set_alias("challenger", first, reason="trained", action="register")
    _promote(registry, first, reason="bootstrap")
    registry.set_alias("challenger", None, reason="promoted", action="promote")
    _promote(registry, second, reason="comparison x")

    assert registry.get_alias("champion") == second
    assert registry.get_alias("challenger") is None
    lines = [
        (h.action, h.alias, h.from_version, h.to_version, h.reason) for h in registry.history()
    ]
    assert lines == [
        ("register", "challenger", None, first, "trained"),
        ("promote", "champion", None, first, "bootstrap"),
        ("promote", "challenger", first, None, "promoted"),
        ("promote", "champion", first, second, "comparison x"),
    ]
    assert all(h.actor and h.at for h in registry.history())
    assert backend.stored_aliases() == {"champion": second}


def test_alias_of_an_unknown_version_is_refused(registry: ModelRegistry) -> None:
    _register(registry)

    with pytest.raises(RegistryError, match="no model version v0002"):
        registry.set_alias("champion", "v0002", reason="x", action="promote")

    assert registry.get_alias("champion") is None
    assert registry.history() == []


def test_unknown_alias_is_refused(registry: ModelRegistry) -> None:
    _register(registry)

    with pytest.raises(RegistryError, match="unknown alias 'production'"):
        registry.set_alias("production", "v0001", reason="x", action="promote")

    assert registry.history() == []


@pytest.mark.parametrize("expected", ["v0002", None], ids=["other-version", "no-champion"])
def test_compare_and_swap_with_a_wrong_expected_changes_nothing(
    registry: ModelRegistry, expected: str | None
) -> None:
    for offset in (0.0, 0.1, 0.2):
        _register(registry, offset)
    _promote(registry, "v0001")
    before = _snapshot(registry)

    with pytest.raises(RegistryError, match=f"champion is v0001, not {expected} as expected"):
        registry.set_alias("champion", "v0003", reason="x", action="promote", expected=expected)

    assert _snapshot(registry) == before


def test_compare_and_swap_with_the_right_expected_changes_the_alias(
    registry: ModelRegistry,
) -> None:
    _register(registry)
    _register(registry, 0.1)
    registry.set_alias("champion", "v0001", reason="first", action="promote", expected=None)

    registry.set_alias("champion", "v0002", reason="second", action="promote", expected="v0001")

    assert registry.get_alias("champion") == "v0002"


def test_an_unchecked_alias_change_moves_the_alias_wherever_it_points(
    registry: ModelRegistry,
) -> None:
    _register(registry)
    _register(registry, 0.1)
    _promote(registry, "v0002")

    registry.set_alias("champion", "v0001", reason="x", action="promote", expected=UNCHECKED)
    registry.set_alias("champion", None, reason="y", action="promote", expected=UNCHECKED)

    assert registry.get_alias("champion") is None
    assert [(h.from_version, h.to_version) for h in registry.history()] == [
        (None, "v0002"),
        ("v0002", "v0001"),
        ("v0001", None),
    ]


def test_rollback_restores_the_previous_champion(registry: ModelRegistry) -> None:
    _register(registry)
    _register(registry, 0.1)
    _promote(registry, "v0001")
    _promote(registry, "v0002")

    moved = registry.rollback(reason="bad predictions")

    assert moved == ("v0002", "v0001")
    assert registry.get_alias("champion") == "v0001"
    last = registry.history()[-1]
    assert (last.action, last.alias, last.from_version, last.to_version, last.reason) == (
        "rollback",
        "champion",
        "v0002",
        "v0001",
        "bad predictions",
    )
    assert registry.get_version("v0001").status == "champion"
    assert registry.get_version("v0002").status == "rolled-back"


def test_a_rollback_expecting_another_champion_changes_nothing(registry: ModelRegistry) -> None:
    # The watch after a promotion rolls back only the champion it scored.
    for offset in (0.0, 0.1, 0.2):
        _register(registry, offset)
    for version in ("v0001", "v0002", "v0003"):
        _promote(registry, version)
    before = registry.history()

    with pytest.raises(RegistryError, match="champion is v0003, not v0002 as expected"):
        registry.rollback(to_version="v0001", reason="watch", expected="v0002")

    assert registry.get_alias("champion") == "v0003"
    assert registry.history() == before
    assert registry.rollback(reason="watch", expected="v0003") == ("v0003", "v0002")


def test_second_rollback_goes_further_back_then_stops_at_the_first(
    registry: ModelRegistry,
) -> None:
    for offset in (0.0, 0.1, 0.2):
        _register(registry, offset)
    for version in ("v0001", "v0002", "v0003"):
        _promote(registry, version)

    assert registry.rollback(reason="one") == ("v0003", "v0002")
    assert registry.rollback(reason="two") == ("v0002", "v0001")
    with pytest.raises(RegistryError, match="v0001 is the first champion"):
        registry.rollback(reason="three")

    assert registry.get_alias("champion") == "v0001"
    assert [h.action for h in registry.history()] == ["promote"] * 3 + ["rollback"] * 2


def test_rollback_to_an_explicit_version(registry: ModelRegistry) -> None:
    for offset in (0.0, 0.1, 0.2):
        _register(registry, offset)
    for version in ("v0001", "v0002", "v0003"):
        _promote(registry, version)

    assert registry.rollback(to_version="v0001", reason="known good") == ("v0003", "v0001")
    assert registry.get_alias("champion") == "v0001"


def test_rollback_to_the_current_champion_is_refused(registry: ModelRegistry) -> None:
    _register(registry)
    _promote(registry, "v0001")

    with pytest.raises(RegistryError, match="v0001 is already the champion"):
        registry.rollback(to_version="v0001", reason="x")


def test_rollback_without_a_champion_is_refused(registry: ModelRegistry) -> None:
    _register(registry)

    with pytest.raises(RegistryError, match="there is no champion to roll back"):
        registry.rollback(reason="x")

    assert registry.history() == []


def test_rollback_of_the_first_champion_is_refused(registry: ModelRegistry) -> None:
    _register(registry)
    _promote(registry, "v0001")
    before = _snapshot(registry)

    with pytest.raises(RegistryError, match="v0001 is the first champion: there is no earlier one"):
        registry.rollback(reason="x")

    assert _snapshot(registry) == before


def test_rollback_to_a_tampered_model_is_refused(registry: ModelRegistry, backend: Backend) -> None:
    _register(registry)
    _register(registry, 0.1)
    _promote(registry, "v0001")
    _promote(registry, "v0002")
    before = _snapshot(registry)
    backend.model_file("v0001").write_bytes(b"not a model")

    with pytest.raises(ModelError, match="SHA-256"):
        registry.rollback(reason="x")

    assert _snapshot(registry) == before


@pytest.mark.parametrize("failing", ["model", "reference"])
def test_failed_register_leaves_no_version_behind(
    registry: ModelRegistry, backend: Backend, failing: str
) -> None:
    _register(registry)
    reference = _reference()
    model: Any = _model(reference)
    if failing == "model":
        model = lambda rows: rows  # noqa: E731 - a lambda cannot be pickled
    else:  # the model is written, then the reference data fails to convert to Parquet
        reference = reference.assign(wind=[1.5, "calm", 2.0, 3.0, 4.0, 5.0])

    # A lambda cannot be pickled (local); it has no predict for the signature (MLflow).
    expected = "calm" if failing == "reference" else backend.unstorable_model_message
    with pytest.raises(Exception, match=expected):
        registry.register(model, reference, _lineage(_reference()))

    assert [v.version for v in registry.list_versions()] == ["v0001"]
    assert _register(registry, 0.1).version == "v0002"


def test_a_local_register_leaves_no_staging_directory_whether_it_fails_or_not(
    tmp_path: Path,
) -> None:
    registry = LocalRegistry(tmp_path, MODEL_NAME)
    reference = _reference()
    unpicklable: Any = lambda rows: rows  # noqa: E731 - a lambda cannot be pickled

    with pytest.raises(Exception, match="pickle"):
        registry.register(unpicklable, reference, _lineage(reference), calibration={"bins": [1]})
    version = registry.register(_model(reference), reference, _lineage(reference), {"bins": [1]})

    versions = registry.root / "versions"
    assert sorted(p.name for p in versions.iterdir()) == ["v0001"]
    assert sorted(p.name for p in (versions / "v0001").iterdir()) == [
        "calibration.json",
        "metadata.json",
        "model.pkl",
        "reference.parquet",
    ]
    assert version.calibration_sha256 == registry.get_version("v0001").calibration_sha256 != ""
    assert registry.load_calibration("v0001") == {"bins": [1]}


def test_stale_staging_directory_is_cleaned_on_open_and_a_young_one_kept(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path, MODEL_NAME)
    stale = registry.root / "versions" / ".tmp-crashed"
    stale.mkdir()
    (stale / "model.pkl").write_bytes(b"half")
    long_ago = time.time() - STALE_STAGING_SECONDS - 60
    os.utime(stale, (long_ago, long_ago))
    young = registry.root / "versions" / ".tmp-writing-now"
    young.mkdir()

    LocalRegistry(tmp_path, MODEL_NAME)

    assert not stale.exists()
    assert young.exists()  # may belong to another process registering right now
    assert registry.list_versions() == []  # neither is ever read as a version


def test_mark_records_a_status(registry: ModelRegistry) -> None:
    _register(registry)

    registry.mark("v0001", "rejected")

    assert registry.get_version("v0001").status == "rejected"
    assert registry.load_model("v0001") is not None  # the model file is untouched


def test_comparisons_round_trip_and_ids_are_checked(registry: ModelRegistry) -> None:
    comparison = {"verdict": "reject", "reasons": ["insufficient evidence"]}

    registry.save_comparison("20240101t000000-v0002-vs-v0001", comparison)

    assert registry.load_comparison("20240101t000000-v0002-vs-v0001") == comparison
    approved = {**comparison, "approval": {"reviewer": "ana"}}
    registry.save_comparison("20240101t000000-v0002-vs-v0001", approved)  # saved again: replaced
    assert registry.load_comparison("20240101t000000-v0002-vs-v0001") == approved
    with pytest.raises(RegistryError, match="comparison nothing-here not found"):
        registry.load_comparison("nothing-here")
    with pytest.raises(RegistryError, match="is not a comparison id"):
        registry.save_comparison("../escape", comparison)


def test_rollback_records_who_and_why(registry: ModelRegistry) -> None:
    _register(registry)
    _register(registry, 0.1)
    _promote(registry, "v0001")
    _promote(registry, "v0002")

    registry.rollback(reason="complaints from the field", actor="on-call")

    last = registry.history()[-1]
    assert (last.action, last.actor, last.reason) == (
        "rollback",
        "on-call",
        "complaints from the field",
    )
    assert registry.history()[-2].actor not in ("", "on-call")  # the user running it by default


def test_list_and_history_show_what_a_rollback_needs(
    registry: ModelRegistry,
    backend: Backend,
    write_config: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _register(registry)
    _register(registry, 0.1, **MADE)
    _promote(registry, "v0001")
    _promote(registry, "v0002", reason="comparison c2")
    registry.rollback(reason="bad predictions", actor="oncall")
    config = write_config(backend.config_overrides())

    assert registry_main(["list", "--config", str(config)]) == 0
    header, *listed = capsys.readouterr().out.splitlines()
    assert header == f"model {backend.model_name} in {backend.where}"
    assert listed[0].split()[:5] == ["version", "status", "alias", "created", "(UTC)"]
    assert listed[1].split()[:2] == ["v0001", "champion"]
    assert listed[1].split()[2] == "champion"  # the alias column
    # under each version, where it was made (v0001's lineage has none of it)
    assert listed[2].split() == ["made", "in:", "not", "recorded"]
    assert listed[3].split()[:2] == ["v0002", "rolled-back"]
    assert "2012-01-01 .. 2012-01-07" in listed[3] and listed[3].endswith("6  test")
    assert listed[4].split() == [
        "made",
        "in:",
        "image",
        "registry.example/autoretrain:1.2@sha256:dddddddddddd,",
        "git",
        "0123456789ab,",
        "uv.lock",
        "ffffffffffff",
    ]

    assert registry_main(["history", "--last", "2", "--config", str(config)]) == 0
    header, *history = capsys.readouterr().out.splitlines()
    assert header == f"model {backend.model_name} in {backend.where}"
    assert len(history) == 3  # the header and the last two changes
    assert history[1].split()[2:7] == ["promote", "champion", "v0001", "->", "v0002"]
    assert history[1].endswith("comparison c2")
    assert history[2].split()[2:8] == ["rollback", "champion", "v0002", "->", "v0001", "oncall"]
    assert history[2].endswith("bad predictions")


def test_list_of_a_missing_registry_names_the_config_key(
    tmp_path: Path, write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config({"registry": {"path": str(tmp_path / "nowhere")}})

    assert registry_main(["list", "--config", str(config)]) == 2
    assert "no registry at" in capsys.readouterr().err


# -- calibration ---------------------------------------------------------------------------------

CALIBRATION = {
    "classes": ["rain", "sun"],
    "curves": [{"label": "sun", "x": [0.0, 1.0], "y": [0.1, 0.9]}],
    "metric": "f1 (macro)",
    "holdout_score": 0.8,
    "holdout_rows": 40,
}


def test_calibration_is_stored_with_its_version_and_checked(
    registry: ModelRegistry, backend: Backend
) -> None:
    reference = _reference()
    record = registry.register(_model(reference), reference, _lineage(reference), CALIBRATION)
    path = backend.calibration_file(record.version)

    assert registry.load_calibration(record.version) == CALIBRATION
    assert record.calibration_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert registry.get_version(record.version).calibration_sha256 == record.calibration_sha256
    assert registry.verify().ok

    path.write_text(json.dumps({**CALIBRATION, "holdout_score": 0.99}))

    with pytest.raises(RegistryError, match="calibration of v0001 does not match its registered"):
        registry.load_calibration(record.version)
    assert any(
        "calibration of v0001 does not match its" in problem
        for problem in registry.verify().problems
    )
    path.unlink()
    with pytest.raises(RegistryError, match="calibration of v0001 is missing"):
        registry.load_calibration(record.version)


def test_calibration_round_trips_on_every_backend(backend: Backend) -> None:
    registry = backend.open()
    reference = _reference()
    with_one = registry.register(_model(reference), reference, _lineage(reference), CALIBRATION)
    without = registry.register(_model(reference), reference, _lineage(reference))

    assert registry.load_calibration(with_one.version) == CALIBRATION
    assert registry.get_version(with_one.version).calibration_sha256 == with_one.calibration_sha256
    assert len(with_one.calibration_sha256) == 64
    assert registry.load_calibration(without.version) is None


def test_a_version_without_calibration_has_none(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path, MODEL_NAME)
    reference = _reference()
    record = registry.register(_model(reference), reference, _lineage(reference))

    assert record.calibration_sha256 == ""
    assert registry.load_calibration(record.version) is None
    assert not (registry.root / "versions" / record.version / "calibration.json").exists()
    assert registry.verify().ok


def test_a_version_keeps_where_it_was_made(registry: ModelRegistry) -> None:
    made = _register(registry, **MADE)
    plain = _register(registry, 0.1)

    assert registry.get_version(made.version).provenance == MADE
    assert registry.get_version(made.version).lineage.provenance == MADE
    assert registry.get_version(plain.version).provenance == {}
    listed = {record.version: record.provenance for record in registry.list_versions()}
    assert listed == {made.version: MADE, plain.version: {}}
