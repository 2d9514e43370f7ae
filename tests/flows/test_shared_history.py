"""One monitoring history for every machine: a config with history.url on PostgreSQL, run from
two fresh project directories (their own working directory, registry.path and reports), records
both windows in one history, and `autoretrain history show` reads it from either directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.monitor import main as monitor_main
from tasks.cli.history import main as history_main
from tasks.config import load_config
from tasks.stores.history import HISTORY_FILE, open_history
from tests.helpers import DEMO_DATA, LATENCY_GUARD_ASIDE, merge, repo_raw_config
from tests.postgres import Postgres

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

NAME = "shared-history"
URL_VARIABLE = "AUTORETRAIN_TEST_HISTORY_URL"


def _machine(directory: Path, as_of: str) -> Path:
    """A fresh project copy monitoring the year before as_of; its history in the database."""
    directory.mkdir(parents=True)
    raw = merge(
        merge(repo_raw_config(), LATENCY_GUARD_ASIDE),
        {
            "name": NAME,
            "data": {"source": {"path": str(DEMO_DATA)}},
            # A healthy year after bootstrapping (as in test_remote_dashboard): no retrain.
            "policy": {"performance_threshold": 0.35},
            "windows": {"as_of": as_of, "current": "365d", "holdout": "365d"},
            "bootstrap": {"training_start": "2014-01-01", "training_end": "2014-12-31"},
            "registry": {"path": "registry"},
            "reports": {"path": "reports"},
        },
    )
    raw["history"] = {"url": "${" + URL_VARIABLE + "}"}
    (directory / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return directory


def _run(command: Any, directory: Path, argv: list[str], monkeypatch: Any, capfd: Any) -> str:
    monkeypatch.chdir(directory)
    capfd.readouterr()
    assert command(argv) == 0
    captured = capfd.readouterr()
    return str(captured.out + captured.err)


def test_two_fresh_directories_write_one_history_that_history_show_reads(
    postgres: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: Any
) -> None:
    monkeypatch.setenv(URL_VARIABLE, postgres.url(postgres.create_database("shared")))
    machine_a = _machine(tmp_path / "machine-a", "2015-12-31")
    machine_b = _machine(tmp_path / "machine-b", "2016-01-01")

    statuses = []
    for machine in (machine_a, machine_b):
        out = _run(monitor_main, machine, ["--config", "config.yaml"], monkeypatch, capfd)
        statuses.append(next(line for line in out.splitlines() if line.startswith("status")))

    config = load_config(machine_a / "config.yaml")
    rows = open_history(config.registry.path, config.history).rows(NAME)
    assert [row["as_of"][:10] for row in rows] == ["2015-12-31", "2016-01-01"]
    assert [f"status      {row['status']}" for row in rows] == [s.split(";")[0] for s in statuses]
    for machine in (machine_a, machine_b):
        # Each machine has its own registry, and no history file of its own.
        assert (machine / "registry").is_dir()
        assert not (machine / "registry" / HISTORY_FILE).exists()
        shown = _run(history_main, machine, ["show"], monkeypatch, capfd)
        assert f"monitoring history of {NAME}: 2 runs" in shown
        assert [line[:10] for line in shown.splitlines() if line[:3] == "201"] == [
            "2015-12-31",
            "2016-01-01",
        ]
