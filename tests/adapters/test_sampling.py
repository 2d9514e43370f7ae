"""Large windows: drift tested on a seeded sample, performance on every labelled row."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

from tasks.adapters.evidently_report import compute_signals
from tasks.config import Config, parse_config
from tasks.core.frames import sample_rows_of
from tasks.core.metrics import score_predictions
from tasks.core.outcomes import MonitorResult
from tasks.core.policy import decide_retrain
from tasks.core.windows import Window
from tasks.render.reporting import render_summary
from tasks.stores.registry import LocalRegistry
from tests.helpers import make_lineage


def _frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, rows)
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=rows, freq="min"),
            "x": rng.normal(shift, 1, rows),
            "level": rng.choice(np.array(["a", "b", "c"], dtype=object), rows),
            "label": label,
            "prediction": np.where(rng.random(rows) < 0.8, label, 1 - label),
        }
    )


def _config(tmp_path: Path, drift_rows: int | None) -> Config:
    return parse_config(
        {
            "name": "sampling",
            "data": {
                "source": {"kind": "files", "path": "log"},
                "timestamp_column": "timestamp",
                "target_column": "label",
                "numerical_features": ["x"],
                "categorical_features": ["level"],
                "prediction_column": "prediction",
            },
            "model": {"estimator": "sklearn.dummy.DummyClassifier"},
            "policy": {
                "performance_metric": {"name": "f1", "average": "binary", "pos_label": 1},
                "performance_threshold": 0.5,
                "drift_threshold": 0.5,
            },
            "windows": {"current": "1d", "training": "1d", "holdout": "1d"},
            "sampling": {"drift_rows": drift_rows, "seed": 3},
            "registry": {"path": "registry"},
            "reports": {"path": "reports"},
        },
        tmp_path,
    )


def test_sample_is_seeded_in_time_order_and_a_no_op_on_small_frames() -> None:
    frame = _frame(5_000, seed=0)

    first = sample_rows_of(frame, 1_000, seed=3)
    again = sample_rows_of(frame, 1_000, seed=3)
    other = sample_rows_of(frame, 1_000, seed=4)

    assert len(first) == 1_000
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    assert first["timestamp"].is_monotonic_increasing
    assert sample_rows_of(frame, 10_000, seed=3) is frame
    assert sample_rows_of(frame, None, seed=3) is frame


def test_drift_is_tested_on_the_sample_and_performance_on_all_labelled_rows(tmp_path: Path) -> None:
    config = _config(tmp_path, drift_rows=1_000)
    current = _frame(5_000, seed=1, shift=1.0)
    current.loc[current.index[:500], "label"] = np.nan  # labels that have not arrived
    reference = _frame(3_000, seed=2)

    signals = compute_signals(
        config, current, reference, current["prediction"].to_numpy(), "logged", tmp_path / "r"
    )

    assert (signals.drift_rows_current, signals.drift_rows_reference) == (1_000, 1_000)
    assert (signals.current_rows, signals.reference_rows) == (5_000, 3_000)
    assert signals.sampled and signals.sample_seed == 3
    assert {c.column: c.drifted for c in signals.columns} == {"x": True, "level": False}
    labelled = current["label"].notna().to_numpy()
    assert signals.performance is not None and signals.performance.labelled_rows == 4_500
    assert signals.performance.value == pytest.approx(
        score_predictions(
            config.policy.performance_metric,
            current["label"][labelled].astype(int).to_numpy(),
            current["prediction"][labelled].to_numpy(),
        )
    )
    summary = render_summary(
        MonitorResult(
            "drift-noted",
            "sampling",
            Window(datetime(2026, 1, 1), datetime(2026, 1, 2)),
            "v0001",
            "v0001",
            signals,
            decide_retrain(signals, config.policy),
            None,
            None,
        )
    )
    assert (
        "tested on a random sample (sampling.drift_rows, seed 3): 1,000 of 5,000 current rows"
        in summary
    )


def test_unsampled_when_the_window_is_small_enough(tmp_path: Path) -> None:
    config = _config(tmp_path, drift_rows=None)
    current, reference = _frame(2_000, seed=1), _frame(2_000, seed=2)

    signals = compute_signals(
        config, current, reference, current["prediction"].to_numpy(), "logged", tmp_path / "r"
    )

    assert not signals.sampled
    assert signals.drift_rows_current == 2_000


def test_reference_sample_is_drawn_once_per_champion(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry", "sampling")
    reference = _frame(4_000, seed=5)
    model = DummyClassifier().fit(reference[["x"]], reference["label"])
    version = registry.register(
        model,
        reference,
        make_lineage(
            estimator="sklearn.dummy.DummyClassifier",
            training_window={"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00"},
            training_rows=len(reference),
            data_fingerprint="x",
        ),
    ).version

    first = registry.load_reference(version, 1_000, seed=3)
    cached = registry.root / "versions" / version / "reference-sample-1000-3.parquet"
    written = cached.stat().st_mtime_ns
    second = registry.load_reference(version, 1_000, seed=3)

    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(first, sample_rows_of(reference, 1_000, 3))
    assert cached.stat().st_mtime_ns == written  # read back, not drawn again
    assert len(registry.load_reference(version)) == 4_000
    assert [v.version for v in registry.list_versions()] == [version]

    # A kept sample that no longer matches its digest is not trusted: it is drawn again.
    cached.write_bytes(cached.read_bytes()[:-100])
    pd.testing.assert_frame_equal(registry.load_reference(version, 1_000, seed=3), first)
    assert cached.stat().st_mtime_ns != written
    # So is one whose stamp is missing (a crash between the sample and its stamp).
    stamp = cached.with_name("reference-sample-1000-3.sha256.json")
    stamp.unlink()
    pd.testing.assert_frame_equal(registry.load_reference(version, 1_000, seed=3), first)
    assert stamp.is_file()
