"""A copy of the log with chosen windows broken, for the fault-injection backtest.

The log is read whole through its source (files or SQL), broken by `tasks.core.faults`, and
written as one Parquet file in a scratch directory; the replay then reads that copy through the
config it returns. The user's log is never written. `check_replayed_windows` runs the
data-quality checks alone on each replayed window, against the reference of the champion a
replay had then: what the checks say of a window, whatever the policy then does with it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from tasks.config import Config, FileSourceConfig
from tasks.core.faults import Fault, inject_faults
from tasks.core.quality import QualityProfile, QualityReport, check_quality, quality_rules
from tasks.core.windows import Window
from tasks.steps.quality import RECENT_WINDOWS, build_profile
from tasks.stores.data import load_window, log_columns, make_source, read_with_retries
from tasks.stores.registry import ModelRegistry

logger = logging.getLogger(__name__)

EVERYTHING = Window(datetime(1900, 1, 1), datetime(2200, 1, 1))


def faulted_log_config(
    config: Config,
    windows: Sequence[Window],
    faults: Sequence[Fault],
    directory: Path,
    seed: int = 0,
) -> Config:
    """The config reading a copy of its log with faults injected into their windows.

    windows: the replayed windows the faults' indices count. The copy is written to
    directory/log.parquet (replacing an earlier one).
    """
    data = config.data
    frame = read_with_retries(make_source(data), log_columns(data), EVERYTHING, data.read_retries)
    broken = inject_faults(frame, data.timestamp_column, windows, faults, seed)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.parquet"):
        old.unlink()
    broken.to_parquet(directory / "log.parquet", index=False)
    logger.info(
        "injected %d fault(s) into a copy of the log (%d rows, %d before): %s",
        len(faults),
        len(broken),
        len(frame),
        ", ".join(map(str, faults)),
    )
    source = FileSourceConfig(path=directory, format="parquet")
    return config.model_copy(update={"data": data.model_copy(update={"source": source})})


def check_replayed_windows(
    config: Config,
    registry: ModelRegistry,
    windows: Sequence[Window],
    champions: Sequence[str],
) -> list[QualityReport]:
    """The data-quality report of each window of config's log against its champion's reference.

    champions: the champion of each window (a replay's, from its scratch registry); the row
    count check compares each window with the RECENT_WINDOWS before it.
    """
    data = config.data
    rules = quality_rules(config.data_quality)
    source = make_source(data)
    profiles: dict[str, QualityProfile] = {}
    counts: list[int] = []
    reports = []
    for window, champion in zip(windows, champions, strict=True):
        rows = load_window(config, window, source=source)
        if champion not in profiles:
            profiles[champion] = build_profile(config, registry.load_reference(champion))
        reports.append(check_quality(profiles[champion], rows, rules, counts[-RECENT_WINDOWS:]))
        counts.append(len(rows))
    return reports
