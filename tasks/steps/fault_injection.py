"""A copy of the log with chosen windows broken, for the fault-injection backtest.

The log is read whole through its source (files or SQL), broken by `tasks.core.faults`, and
written as one Parquet file in a scratch directory; the replay then reads that copy through the
config it returns. The user's log is never written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from tasks.config import Config, FileSourceConfig
from tasks.core.faults import Fault, inject_faults
from tasks.core.windows import Window
from tasks.stores.data import log_columns, make_source, read_with_retries

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
