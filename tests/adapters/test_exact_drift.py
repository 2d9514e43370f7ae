"""Drift on every row against a reference profile agrees with Evidently on every row.

Evidently is the oracle: the same windows go through compute_signals with a profile (our
statistics) and without one on all rows (Evidently's), and each column's method, score,
threshold and flag must match (scores within a relative 1e-6).
"""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tasks.adapters.evidently_report import compute_signals
from tasks.config import Config, load_config, parse_config
from tasks.core.profiles import build_profile, profile_from_bytes, profile_to_bytes
from tasks.core.signals import ColumnDrift, Signals
from tasks.core.windows import Window
from tasks.stores.data import load_window

NUMERIC = ["x", "y", "few", "constant"]
CATEGORICAL = ["level", "code"]


def _frame(rows: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, rows)
    x = rng.normal(shift, 1, rows)
    x[rng.random(rows) < 0.03] = np.nan  # missing values on both sides
    levels = np.array(["a", "b", "c", "d"], dtype=object)
    weights = np.array([4, 3, 2, 1 + 6 * shift])
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=rows, freq="min"),
            "x": x,
            "y": np.round(rng.exponential(1 + shift, rows), 1),  # ties
            "few": rng.integers(0, 4 + int(shift > 0.2), rows).astype(float),
            "constant": np.full(rows, 2.5),
            "level": rng.choice(levels, rows, p=weights / weights.sum()),
            "code": rng.choice(np.array([10, 20]), rows, p=[0.5 + shift / 2, 0.5 - shift / 2]),
            "label": label,
            "prediction": np.where(rng.random(rows) < 0.8 - shift, label, 1 - label),
        }
    )


def _config(
    tmp_path: Path, column_drift: dict[str, Any] | None = None, report_columns: int | None = 100
) -> Config:
    return parse_config(
        {
            "name": "exact",
            "data": {
                "source": {"kind": "files", "path": "log"},
                "timestamp_column": "timestamp",
                "target_column": "label",
                "numerical_features": NUMERIC,
                "categorical_features": CATEGORICAL,
                "prediction_column": "prediction",
            },
            "model": {"estimator": "sklearn.dummy.DummyClassifier"},
            "policy": {
                "performance_metric": {"name": "f1", "average": "binary", "pos_label": 1},
                "performance_threshold": 0.5,
                "drift_threshold": 0.5,
                "column_drift": column_drift or {},
            },
            "windows": {"current": "1d", "training": "1d", "holdout": "1d"},
            "sampling": {
                "drift_rows": None,
                "report_rows": 1_000,
                "report_columns": report_columns,
                "seed": 1,
            },
            "registry": {"path": "registry"},
            "reports": {"path": "reports"},
        },
        tmp_path,
    )


def _both(
    config: Config,
    current: pd.DataFrame,
    reference: pd.DataFrame,
    reference_predictions: np.ndarray,
    report_dir: Path | None = None,
) -> tuple[Signals, Signals]:
    """(ours: every row against the stored profile, Evidently on every row)."""
    data = config.data
    stored = profile_to_bytes(
        build_profile(
            reference, data.numerical_features, data.categorical_features, reference_predictions
        )
    )
    predictions = current["prediction"].to_numpy()
    ours = compute_signals(
        config,
        current,
        reference,
        predictions,
        "logged",
        report_dir,
        reference_predictions=reference_predictions,
        profile=profile_from_bytes(stored),
    )
    evidently = compute_signals(
        config,
        current,
        reference,
        predictions,
        "logged",
        None,
        reference_predictions=reference_predictions,
    )
    return ours, evidently


def _assert_same(ours: ColumnDrift | None, evidently: ColumnDrift | None) -> None:
    assert ours is not None and evidently is not None
    assert (ours.column, ours.method, ours.threshold) == (
        evidently.column,
        evidently.method,
        evidently.threshold,
    )
    assert ours.score == pytest.approx(evidently.score, rel=1e-6, abs=1e-12), ours.column
    assert ours.drifted == evidently.drifted, ours.column


@pytest.mark.parametrize(
    ("reference_rows", "current_rows", "seed", "shift"),
    [(600, 400, 1, 0.0), (900, 1_500, 2, 0.3), (3_000, 2_000, 3, 0.05), (5_000, 800, 4, 0.3)],
)
def test_every_column_and_the_predictions_agree_with_evidently_on_all_rows(
    tmp_path, reference_rows, current_rows, seed, shift
):
    config = _config(tmp_path)
    reference = _frame(reference_rows, seed, 0.0)
    current = _frame(current_rows, seed + 100, shift)
    ours, evidently = _both(config, current, reference, reference["prediction"].to_numpy())
    assert [c.column for c in ours.columns] == [c.column for c in evidently.columns]
    for mine, theirs in zip(ours.columns, evidently.columns, strict=True):
        _assert_same(mine, theirs)
    _assert_same(ours.prediction_drift, evidently.prediction_drift)
    assert ours.drift_share == evidently.drift_share
    assert ours.drift_rows_current == current_rows and not ours.sampled


def test_configured_methods_agree_and_one_not_computed_here_is_evidentlys(tmp_path):
    overrides = {
        "x": {"method": "mannw"},  # not computed here: Evidently on the report's sample
        "y": {"method": "ks"},
        "few": {"method": "kl_div"},
        "constant": {"method": "psi", "threshold": 0.05},
        "level": {"method": "jensenshannon", "threshold": 0.02},
        "code": {"threshold": 0.2},
    }
    config = _config(tmp_path, overrides)
    reference = _frame(4_000, 7, 0.0)
    current = _frame(3_000, 8, 0.2)
    ours, evidently = _both(config, current, reference, reference["prediction"].to_numpy())
    by_column = {c.column: c for c in evidently.columns}
    for column in ours.columns:
        if column.column != "x":
            _assert_same(column, by_column[column.column])
    # The same seeded sample Evidently tests when drift_rows asks for it (report_rows rows).
    sampled = config.model_copy(
        update={"sampling": config.sampling.model_copy(update={"drift_rows": 1_000})}
    )
    on_sample = compute_signals(
        sampled,
        current,
        reference,
        current["prediction"].to_numpy(),
        "logged",
        None,
        reference_predictions=reference["prediction"].to_numpy(),
    )
    _assert_same(ours.columns[0], on_sample.columns[0])
    assert ours.columns[0].method == "mannw"


def test_the_html_report_is_drawn_on_a_sample_and_says_so(tmp_path):
    config = _config(tmp_path)
    reference = _frame(3_000, 9, 0.0)
    current = _frame(2_500, 10, 0.2)
    ours, _ = _both(
        config, current, reference, reference["prediction"].to_numpy(), tmp_path / "reports"
    )
    assert ours.report_rows_current == 1_000 and ours.report_rows_reference == 1_000
    assert ours.drift_rows_current == 2_500 and ours.drift_rows_reference == 3_000
    assert any(Path(path).name == "drift.html" for path in ours.report_paths)


def test_a_wide_report_shows_the_drifted_columns_first_and_tests_every_one(tmp_path, monkeypatch):
    from tasks.adapters import evidently_report

    shown: list[list[str] | None] = []
    run_drift = evidently_report._run_drift

    def spy(config, current, reference, pair, features=None):
        shown.append(features)
        return run_drift(config, current, reference, pair, features)

    monkeypatch.setattr(evidently_report, "_run_drift", spy)
    config = _config(tmp_path, report_columns=2)
    reference = _frame(3_000, 11, 0.0)
    current = _frame(2_000, 12, 0.3)
    ours, evidently = _both(
        config, current, reference, reference["prediction"].to_numpy(), tmp_path / "reports"
    )
    assert ours.report_columns == 2 and len(ours.columns) == len(NUMERIC + CATEGORICAL)
    drifted = [c.column for c in ours.columns if c.drifted]
    assert len(drifted) >= 2 and shown[0] == drifted[:2]
    for mine, theirs in zip(ours.columns, evidently.columns, strict=True):
        _assert_same(mine, theirs)


@pytest.mark.parametrize(
    ("start", "end"), [("2014-01-01", "2014-04-01"), ("2013-04-01", "2015-12-31")]
)
def test_the_demos_real_weather_windows_agree_with_evidently(write_config, start, end):
    config = load_config(write_config({"sampling": {"drift_rows": None}}))
    reference = load_window(config, Window(datetime(2012, 1, 1), datetime(2013, 1, 1)))
    current = load_window(
        config, Window(datetime.fromisoformat(start), datetime.fromisoformat(end))
    )
    # A fixed "model": the same rule on both sides, so the predictions drift with the weather.
    reference_predictions = np.where(reference["precipitation"] > 0, "rain", "sun")
    current = current.assign(prediction=np.where(current["precipitation"] > 0, "rain", "sun"))
    ours, evidently = _both(config, current, reference, reference_predictions)
    for mine, theirs in zip(ours.columns, evidently.columns, strict=True):
        _assert_same(mine, theirs)
    _assert_same(ours.prediction_drift, evidently.prediction_drift)


def _fragmented(frame: pd.DataFrame, extra: int = 120) -> pd.DataFrame:
    """frame with extra columns inserted one by one (one block each), as a wide window may be."""
    frame = frame.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        for index in range(extra):
            frame[f"extra_{index}"] = float(index)
    return frame


def test_a_wide_fragmented_window_is_reported_without_pandas_warning(tmp_path):
    config = _config(tmp_path)
    reference = _frame(3_000, 13, 0.0)
    current = _fragmented(_frame(2_500, 14, 0.2))
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        ours, evidently = _both(
            config, current, reference, reference["prediction"].to_numpy(), tmp_path / "reports"
        )
    assert ours.report_rows_current == 1_000 and any(
        Path(path).name == "drift.html" for path in ours.report_paths
    )
    for mine, theirs in zip(ours.columns, evidently.columns, strict=True):
        _assert_same(mine, theirs)


def test_without_a_report_evidently_does_not_run_and_the_window_is_not_sampled(
    tmp_path, monkeypatch
):
    from tasks.adapters import evidently_report

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the window was sampled (copied) for a report that is not drawn")

    monkeypatch.setattr(evidently_report, "sample_with_column", refuse)
    monkeypatch.setattr(evidently_report, "_run_drift", refuse)
    config = _config(tmp_path)
    reference = _frame(3_000, 15, 0.0)
    current = _frame(2_500, 16, 0.2)
    stored = profile_to_bytes(
        build_profile(reference, NUMERIC, CATEGORICAL, reference["prediction"].to_numpy())
    )
    signals = compute_signals(
        config,
        current,
        reference,
        current["prediction"].to_numpy(),
        "logged",
        None,
        reference_predictions=reference["prediction"].to_numpy(),
        profile=profile_from_bytes(stored),
    )
    assert signals.drift_rows_current == 2_500 and signals.report_rows_current is None
    assert len(signals.columns) == len(NUMERIC + CATEGORICAL) and signals.report_paths == ()
