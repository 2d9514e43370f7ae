"""Measuring the current window against the champion's reference data."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.config import Config
from tasks.data import load_window
from tasks.evidently_report import compute_signals
from tasks.history import RunRecord, open_history
from tasks.modeling import check_known_labels, predict_labels
from tasks.policy import TriggerDecision, decide_retrain
from tasks.registry import open_registry
from tasks.signals import Signals
from tasks.windows import Window


@task(name="measure-window", cache_policy=NO_CACHE)
def measure_window(
    config: Config, window: Window, champion_version: str, report_dir: Path | None
) -> Signals:
    """Drift, prediction drift and performance signals of window for the champion, with
    Evidently's HTML reports in report_dir (none when it is None)."""
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
    reference_predictions = (
        predict_labels(champion, reference, config.data.features)
        if config.policy.prediction_drift.enabled
        else None
    )
    signals = compute_signals(
        config,
        current,
        reference,
        predictions,
        source,
        report_dir,
        reference_predictions=reference_predictions,
        timestamps=current[config.data.timestamp_column],
    )
    logger.info(
        "window %s: %d rows, drift share %.2f, performance %s",
        window,
        signals.current_rows,
        signals.drift_share,
        f"{signals.performance.value:.3f}" if signals.performance else "n/a",
    )
    return signals


@task(name="decide-retrain", cache_policy=NO_CACHE)
def decide_on_history(
    config: Config, signals: Signals, as_of: datetime, champion: str
) -> TriggerDecision:
    """The policy's decision on this run's signals and the recent monitoring history."""
    history = open_history(config.registry.path)
    return decide_retrain(
        signals,
        config.policy,
        history.recent(config.name, as_of, config.policy.history_runs),
        as_of=as_of,
        champion=champion,
        last_retrain_as_of=history.last_retrain(config.name, as_of),
    )


@task(name="record-run", cache_policy=NO_CACHE)
def record_run(
    config: Config,
    as_of: datetime,
    champion: str,
    decision: TriggerDecision,
    status: str,
    *,
    bootstrapped: bool = False,
) -> int:
    """Append this monitor run (signals summary, decision, action taken) to the history."""
    retrained = decision.retrain
    return open_history(config.registry.path).record(
        config.name,
        RunRecord(
            as_of=as_of,
            champion=champion,
            decision=decision,
            status=status,
            retrained=retrained,
            promoted=status == "promoted",
            details={"bootstrapped": bootstrapped, "confirmed": list(decision.confirmed)},
        ),
    )
