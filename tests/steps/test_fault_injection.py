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


def test_the_checks_alone_flag_the_broken_window_and_pass_the_clean_ones(tmp_path: Path) -> None:
    from tasks.steps.backtest import bootstrap_champion, scratch_config
    from tasks.steps.fault_injection import check_replayed_windows
    from tasks.stores.resources import open_stores
    from tests.helpers import repo_config

    config = scratch_config(repo_config(), tmp_path / "replay")
    stores = open_stores(config)
    champion = bootstrap_champion(config, stores, WINDOWS[0])
    broken = faulted_log_config(
        config, WINDOWS, [Fault(1, "unit-x1000", "temp_max")], tmp_path / "faulted"
    )

    clean = check_replayed_windows(config, stores.registry, WINDOWS, [champion, champion])
    faulted = check_replayed_windows(broken, stores.registry, WINDOWS, [champion, champion])

    assert [report.failed for report in clean] == [False, False]
    assert not faulted[0].failed  # the window before the fault is the clean one
    assert [(f.check, f.column) for f in faulted[1].failures] == [("range", "temp_max")]
    assert faulted[1].failures[0].value == pytest.approx(1.0)  # every value out of range
