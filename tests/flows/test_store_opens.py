"""A flow run opens each store once: the monitor, and the retrain and promote it runs inline."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flows.monitor import monitor_flow
from tasks.stores.data import FileLogSource, SqlLogSource
from tasks.stores.history import MonitorHistory
from tasks.stores.registry import LocalRegistry

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]


def _count_constructions(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count how often each store's class is constructed from now on."""
    opened: Counter[str] = Counter()
    for cls, name in (
        (LocalRegistry, "registry"),
        (MonitorHistory, "history"),
        (FileLogSource, "data source"),
        (SqlLogSource, "data source"),
    ):

        def counting(self: Any, *args: Any, _name: str = name, _init: Any = cls.__init__) -> None:
            opened[_name] += 1
            _init(self, *args)

        monkeypatch.setattr(cls, "__init__", counting)
    return opened


def test_a_monitor_run_that_bootstraps_retrains_and_promotes_opens_each_store_once(
    write_config: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = write_config({"registry": {"path": str(tmp_path / "registry")}})
    opened = _count_constructions(monkeypatch)

    result = monitor_flow(str(config_path), mode="inline")

    # Four subflow runs (bootstrap retrain and promote, then a retrain and a promotion) in
    # this process, all on the monitor's stores.
    assert result.bootstrap is not None and result.bootstrap.verdict == "promote"
    assert result.status == "promoted" and result.champion_after == "v0002"
    assert opened == {"registry": 1, "history": 1, "data source": 1}
