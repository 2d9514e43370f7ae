"""A binary log whose integer labels have gaps (rows not labelled yet): every part of the loop
shows the classes as the log wrote them, 0 and 1, never 0.0 and 1.0."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tasks.adapters import evidently_report
from tasks.config import Config
from tasks.core.windows import Window
from tasks.render.reporting import render_comparison
from tasks.steps.monitoring import window_signals
from tasks.steps.promotion import evaluate_on_holdout, promote_challenger
from tasks.steps.training import train_challenger
from tasks.stores.resources import open_stores
from tests.helpers import repo_config

START = datetime(2020, 1, 1)


def _day(days: int) -> datetime:
    return START + timedelta(days=days)


@pytest.fixture
def binary_log(tmp_path: Path) -> Config:
    """200 days, two rows a day, label 1 when x (plus noise) is positive; every 17th row and
    the last 20 days not labelled yet. Written as CSV: blanks where a label is missing."""
    rng = np.random.default_rng(0)
    rows = 400
    x, z = rng.normal(size=rows), rng.normal(size=rows)
    labels = pd.array(((x + 0.5 * rng.normal(size=rows)) > 0).astype(int), dtype="Int64")
    log = pd.DataFrame(
        {"ts": [START + timedelta(hours=12 * i) for i in range(rows)], "x": x, "z": z}
    )
    log["label"] = labels
    log.loc[log.index[::17], "label"] = pd.NA
    log.loc[log.index[-40:], "label"] = pd.NA
    (tmp_path / "data").mkdir()
    log.to_csv(tmp_path / "data" / "log.csv", index=False)
    return repo_config(
        {
            "data.source": {"kind": "files", "path": str(tmp_path / "data"), "format": "csv"},
            "data.timestamp_column": "ts",
            "data.target_column": "label",
            "data.numerical_features": ["x", "z"],
            "registry.path": str(tmp_path / "registry"),
            "reports.path": str(tmp_path / "reports"),
            "policy.performance_metric": {"name": "f1", "average": "binary", "pos_label": 1},
            "policy.performance_threshold": 0.5,
            "policy.severe_performance_threshold": 0.3,
        }
    )


def test_integer_labels_with_gaps_are_0_and_1_everywhere(
    binary_log: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = binary_log
    stores = open_stores(config)
    registry = stores.registry
    first = train_challenger(
        config, stores, Window(_day(0), _day(60)), "first", Window(_day(60), _day(90))
    )
    bootstrap = evaluate_on_holdout(config, stores, Window(_day(60), _day(90)), first.version)
    assert promote_challenger(config, stores, bootstrap.comparison_id) == "promoted"
    second = train_challenger(
        config, stores, Window(_day(30), _day(90)), "second", Window(_day(90), _day(120))
    )
    comparison = evaluate_on_holdout(config, stores, Window(_day(90), _day(120)), second.version)
    shown: list[Any] = []
    original = evidently_report._run_performance

    def spy(config: Config, labelled: pd.DataFrame, predictions: np.ndarray) -> Any:
        shown.append((labelled[config.data.target_column].to_numpy(), predictions))
        return original(config, labelled, predictions)

    monkeypatch.setattr(evidently_report, "_run_performance", spy)
    # The current window: 15 days of the last 35 still await their labels.
    signals = window_signals(
        config, stores, Window(_day(165), _day(200)), first.version, tmp_path / "r"
    )

    # The models learnt the classes 0 and 1 (not 0.0 and 1.0), and so do their calibrations.
    for version in (first.version, second.version):
        classes = registry.load_model(version).classes_
        assert classes.dtype.kind == "i" and classes.tolist() == [0, 1]
    calibration = registry.load_calibration(first.version)
    assert calibration is not None and calibration["classes"] == [0, 1]
    # The gate's per-class guard names the class as the log wrote it.
    names = [guard.name for guard in comparison.guards]
    assert any(name.startswith("f1 of class '0' (") for name in names), names
    text = render_comparison(comparison)
    assert "class '0'" in text and "'0.0'" not in text and "'1.0'" not in text
    # Evidently's classification report gets integer labels and predictions.
    ((truth, predictions),) = shown
    assert truth.dtype.kind == "i" and predictions.dtype.kind == "i"
    assert sorted(set(truth.tolist()) | set(predictions.tolist())) == [0, 1]
    # The realised metric is measured on the labelled rows only.
    assert signals.performance is not None
    assert signals.performance.metric == "f1 (class 1)"
    # Rows 330-369: the first 30 are labelled but every 17th; the last 40 rows of the log not.
    assert signals.performance.labelled_rows == sum(1 for i in range(330, 360) if i % 17)
    assert signals.current_rows == 70
