"""Measuring the current window against the champion's reference data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.config import Config
from tasks.data import load_window
from tasks.evidently_report import compute_signals
from tasks.modeling import predict_labels
from tasks.registry import open_registry
from tasks.signals import Signals
from tasks.windows import Window


def measure(config: Config, window: Window, champion_version: str, report_dir: Path) -> Signals:
    """Drift and performance signals of window for the champion, with Evidently's HTML reports.

    Predictions are the logged ones where the log has them; the champion predicts the rest.
    """
    registry = open_registry(config.registry.path, config.name)
    current = load_window(config, window)
    # The champion's reference sample is drawn once and kept with the version.
    reference = registry.load_reference(
        champion_version, config.sampling.drift_rows, config.sampling.seed
    )
    logged_column = config.data.prediction_column
    if logged_column:
        predictions = current[logged_column].to_numpy(dtype=object, copy=True)
        missing = current[logged_column].isna().to_numpy()
    else:
        predictions = np.empty(len(current), dtype=object)
        missing = np.ones(len(current), dtype=bool)
    if missing.any():
        champion = registry.load_model(champion_version)
        predictions[missing] = predict_labels(champion, current[missing], config.data.features)
    # One dtype for all predictions (logged and filled-in), as the label column has.
    predictions = pd.Series(predictions).infer_objects().to_numpy()
    if not logged_column:
        source = "champion"
    else:
        source = "logged, champion where missing" if missing.any() else "logged"
    return compute_signals(
        config,
        current,
        reference,
        predictions,
        source,
        report_dir,
        reference_total_rows=registry.get_version(champion_version).training_rows,
    )


@task(name="measure-window", cache_policy=NO_CACHE)
def measure_window(
    config: Config, window: Window, champion_version: str, report_dir: Path
) -> Signals:
    """The monitor's measuring step (a Prefect task around measure)."""
    signals = measure(config, window, champion_version, report_dir)
    get_run_logger().info(
        "window %s: %d rows, drift share %.2f, performance %s",
        window,
        signals.current_rows,
        signals.drift_share,
        f"{signals.performance.value:.3f}" if signals.performance else "n/a",
    )
    return signals
