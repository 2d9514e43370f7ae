"""Measuring the current window against the champion's reference data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.config import Config
from tasks.data import load_window
from tasks.evidently_report import compute_signals
from tasks.modeling import check_known_labels, predict_labels
from tasks.registry import open_registry
from tasks.signals import Signals
from tasks.windows import Window


@task(name="measure-window", cache_policy=NO_CACHE)
def measure_window(
    config: Config, window: Window, champion_version: str, report_dir: Path
) -> Signals:
    """Drift and performance signals of window for the champion, with Evidently's HTML reports."""
    logger = get_run_logger()
    registry = open_registry(config.registry.path, config.name)
    current = load_window(config, window)
    reference = registry.load_reference(champion_version)
    champion = registry.load_model(champion_version)
    check_known_labels(
        champion,
        current[config.data.target_column],
        f"champion {champion_version}",
        "current window",
    )
    predictions = predict_labels(champion, current, config.data.features)
    source = "champion"
    logged_column = config.data.prediction_column
    if logged_column:
        logged = current[logged_column].to_numpy()
        has_logged = ~current[logged_column].isna().to_numpy()
        predictions = np.where(has_logged, logged, predictions)
        source = "logged" if has_logged.all() else "logged, champion where missing"
    signals = compute_signals(config, current, reference, predictions, source, report_dir)
    logger.info(
        "window %s: %d rows, drift share %.2f, performance %s",
        window,
        signals.current_rows,
        signals.drift_share,
        f"{signals.performance.value:.3f}" if signals.performance else "n/a",
    )
    return signals
