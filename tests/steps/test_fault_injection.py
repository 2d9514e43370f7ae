"""The fault-injection backtest's copy of the log: broken where planned, read like the log."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from tasks.config import load_config
from tasks.core.faults import Fault
from tasks.core.windows import Window
from tasks.errors import ConfigError
from tasks.steps.fault_injection import faulted_log_config
from tasks.stores.data import load_window

WINDOWS = [
    Window(datetime(2013, 4, 1), datetime(2013, 5, 1)),
    Window(datetime(2013, 5, 1), datetime(2013, 5, 31)),
]


def test_the_replay_reads_a_copy_broken_in_its_window_and_the_log_is_untouched(
    write_config, tmp_path: Path
) -> None:
    config = load_config(write_config())
    faults = [Fault(0, "unit-x1000", "wind"), Fault(1, "half-rows-missing")]

    broken = faulted_log_config(config, WINDOWS, faults, tmp_path / "faulted")

    assert broken.data.source.path == tmp_path / "faulted"  # type: ignore[union-attr]
    assert [p.name for p in (tmp_path / "faulted").iterdir()] == ["log.parquet"]
    before = Window(datetime(2013, 1, 1), datetime(2013, 4, 1))
    original = {w: load_window(config, w) for w in [before, *WINDOWS]}
    copied = {w: load_window(broken, w) for w in [before, *WINDOWS]}
    # Outside the faulted windows the copy reads as the log does.
    assert copied[before].equals(original[before])
    np.testing.assert_allclose(copied[WINDOWS[0]]["wind"], original[WINDOWS[0]]["wind"] * 1000)
    assert copied[WINDOWS[0]].drop(columns="wind").equals(original[WINDOWS[0]].drop(columns="wind"))
    assert len(copied[WINDOWS[1]]) == len(original[WINDOWS[1]]) // 2
    # The config's own log was only read.
    assert load_window(config, WINDOWS[0])["wind"].equals(original[WINDOWS[0]]["wind"])


def test_a_fault_on_a_column_the_loop_does_not_read_is_refused(write_config, tmp_path) -> None:
    config = load_config(write_config())

    with pytest.raises(ConfigError, match="the log has no column 'humidity'"):
        faulted_log_config(config, WINDOWS, [Fault(0, "empty-column", "humidity")], tmp_path)
