"""The quality profile kept with a version, and the one computed for a version without it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tasks.config import Config
from tasks.core.quality import QualityProfile, check_quality, quality_rules
from tasks.core.windows import Window
from tasks.errors import DataError
from tasks.steps import attachments
from tasks.steps.quality import (
    QUALITY_ATTACHMENT,
    build_profile,
    check_frame_quality,
    numbers_for_model,
)
from tasks.steps.training import train_challenger
from tasks.stores.data import load_window
from tasks.stores.registry import open_registry
from tasks.stores.resources import open_stores
from tests.helpers import DEMO_DATA, repo_config

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


def _text_window(config: Config) -> tuple[QualityProfile, pd.DataFrame]:
    """A reference with numbers, and a window whose wind arrived as text with "n/a" in it."""
    reference = pd.DataFrame(
        {
            "timestamp": pd.date_range("2012-01-01", periods=60, freq="D"),
            "precipitation": [float(i % 7) for i in range(60)],
            "temp_max": [10.0 + i % 9 for i in range(60)],
            "temp_min": [1.0 + i % 5 for i in range(60)],
            "wind": [2.0 + (i % 11) / 2 for i in range(60)],
        }
    )
    window = reference.assign(
        wind=[("n/a" if i % 4 == 0 else str(2.0 + (i % 11) / 2)) for i in range(60)]
    ).astype({"wind": object})
    return build_profile(config, reference), window


@pytest.mark.parametrize("action", ["block", "warn"])
def test_text_in_a_numerical_feature(action: str) -> None:
    config = repo_config({"data_quality.action": action})
    profile, window = _text_window(config)
    report = check_quality(profile, window, quality_rules(config.data_quality))
    assert report.failing_columns == ["wind"]
    assert "wind type text (reference numeric)" in report.summary()

    if action == "block":
        converted = numbers_for_model(config, window, report, "the window")
        assert pd.api.types.is_float_dtype(converted["wind"])
        assert converted["wind"].isna().sum() == 15  # the "n/a" rows
        assert converted["wind"].iloc[1] == pytest.approx(2.5)
        assert window["wind"].iloc[0] == "n/a"  # the caller's frame is left as it was
        return
    with pytest.raises(DataError) as raised:
        numbers_for_model(config, window, report, "the window")
    assert str(raised.value).startswith(
        "numerical feature 'wind' in the window holds non-numbers such as 'n/a' (15 of 60 "
        "values); data_quality.action is warn"
    )
    assert "set data_quality.action: block" in str(raised.value)


@pytest.mark.parametrize(
    "changes", [{"data_quality.enabled": False}, {"data_quality.tolerances.dtype": None}]
)
def test_text_in_a_numerical_feature_no_check_judged(changes: dict[str, Any]) -> None:
    config = repo_config(changes)
    profile, window = _text_window(config)
    report = (
        check_quality(profile, window, quality_rules(config.data_quality))
        if config.data_quality.enabled
        else None
    )
    with pytest.raises(DataError) as raised:
        numbers_for_model(config, window, report, "the window")
    assert "numerical feature 'wind' in the window holds non-numbers such as 'n/a'" in str(
        raised.value
    )
    assert "turn the data-quality type check on" in str(raised.value)


def test_numbers_in_numerical_features_pass_through() -> None:
    config = repo_config()
    profile, window = _text_window(config)
    window = window.assign(wind=[2.0] * 60)
    report = check_quality(profile, window, quality_rules(config.data_quality))
    assert numbers_for_model(config, window, report, "the window") is window


def test_load_window_keeps_text_for_the_type_check_when_asked(tmp_path: Path) -> None:
    data = tmp_path / "log"
    data.mkdir()
    frame = pd.read_parquet(DEMO_DATA / "weather-2013.parquet")
    frame["wind"] = frame["wind"].map(str).astype(object)
    frame.loc[3, "wind"] = "n/a"
    frame.to_parquet(data / "weather-2013.parquet", index=False)
    config = repo_config({"data.source.path": str(data)})

    kept = load_window(config, HOLDOUT, keep_text_features=True)
    assert kept["wind"].tolist()[3:5] == ["n/a", frame["wind"].tolist()[4]]
    with pytest.raises(DataError, match=r"numerical feature 'wind' .* such as 'n/a'"):
        load_window(config, HOLDOUT)
