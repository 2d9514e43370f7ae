"""The data-quality gate end to end: the demo log with a column broken in the monitored window."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

from flows.monitor import monitor_flow
from tasks.config import load_config
from tasks.errors import DataError
from tasks.stores.history import open_history
from tasks.stores.registry import LocalRegistry
from tests.helpers import DEMO_DATA

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

MODEL = "dq-broken-feed"
EVENT = "autoretrain.data.quality-failed"


def _broken_log(directory: Path) -> Path:
    """The demo log with wind empty from 2014-01-01 on (a feed that stopped sending it)."""
    shutil.copytree(DEMO_DATA, directory)
    path = directory / "weather-2014.parquet"
    frame = pd.read_parquet(path)
    frame["wind"] = np.where(
        frame["timestamp"] >= pd.Timestamp("2014-01-01"), np.nan, frame["wind"]
    )
    frame.to_parquet(path)
    return directory


def _quality_events() -> list[dict]:
    async def read() -> list[dict]:
        async with get_client() as client:
            page = await client.read_events(
                filter=EventFilter(
                    event=EventNameFilter(name=[EVENT]),
                    resource=EventResourceFilter(id=[f"autoretrain.model.{MODEL}"]),
                ),
                limit=50,
            )
        return [dict(event.payload) for event in page.events]

    deadline = time.monotonic() + 120  # events are written asynchronously: poll
    found = asyncio.run(read())
    while not found and time.monotonic() < deadline:
        time.sleep(0.5)
        found = asyncio.run(read())
    return found


def test_a_broken_column_is_a_data_issue_not_a_retrain(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config_path = write_config(
        {
            "name": MODEL,
            "data": {"source": {"path": str(_broken_log(tmp_path / "log"))}},
            "registry": {"path": str(tmp_path / "registry")},
        }
    )

    result = monitor_flow(str(config_path))

    # Today's policy retrains and promotes on this window (tests/flows/test_flows.py); with a
    # column broken, the data looks broken, not the model: no retrain, the champion stays.
    assert result.decision.action == "data-issue"
    assert result.status == "data-issue"
    assert not result.decision.retrain and result.comparison is None
    assert result.champion_before == result.champion_after == "v0001"
    config = load_config(config_path)
    registry = LocalRegistry(config.registry.path, config.name)
    assert [version.version for version in registry.list_versions()] == ["v0001"]
    # The profile the checks used was stored with the champion at registration.
    assert "quality.json" in registry.get_version("v0001").attachments
    quality = result.signals.quality
    assert quality is not None and quality.failing_columns == ["wind"]
    assert quality.notes == ()  # from quality.json, not recomputed
    missing = next(f for f in quality.failures if f.check == "missing")
    assert missing.value == pytest.approx(1.0) and missing.reference == pytest.approx(0.0)
    # The broken column is data quality, not drift: it is not drift-tested.
    assert "wind" not in [column.column for column in result.signals.columns]
    assert len(result.signals.columns) == 3
    assert result.decision.reason_codes[0].code == "data-quality-failed"
    assert "the data looks broken, not the model" in result.decision.reasons[0]
    # The history keeps the report in the run's details.
    (row,) = open_history(config.registry.path).rows(MODEL)
    assert row["decision"] == "data-issue" and row["status"] == "data-issue"
    assert not row["retrained"] and not row["promoted"]
    details = json.loads(row["details"])
    assert details["data_quality"]["failing_columns"] == ["wind"]
    assert details["reason_codes"][0]["code"] == "data-quality-failed"
    # And the event an alert notifies on, with the failing columns and numbers.
    (event,) = _quality_events()
    assert event["failing_columns"] == ["wind"]
    assert event["failures"][0]["check"] == "missing" and event["failures"][0]["value"] == 1.0
    assert event["decision"] == "data-issue" and event["action"] == "block"
    assert "wind missing share 1.000" in event["summary"]


def _text_log(directory: Path) -> Path:
    """The demo log with wind written as text ("12.5") in every file, and "n/a" in every
    fifth row from 2014-01-01 on (a feed that started sending text for a missing reading)."""
    shutil.copytree(DEMO_DATA, directory)
    for path in sorted(directory.glob("*.parquet")):
        frame = pd.read_parquet(path)
        wind = frame["wind"].map(str).astype(object)
        broken = (frame["timestamp"] >= pd.Timestamp("2014-01-01")) & (frame.index % 5 == 0)
        wind[broken] = "n/a"
        frame["wind"] = wind
        frame.to_parquet(path, index=False)
    return directory


def test_text_in_a_numeric_column_is_a_data_issue_not_a_crash(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    name = "dq-text-feed"
    config_path = write_config(
        {
            "name": name,
            "data": {"source": {"path": str(_text_log(tmp_path / "log"))}},
            "registry": {"path": str(tmp_path / "registry")},
        }
    )

    result = monitor_flow(str(config_path))

    # The champion (trained on 2012, whose text is all numbers) is not asked to predict on
    # "n/a": the type check decides, the run ends as a data issue, the champion stays.
    assert result.decision.action == "data-issue" and result.status == "data-issue"
    assert not result.decision.retrain and result.comparison is None
    assert result.champion_before == result.champion_after == "v0001"
    config = load_config(config_path)
    registry = LocalRegistry(config.registry.path, config.name)
    assert [version.version for version in registry.list_versions()] == ["v0001"]
    quality = result.signals.quality
    assert quality is not None and quality.failing_columns == ["wind"]
    (dtype,) = [f for f in quality.failures if f.check == "dtype"]
    assert (dtype.value, dtype.reference) == ("text", "numeric")
    assert "wind type text (reference numeric)" in quality.summary()
    assert "wind" not in [column.column for column in result.signals.columns]
    assert result.decision.reason_codes[0].code == "data-quality-failed"
    (row,) = open_history(config.registry.path).rows(name)
    assert row["decision"] == "data-issue" and not row["retrained"] and not row["promoted"]
    details = json.loads(row["details"])
    assert details["data_quality"]["failing_columns"] == ["wind"]


def test_text_in_a_numeric_column_under_warn_is_a_clear_error(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config_path = write_config(
        {
            "name": "dq-text-feed-warn",
            "data": {"source": {"path": str(_text_log(tmp_path / "log"))}},
            "registry": {"path": str(tmp_path / "registry")},
            "data_quality": {"action": "warn"},
        }
    )

    with pytest.raises(DataError) as raised:
        monitor_flow(str(config_path))

    message = str(raised.value)
    assert "numerical feature 'wind'" in message and "'n/a'" in message
    assert "data_quality.action is warn" in message
    assert "data_quality.action: block" in message and "categorical_features" in message
    # The bootstrap made the champion; the failed run left it and nothing else behind.
    config = load_config(config_path)
    registry = LocalRegistry(config.registry.path, config.name)
    assert [version.version for version in registry.list_versions()] == ["v0001"]
    assert registry.get_alias("champion") == "v0001"
    assert open_history(config.registry.path).rows("dq-text-feed-warn") == []
