"""The quality profile kept with a version, and the one computed for a version without it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tasks.core.quality import QualityProfile
from tasks.core.windows import Window
from tasks.steps import attachments
from tasks.steps.quality import QUALITY_ATTACHMENT, build_profile, check_frame_quality
from tasks.steps.training import train_challenger
from tasks.stores.data import load_window
from tasks.stores.registry import open_registry
from tasks.stores.resources import open_stores
from tests.helpers import repo_config

TRAINING = Window(datetime(2012, 1, 1), datetime(2013, 1, 1))
HOLDOUT = Window(datetime(2013, 1, 1), datetime(2013, 4, 1))


def test_a_trained_version_keeps_its_reference_profile(tmp_path: Path) -> None:
    config = repo_config({"registry.path": str(tmp_path / "registry")})

    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)

    registry = open_registry(config.registry, config.name)
    stored = registry.load_attachment(record.version, QUALITY_ATTACHMENT)
    assert stored is not None
    profile = QualityProfile.from_dict(json.loads(stored))
    assert profile == build_profile(config, registry.load_reference(record.version))
    assert [column.name for column in profile.columns] == config.data.features
    assert profile.rows == record.training_rows


def test_a_version_without_quality_json_is_checked_on_a_computed_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = repo_config({"registry.path": str(tmp_path / "registry")})
    monkeypatch.setattr(attachments, "BUILDERS", {})  # registered as before the gate
    stores = open_stores(config)
    record = train_challenger(config, stores, TRAINING, "test", HOLDOUT)
    assert stores.registry.load_attachment(record.version, QUALITY_ATTACHMENT) is None
    window = load_window(config, HOLDOUT, source=stores.source)

    report = check_frame_quality(config, stores.registry, record.version, window)

    assert report is not None and not report.failed
    (note,) = report.notes
    assert note.startswith(
        f"version {record.version} was registered without quality.json: its quality profile "
        "was computed from its stored reference"
    )
    broken = check_frame_quality(
        config, stores.registry, record.version, window.assign(temp_max=window["temp_max"] * 1000)
    )
    assert broken is not None and broken.failing_columns == ["temp_max"]


def test_nothing_is_checked_when_the_gate_is_off(tmp_path: Path) -> None:
    config = repo_config(
        {"registry.path": str(tmp_path / "registry"), "data_quality.enabled": False}
    )
    stores = open_stores(config)
    record = train_challenger(config, stores, TRAINING, "test", HOLDOUT)
    window = load_window(config, HOLDOUT, source=stores.source)
    assert check_frame_quality(config, stores.registry, record.version, window) is None
