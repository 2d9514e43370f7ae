"""The checks a command runs before Prefect starts: each finds what the run would fail on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

from tasks.config import Config
from tasks.errors import DataError, RegistryError
from tasks.steps.preflight import (
    check_challenger,
    check_log,
    check_rollback,
    check_run,
)
from tasks.stores.registry import LocalRegistry
from tests.helpers import DEMO_DATA, demo_log_in_sqlite, make_lineage, repo_config


def _config(tmp_path: Path, **changes: object) -> Config:
    return repo_config(
        {
            "data.source.path": str(DEMO_DATA),
            "registry.path": str(tmp_path / "registry"),
            **changes,
        }
    )


def _register(config: Config, champions: int) -> LocalRegistry:
    """A registry of the config's model with `champions` versions, each promoted in turn."""
    registry = LocalRegistry(config.registry.path, config.name)
    frame = pd.DataFrame({"x": [0.0, 1.0], "y": [0, 1]})
    for _ in range(champions):
        record = registry.register(
            DummyClassifier().fit(frame[["x"]], frame["y"]), frame, make_lineage()
        )
        registry.set_alias("champion", record.version, reason="test", action="promote")
    return registry


def test_the_demo_config_passes_every_check(tmp_path: Path) -> None:
    config = _config(tmp_path)

    check_run(config)

    assert not config.registry.path.exists()  # checking never creates the registry


def test_a_missing_data_directory_is_named(tmp_path: Path) -> None:
    config = _config(tmp_path, **{"data.source.path": str(tmp_path / "nowhere")})

    with pytest.raises(DataError, match=r"data directory not found: .*nowhere"):
        check_log(config)


def test_a_column_the_parquet_log_lacks_is_named_with_the_columns_it_has(tmp_path: Path) -> None:
    config = _config(tmp_path, **{"data.numerical_features": ["precipitation", "humidity"]})

    with pytest.raises(
        DataError, match=r"columns \['humidity'\] are not in .*weather-2012.parquet"
    ):
        check_log(config)


def test_a_column_a_csv_header_lacks_is_named(tmp_path: Path) -> None:
    logs = tmp_path / "csv"
    logs.mkdir()
    frame = pd.read_parquet(DEMO_DATA / "weather-2012.parquet")
    frame.drop(columns=["wind"]).to_csv(logs / "2012.csv", index=False)
    config = _config(tmp_path, **{"data.source.path": str(logs), "data.source.format": "csv"})

    with pytest.raises(DataError, match=r"columns \['wind'\] are not in .*2012.csv"):
        check_log(config)


def test_an_empty_csv_file_is_refused_by_name(tmp_path: Path) -> None:
    logs = tmp_path / "csv"
    logs.mkdir()
    (logs / "empty.csv").write_text("")
    config = _config(tmp_path, **{"data.source.path": str(logs), "data.source.format": "csv"})

    with pytest.raises(DataError, match=r"cannot read .*empty.csv"):
        check_log(config)


def test_a_sql_table_without_a_column_is_named(tmp_path: Path) -> None:
    url = demo_log_in_sqlite(tmp_path)
    source = {"kind": "sql", "url": url, "table": "weather_log"}
    config = _config(tmp_path, **{"data.source": source})
    check_log(config)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.execute("ALTER TABLE weather_log DROP COLUMN wind")

    with pytest.raises(DataError, match=r"columns \['wind'\] are not in table 'weather_log'"):
        check_log(config)


def test_a_missing_sql_table_is_named(tmp_path: Path) -> None:
    url = demo_log_in_sqlite(tmp_path)
    config = _config(
        tmp_path, **{"data.source": {"kind": "sql", "url": url, "table": "no_such_table"}}
    )

    with pytest.raises(DataError, match="no table 'no_such_table'"):
        check_log(config)


def test_a_registry_path_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    config = _config(tmp_path, **{"registry.path": str(tmp_path / "a-file" / "registry")})

    with pytest.raises(RegistryError, match=r"is not a directory: .*a-file is a file"):
        check_run(config)


def test_rollback_to_a_version_that_does_not_exist_is_named(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _register(config, champions=2)

    with pytest.raises(RegistryError, match="no model version v0009 in "):
        check_rollback(config, "v0009")
    with pytest.raises(RegistryError, match="v0002 is already the champion"):
        check_rollback(config, "v0002")
    check_rollback(config, None)
    check_rollback(config, "v0001")


def test_rollback_of_the_first_champion_has_nothing_to_restore(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _register(config, champions=1)

    with pytest.raises(RegistryError, match="v0001 is the first champion"):
        check_rollback(config, None)


def test_rollback_without_a_registry_creates_none(tmp_path: Path) -> None:
    config = _config(tmp_path)

    with pytest.raises(RegistryError, match=r"no registry at .*registry: run the monitor first"):
        check_rollback(config, None)
    assert not config.registry.path.exists()


def test_promote_needs_the_named_version_or_a_challenger(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _register(config, champions=1)

    with pytest.raises(RegistryError, match="no model version v0009"):
        check_challenger(config, "v0009")
    with pytest.raises(RegistryError, match="no challenger to promote: run the retrain flow"):
        check_challenger(config, None)
    check_challenger(config, "v0001")
