"""The reference profile on the demo log: stored at registration, read by the monitor; a
version registered without one has it built from its stored reference."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from tasks.core.profiles import PROFILE_NAME, CategoricalProfile, profile_from_bytes
from tasks.core.windows import Window
from tasks.steps.monitoring import window_signals
from tasks.steps.profiles import load_profile, profile_reference
from tasks.steps.training import train_challenger
from tasks.stores.registry import open_registry
from tasks.stores.resources import open_stores
from tests.helpers import make_lineage, repo_config

TRAINING = Window(datetime(2012, 1, 1), datetime(2013, 1, 1))
HOLDOUT = Window(datetime(2013, 1, 1), datetime(2013, 4, 1))
LATER = Window(datetime(2014, 1, 1), datetime(2014, 7, 1))  # after the labelling change


def _config(tmp_path: Path, **changes: object):
    return repo_config(
        {"registry.path": str(tmp_path / "registry"), "sampling.drift_rows": None, **changes}
    )


def test_a_trained_version_stores_its_reference_profile(tmp_path: Path) -> None:
    config = _config(tmp_path)
    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)
    registry = open_registry(config.registry, config.name)

    assert PROFILE_NAME in record.attachments  # recorded with its SHA-256
    stored = registry.load_attachment(record.version, PROFILE_NAME)
    assert stored is not None
    profile = profile_from_bytes(stored)
    reference = registry.load_reference(record.version)
    assert profile.rows == len(reference)
    assert list(profile.columns) == config.data.features
    temp_max = profile.columns["temp_max"]
    np.testing.assert_array_equal(temp_max.values, np.sort(reference["temp_max"].to_numpy()))
    predictions = profile.predictions
    assert isinstance(predictions, CategoricalProfile)
    assert predictions.count == len(reference)  # the champion's label on every reference row
    assert set(predictions.values.tolist()) <= {"drizzle", "fog", "rain", "snow", "sun"}


def test_a_version_without_a_profile_gets_one_from_its_stored_reference(tmp_path: Path) -> None:
    config = _config(tmp_path)
    trained = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)
    registry = open_registry(config.registry, config.name)
    model = registry.load_model(trained.version)
    reference = registry.load_reference(trained.version)
    # As registered before profiles were stored: no attachments at all.
    older = registry.register(model, reference, make_lineage())
    assert registry.load_attachment(older.version, PROFILE_NAME) is None

    built = load_profile(config, registry, older.version, lambda: model)
    expected = profile_reference(config, model, reference)
    assert built.rows == expected.rows == len(reference)
    for name, column in expected.columns.items():
        np.testing.assert_array_equal(built.columns[name].values, column.values)

    with_profile = window_signals(config, open_stores(config), LATER, trained.version, None)
    without = window_signals(config, open_stores(config), LATER, older.version, None)
    assert with_profile.columns == without.columns
    assert with_profile.prediction_drift == without.prediction_drift
    assert with_profile.drift_rows_current == with_profile.current_rows  # every row tested


def test_sampling_drift_rows_still_samples_with_evidently(tmp_path: Path) -> None:
    config = _config(tmp_path)
    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)
    every_row = window_signals(
        config, open_stores(config), LATER, record.version, tmp_path / "reports"
    )
    sampled_config = _config(tmp_path, **{"sampling.drift_rows": 1_000})
    sampled = window_signals(
        sampled_config, open_stores(sampled_config), LATER, record.version, None
    )
    # Fewer rows than the sample here: Evidently sees the same rows, and agrees.
    for ours, evidently in zip(every_row.columns, sampled.columns, strict=True):
        assert (ours.method, ours.drifted) == (evidently.method, evidently.drifted)
        assert ours.score == pytest.approx(evidently.score, rel=1e-6, abs=1e-12)
    # The HTML report saw every row too (fewer than sampling.report_rows): no sample to state.
    assert every_row.report_rows_current == every_row.current_rows
    assert not every_row.report_sampled and (tmp_path / "reports" / "drift.html").is_file()
    assert sampled.report_rows_current is None
