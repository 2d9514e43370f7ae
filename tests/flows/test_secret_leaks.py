"""The demo's data URL given by ${ENV_VAR} and by a Prefect Secret block: full monitor -> retrain
-> promote runs (and failing ones) under a real temporary Prefect server, with every output they
produce scanned for the secret: logs, exceptions, the CLI's output and summary, artifacts,
events, flow and task runs, the lineage, the comparison JSON, the monitoring history, the
reports, the config's repr, and the bytes of the Prefect server's own database."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterStartTime,
    LogFilter,
    LogFilterTimestamp,
)
from prefect.events.filters import EventFilter, EventOccurredFilter
from pydantic import BaseModel, SecretStr

from flows.monitor import main as monitor_main
from flows.monitor import monitor_flow
from tasks.config import SqlSourceConfig
from tasks.errors import DataError
from tasks.orchestration.runtime import load_run_config
from tasks.render.reporting import render_summary
from tests.helpers import demo_log_in_sqlite

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

Filter = TypeVar("Filter", bound=BaseModel)

# Stands for the password: the database's directory carries it, so the URL as a whole, or any
# rendering of the path, gives it away. Random per session: nothing else can contain it.
TOKEN = f"tok{uuid.uuid4().hex[:16]}"


@pytest.fixture
def warehouse(tmp_path: Path) -> str:
    """The demo's production log (data/seattle/*.parquet) as a SQLite table; its URL."""
    directory = tmp_path / f"vault-{TOKEN}"
    directory.mkdir()
    return demo_log_in_sqlite(directory)


def _write(write_config, tmp_path: Path, name: str, url: object, table: str) -> Path:
    return write_config(
        {
            "name": name,
            "data": {
                "source": {"kind": "sql", "url": url, "table": table, "path": None, "format": None},
                "read_retries": {"attempts": 2, "backoff_seconds": 0},
            },
            "registry": {"path": str(tmp_path / "registry")},
            "reports": {"path": str(tmp_path / "reports")},
        }
    )


def _reference(how: str, url: str, monkeypatch: pytest.MonkeyPatch, name: str) -> object:
    """The config's url: ${VARIABLE} set to url, or a Secret block holding it."""
    if how == "environment":
        monkeypatch.setenv("AUTORETRAIN_WAREHOUSE_URL", url)
        return "${AUTORETRAIN_WAREHOUSE_URL}"
    Secret(value=SecretStr(url)).save(name, overwrite=True)
    return {"secret": name}


class Outputs:
    """Every text a run produced, by where it came from."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def add(self, where: str, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        self.texts[where] = self.texts.get(where, "") + text

    def joined(self, prefix: str) -> str:
        """All texts whose source starts with prefix (a database and its journal files)."""
        return "\n".join(text for where, text in self.texts.items() if where.startswith(prefix))

    def assert_secret_never_shows(self, secret: str) -> None:
        leaks = {}
        for where, text in self.texts.items():
            at = text.find(secret)
            if at >= 0:
                leaks[where] = text[max(0, at - 150) : at + len(secret) + 30]
        details = "\n".join(f"- {where}: ...{context}..." for where, context in leaks.items())
        assert not leaks, f"the secret shows in {sorted(leaks)}:\n{details}"


def _flush_run_logs_and_events() -> None:
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)
    EventsWorker.drain_all(timeout=30)


def _validated(model: type[Filter], **fields: object) -> Filter:
    """Validate a Prefect filter: pydantic turns a datetime into its annotated DateTime."""
    return model.model_validate(fields)


def _read_prefect_records(since: datetime, name: str, until_event: str) -> dict[str, str]:
    """Logs, events, artifacts, flow runs and task runs the server holds since `since`."""

    async def read() -> tuple[dict[str, str], set[str]]:
        async with get_client() as client:
            logs, offset = [], 0
            while True:
                page = await client.read_logs(
                    log_filter=LogFilter(timestamp=_validated(LogFilterTimestamp, after_=since)),
                    limit=200,
                    offset=offset,
                )
                logs += page
                offset += len(page)
                if len(page) < 200:
                    break
            events = []
            events_page = await client.read_events(
                filter=EventFilter(occurred=_validated(EventOccurredFilter, since=since)), limit=50
            )
            events += events_page.events
            while events_page.next_page:
                events_page = await client.read_events_page(str(events_page.next_page))
                events += events_page.events
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_=name))
            )
            flow_runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    start_time=_validated(FlowRunFilterStartTime, after_=since)
                )
            )
            task_runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(any_=[run.id for run in flow_runs])
                )
            )
        records = {
            "prefect run logs": "\n".join(log.model_dump_json() for log in logs),
            "prefect events": "\n".join(event.model_dump_json() for event in events),
            "prefect artifacts": "\n".join(a.model_dump_json() for a in artifacts),
            "prefect flow runs (parameters, states)": "\n".join(
                run.model_dump_json() for run in flow_runs
            ),
            "prefect task runs": "\n".join(run.model_dump_json() for run in task_runs),
        }
        return records, {event.event for event in events}

    # Events are written asynchronously: wait for the run's last one, up to a deadline (not a
    # count of tries: a busy server takes longer).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        records, names = asyncio.run(read())
        if until_event in names:
            return records
        time.sleep(0.5)
    raise AssertionError(f"the server never recorded {until_event}")


def _server_database() -> Iterator[tuple[str, bytes]]:
    """The bytes of the temporary Prefect server's SQLite database (and its journal files)."""
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    url = PREFECT_SERVER_DATABASE_CONNECTION_URL.value()
    path = Path(url.split(":///", 1)[1])
    for file in sorted(path.parent.glob(f"{path.name}*")):
        yield f"prefect server database {file.name}", file.read_bytes()


def _collect_common(
    outputs: Outputs,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    since: datetime,
    name: str,
    until_event: str,
) -> None:
    _flush_run_logs_and_events()
    for where, text in _read_prefect_records(since, name, until_event).items():
        outputs.add(where, text)
    captured = capfd.readouterr()
    outputs.add("stdout (CLI summary, console logs)", captured.out)
    outputs.add("stderr (CLI errors, console logs)", captured.err)
    outputs.add("python logging (caplog, with tracebacks)", caplog.text)
    for root in (tmp_path / "registry", tmp_path / "reports"):
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            # lineage (metadata.json), comparisons, the monitoring history, Evidently reports
            outputs.add(f"file {file.relative_to(tmp_path)}", file.read_bytes())
    for where, data in _server_database():
        outputs.add(where, data)


def _config_texts(outputs: Outputs, config_path: Path) -> None:
    config = load_run_config(str(config_path))
    assert isinstance(config.data.source, SqlSourceConfig)
    assert TOKEN in config.data.source.url.reveal()  # the value is there, only never shown
    outputs.add("repr(config)", repr(config))
    outputs.add("str(config)", str(config))
    outputs.add("config.model_dump_json()", config.model_dump_json())
    outputs.add("config.model_dump()", str(config.model_dump()))


@pytest.mark.parametrize("how", ["environment", "secret-block"])
def test_the_demo_runs_with_its_url_as_a_reference_and_never_shows_it(
    how, write_config, tmp_path, warehouse, monkeypatch, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    name = f"leak-{how}"
    since = datetime.now(UTC)
    reference = _reference(how, warehouse, monkeypatch, f"warehouse-url-{uuid.uuid4().hex[:8]}")
    config_path = _write(write_config, tmp_path, name, reference, "weather_log")
    outputs = Outputs()
    _config_texts(outputs, config_path)

    result = monitor_flow(str(config_path))

    # The demo's story, read through the secret URL: bootstrap, drift, retrain, promotion.
    assert result.bootstrap is not None and result.bootstrap.verdict == "promote"
    assert result.signals.current_rows == 90
    assert result.decision.retrain
    assert result.status == "promoted" and result.champion_after == "v0002"
    outputs.add("render_summary(result)", render_summary(result))
    outputs.add("repr(result)", repr(result))
    _collect_common(outputs, tmp_path, caplog, capfd, since, name, "autoretrain.model.promoted")
    outputs.assert_secret_never_shows(TOKEN)
    lineage = json.loads(next((tmp_path / "registry").rglob("v0002/metadata.json")).read_text())
    origin = (
        "$AUTORETRAIN_WAREHOUSE_URL"
        if how == "environment"
        else "Prefect Secret block 'warehouse-url-"
    )
    assert origin in lineage["data_source"]
    # The scan reads the places where the URL would show: the source is named in them.
    assert any(where.startswith("file ") and "comparison" in where for where in outputs.texts)
    assert any(where.startswith("file ") and "history" in where for where in outputs.texts)
    assert origin in outputs.texts["python logging (caplog, with tracebacks)"]
    assert name in outputs.joined("prefect server database")
    assert f"{name}-monitor-summary" in outputs.texts["prefect artifacts"]


@pytest.mark.parametrize(
    ("failure", "table", "suffix", "message"),
    [
        ("missing-table", "no_such_table", "", "no table 'no_such_table' in table"),
        ("unreachable", "weather_log", "-gone", "after 2 attempt(s): OperationalError"),
    ],
)
def test_a_failing_run_never_shows_the_url_either(
    failure, table, suffix, message, write_config, tmp_path, warehouse, monkeypatch, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    name = f"leak-failing-{failure}"
    since = datetime.now(UTC)
    url = warehouse.replace(f"vault-{TOKEN}", f"vault-{TOKEN}{suffix}")
    config_path = _write(
        write_config, tmp_path, name, _reference("environment", url, monkeypatch, ""), table
    )
    outputs = Outputs()
    _config_texts(outputs, config_path)

    with pytest.raises(DataError) as raised:
        monitor_flow(str(config_path))
    code = monitor_main(["--config", str(config_path)])

    outputs.add(
        "the exception, with its traceback", "".join(traceback.format_exception(raised.value))
    )
    _collect_common(outputs, tmp_path, caplog, capfd, since, name, "prefect.flow-run.Failed")
    outputs.assert_secret_never_shows(TOKEN)
    assert code == 2
    assert message in str(raised.value)
    # The scan reads the places where the URL would show: the source is named in them.
    origin = "data.source.url (from $AUTORETRAIN_WAREHOUSE_URL)"
    assert origin in str(raised.value)
    assert origin in outputs.texts["stderr (CLI errors, console logs)"]
    assert origin in outputs.texts["prefect run logs"]
    assert origin in outputs.texts["prefect flow runs (parameters, states)"]
    assert origin in outputs.joined("prefect server database")


def test_a_missing_secret_block_stops_the_run_naming_the_key_and_block(
    write_config, tmp_path, capfd
):
    config_path = _write(
        write_config, tmp_path, "leak-no-block", {"secret": "no-such-block"}, "weather_log"
    )

    code = monitor_main(["--config", str(config_path)])

    assert code == 2
    err = capfd.readouterr().err
    assert (
        f"error: {config_path}: data.source.url: Prefect Secret block 'no-such-block' does not "
        "exist on the Prefect server this run uses; create it with"
    ) in err
    # Before any work: nothing was registered.
    assert not list((tmp_path / "registry").rglob("metadata.json"))
