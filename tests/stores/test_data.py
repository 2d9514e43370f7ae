"""Reading windows of the production log from Parquet, CSV and SQL (SQLite and a throwaway
PostgreSQL), on the bundled demo data."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from tasks.config import Config
from tasks.core.windows import Window
from tasks.errors import DataError
from tasks.stores import data as data_module
from tasks.stores.data import load_window
from tests.helpers import DEMO_DATA, repo_config
from tests.postgres import Postgres

JANUARY_2013 = Window(datetime(2013, 1, 1), datetime(2013, 2, 1))
NEW_YEAR_2013 = Window(datetime(2012, 12, 15), datetime(2013, 1, 15))  # spans two files
COLUMNS = ["timestamp", "precipitation", "temp_max", "temp_min", "wind", "weather"]


@pytest.fixture(scope="module")
def demo_log() -> pd.DataFrame:
    """The four demo files read directly with pandas: the oracle for load_window."""
    files = sorted(DEMO_DATA.glob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def _expected(log: pd.DataFrame, window: Window) -> pd.DataFrame:
    stamps = log["timestamp"]
    rows = log[(stamps >= window.start) & (stamps < window.end)]
    return rows.sort_values("timestamp").reset_index(drop=True)[COLUMNS]


def _files_config(
    directory: Path, file_format: str = "parquet", changes: dict[str, Any] | None = None
) -> Config:
    source = {"kind": "files", "path": str(directory), "format": file_format}
    return repo_config({"data.source": source, **(changes or {})})


def _sql_config(url: str, table: str = "weather_log") -> Config:
    return repo_config({"data.source": {"kind": "sql", "url": url, "table": table}})


def _write_csvs(log: pd.DataFrame, directory: Path) -> None:
    directory.mkdir()
    for year, rows in log.groupby(log["timestamp"].dt.year):
        rows.to_csv(directory / f"weather-{year}.csv", index=False)


def _write_sqlite(log: pd.DataFrame, path: Path, table: str = "weather_log") -> str:
    url = f"sqlite:///{path}"
    _write_table(log, url, table)
    return url


def _write_table(
    log: pd.DataFrame, url: str, table: str = "weather_log", dtype: dict[str, Any] | None = None
) -> None:
    engine = sa.create_engine(url)
    try:
        log.to_sql(table, engine, index=False, dtype=dtype)
    finally:
        engine.dispose()


# PostgreSQL's cases start the session's throwaway cluster (a process): marked slow, like the
# other tests that start processes (make test runs them, make test-fast not).
SQL_DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]


def _write_sql(
    database: str, log: pd.DataFrame, request: pytest.FixtureRequest, tmp_path: Path
) -> str:
    """The demo log as table weather_log in a new SQLite file or PostgreSQL database; its URL."""
    if database == "sqlite":
        return _write_sqlite(log, tmp_path / "log.db")
    postgres: Postgres = request.getfixturevalue("postgres")
    url = postgres.url(postgres.create_database("log"))
    _write_table(log, url)
    return url


@pytest.mark.parametrize("window", [JANUARY_2013, NEW_YEAR_2013], ids=["one-file", "two-files"])
def test_parquet_window_holds_only_rows_in_the_half_open_range(
    demo_log: pd.DataFrame, window: Window
) -> None:
    frame = load_window(repo_config(), window)

    assert len(frame) == 31
    assert frame["timestamp"].iloc[0] == pd.Timestamp(window.start)  # start is included
    assert frame["timestamp"].iloc[-1] == pd.Timestamp(window.end) - pd.Timedelta(days=1)
    assert frame["timestamp"].is_monotonic_increasing
    assert list(frame.columns) == COLUMNS
    pd.testing.assert_frame_equal(frame, _expected(demo_log, window))


def test_rows_come_back_sorted_by_time_whatever_the_file_order(
    demo_log: pd.DataFrame, tmp_path: Path
) -> None:
    shuffled = demo_log.sample(frac=1.0, random_state=0)
    for part, rows in enumerate((shuffled.iloc[:700], shuffled.iloc[700:])):
        rows.to_parquet(tmp_path / f"part-{part}.parquet", index=False)

    frame = load_window(_files_config(tmp_path), NEW_YEAR_2013)

    assert frame["timestamp"].is_monotonic_increasing
    pd.testing.assert_frame_equal(frame, _expected(demo_log, NEW_YEAR_2013))


def test_empty_window_gives_an_empty_frame_with_the_columns() -> None:
    frame = load_window(repo_config(), Window(datetime(2020, 1, 1), datetime(2020, 2, 1)))

    assert len(frame) == 0
    assert list(frame.columns) == COLUMNS


def test_labelled_only_drops_rows_without_a_label(demo_log: pd.DataFrame) -> None:
    window = Window(datetime(2012, 1, 1), datetime(2016, 1, 1))
    expected = _expected(demo_log, window)
    expected = expected[expected["weather"].notna()].reset_index(drop=True)

    everything = load_window(repo_config(), window)
    labelled = load_window(repo_config(), window, labelled_only=True)

    assert len(everything) == 1461
    assert everything["weather"].isna().sum() == 41  # the demo's never-labelled rows
    assert len(labelled) == 1461 - 41
    assert labelled["weather"].notna().all()
    pd.testing.assert_frame_equal(labelled, expected)


@pytest.mark.parametrize("labelled_only", [False, True])
def test_csv_directory_gives_the_same_frame_as_parquet(
    demo_log: pd.DataFrame, tmp_path: Path, labelled_only: bool
) -> None:
    _write_csvs(demo_log, tmp_path / "csv")
    window = Window(datetime(2012, 11, 1), datetime(2013, 3, 1))

    from_csv = load_window(
        _files_config(tmp_path / "csv", "csv"), window, labelled_only=labelled_only
    )
    from_parquet = load_window(repo_config(), window, labelled_only=labelled_only)

    assert len(from_parquet) > 100
    pd.testing.assert_frame_equal(from_csv, from_parquet)


@pytest.mark.parametrize("database", SQL_DATABASES)
@pytest.mark.parametrize("labelled_only", [False, True])
def test_sql_table_gives_the_same_rows_as_parquet(
    demo_log: pd.DataFrame,
    tmp_path: Path,
    labelled_only: bool,
    database: str,
    request: pytest.FixtureRequest,
) -> None:
    url = _write_sql(database, demo_log, request, tmp_path)
    window = Window(datetime(2012, 11, 1), datetime(2013, 3, 1))

    from_sql = load_window(_sql_config(url), window, labelled_only=labelled_only)
    from_parquet = load_window(repo_config(), window, labelled_only=labelled_only)

    assert from_sql["timestamp"].iloc[0] == pd.Timestamp("2012-11-01")
    assert from_sql["timestamp"].iloc[-1] == pd.Timestamp("2013-02-28")
    pd.testing.assert_frame_equal(from_sql, from_parquet)


# Bounds on rows (the demo log has one row a day, at midnight), between rows, and across a
# year's file; the first starts on the log's first row, as the demo's bootstrap training does.
SQL_WINDOWS = [
    Window(datetime(2012, 1, 1), datetime(2012, 7, 1)),
    NEW_YEAR_2013,
    Window(datetime(2013, 3, 10, 12), datetime(2013, 3, 20, 6)),
    Window(datetime(2014, 1, 1), datetime(2014, 4, 1)),
]
# Where a UTC midnight is written with an offset: three spellings a log may mix.
OFFSETS = [
    ("T", "+05:30", pd.Timedelta(hours=5, minutes=30)),
    (" ", "-08:00", -pd.Timedelta(hours=8)),
    ("T", "Z", pd.Timedelta(0)),
]


def _iso_text_with_offsets(stamps: pd.Series) -> list[str]:
    """Each UTC time as local ISO 8601 text with its offset, cycling through OFFSETS."""
    texts = []
    for position, stamp in enumerate(stamps):
        separator, suffix, offset = OFFSETS[position % len(OFFSETS)]
        texts.append(f"{stamp + offset:%Y-%m-%d}{separator}{stamp + offset:%H:%M:%S}{suffix}")
    return texts


def _rows_and_span(frame: pd.DataFrame) -> tuple[int, str, str]:
    """How many rows a window holds, its first and last time: what a shifted window changes."""
    return len(frame), str(frame["timestamp"].min()), str(frame["timestamp"].max())


def _unix_seconds(stamps: pd.Series) -> pd.Series:
    return (stamps - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)


def _store_sqlite(log: pd.DataFrame, path: Path, how: str) -> str:
    """The demo log in SQLite, its timestamps written the way `how` names; the URL."""
    url = f"sqlite:///{path}"
    if how == "to_sql through sqlite3":  # pandas' own writer: '2012-01-01 00:00:00'
        with contextlib.closing(sqlite3.connect(path)) as connection:
            log.to_sql("weather_log", connection, index=False)
        return url
    if how == "to_sql through SQLAlchemy":  # '2012-01-01 00:00:00.000000'
        _write_table(log, url)
        return url
    converters: dict[str, Callable[[pd.Series], pd.Series | list[str]]] = {
        "ISO text with offsets": lambda s: _iso_text_with_offsets(s),
        "Unix seconds (integer)": _unix_seconds,
        "Unix seconds (real)": lambda s: _unix_seconds(s).astype(float),
    }
    stamps = converters[how](log["timestamp"])
    _write_table(log.assign(timestamp=stamps), url)
    return url


SQLITE_STORAGE = [
    "to_sql through sqlite3",
    "to_sql through SQLAlchemy",
    "ISO text with offsets",
    "Unix seconds (integer)",
    "Unix seconds (real)",
]


@pytest.mark.parametrize("how", SQLITE_STORAGE)
def test_sqlite_windows_hold_the_same_rows_as_the_files_windows(
    demo_log: pd.DataFrame, tmp_path: Path, how: str
) -> None:
    """[start, end) in SQLite, whatever text or numbers the timestamps were stored as: the
    text pandas' to_sql writes once shifted every window to (start, end]."""
    url = _store_sqlite(demo_log, tmp_path / "log.db", how)

    for window in SQL_WINDOWS:
        from_sql = load_window(_sql_config(url), window)
        from_files = load_window(repo_config(), window)

        assert len(from_files) > 0
        assert _rows_and_span(from_sql) == _rows_and_span(from_files), (how, str(window))
        pd.testing.assert_frame_equal(from_sql, from_files, obj=f"{how}, {window}")


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        (
            "01/02/2012 00:00",
            "holds text that is not an ISO 8601 time, such as '01/02/2012 00:00': write times "
            "as 2012-01-01 00:00:00 (with an offset such as +01:00 if they are not UTC), or "
            "store them as timestamps",
        ),
        (
            1325376000000,  # milliseconds
            "holds numbers that are not Unix seconds, such as 1325376000000 (milliseconds?): "
            "store Unix seconds, ISO 8601 text or timestamps",
        ),
    ],
    ids=["not-iso-text", "milliseconds"],
)
def test_sqlite_times_no_window_can_select_are_refused(
    demo_log: pd.DataFrame, tmp_path: Path, stored: str | int, message: str
) -> None:
    url = _write_sqlite(demo_log.head(3).assign(timestamp=stored), tmp_path / "log.db")

    with pytest.raises(DataError) as caught:
        load_window(_sql_config(url), JANUARY_2013)

    assert str(caught.value).startswith(
        f"timestamp column 'timestamp' in table 'weather_log' at {url} {message}"
    )


@pytest.mark.slow
def test_postgresql_windows_hold_the_same_rows_as_the_files_windows(
    demo_log: pd.DataFrame, postgres: Postgres
) -> None:
    """timestamp, timestamptz (the session in another time zone), ISO text with offsets
    (also under a collation that ignores punctuation), Unix seconds: the files' windows."""
    database = postgres.create_database("storage", time_zone="America/Los_Angeles")
    url = postgres.url(database)
    aware = demo_log["timestamp"].dt.tz_localize("UTC")
    text = _iso_text_with_offsets(demo_log["timestamp"])
    tables = {
        "naive": (demo_log, None),
        "aware": (demo_log.assign(timestamp=aware), sa.TIMESTAMP(timezone=True)),
        "text": (demo_log.assign(timestamp=text), sa.Text()),
        "seconds": (demo_log.assign(timestamp=_unix_seconds(demo_log["timestamp"])), None),
    }
    collations = postgres.psql(
        database, "SELECT collname FROM pg_collation WHERE collname = 'en-US-x-icu'"
    )
    if collations.strip():
        tables["text_icu"] = (demo_log.assign(timestamp=text), sa.Text(collation="en-US-x-icu"))
    for table, (log, stamp_type) in tables.items():
        _write_table(log, url, table, dtype={"timestamp": stamp_type} if stamp_type else None)

    for table in tables:
        for window in SQL_WINDOWS:
            from_sql = load_window(_sql_config(url, table), window)
            from_files = load_window(repo_config(), window)

            assert _rows_and_span(from_sql) == _rows_and_span(from_files), (table, str(window))
            pd.testing.assert_frame_equal(from_sql, from_files, obj=f"{table}, {window}")


def test_relative_sqlite_url_is_read_from_the_config_directory(
    demo_log: pd.DataFrame, tmp_path: Path
) -> None:
    _write_sqlite(demo_log, tmp_path / "log.db")
    config = repo_config(
        {"data.source": {"kind": "sql", "url": "sqlite:///log.db", "table": "weather_log"}},
        base_dir=tmp_path,
    )

    frame = load_window(config, JANUARY_2013)

    pd.testing.assert_frame_equal(frame, _expected(demo_log, JANUARY_2013))


def test_timezone_aware_parquet_timestamps_are_compared_in_utc(
    demo_log: pd.DataFrame, tmp_path: Path
) -> None:
    aware = demo_log.assign(timestamp=demo_log["timestamp"].dt.tz_localize("UTC"))
    aware.to_parquet(tmp_path / "aware.parquet", index=False)

    frame = load_window(_files_config(tmp_path), JANUARY_2013)

    assert frame["timestamp"].dt.tz is None
    pd.testing.assert_frame_equal(frame, _expected(demo_log, JANUARY_2013))


@pytest.mark.parametrize("source", ["parquet", "csv", *SQL_DATABASES])
def test_missing_column_names_the_column_and_the_fix(
    demo_log: pd.DataFrame, tmp_path: Path, source: str, request: pytest.FixtureRequest
) -> None:
    changes = {"data.numerical_features": ["precipitation", "humidity"]}
    if source == "parquet":
        config = repo_config(changes)
    elif source == "csv":
        _write_csvs(demo_log, tmp_path / "csv")
        config = _files_config(tmp_path / "csv", "csv", changes)
    else:
        url = _write_sql(source, demo_log, request, tmp_path)
        config = repo_config(
            {"data.source": {"kind": "sql", "url": url, "table": "weather_log"}, **changes}
        )

    with pytest.raises(DataError) as caught:
        load_window(config, JANUARY_2013)

    message = str(caught.value)
    assert "columns ['humidity'] are not in" in message
    assert "'temp_max'" in message  # what the log does have
    assert "Fix the column names in the config's data section or the data" in message


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_numerical_feature_holding_strings_is_refused(
    demo_log: pd.DataFrame, tmp_path: Path, file_format: str
) -> None:
    log = demo_log.astype({"wind": object})
    log.loc[log["timestamp"] == pd.Timestamp("2013-01-10"), "wind"] = "calm"
    log = log.astype({"wind": str})
    if file_format == "parquet":
        log.to_parquet(tmp_path / "log.parquet", index=False)
    else:
        log.to_csv(tmp_path / "log.csv", index=False)

    with pytest.raises(DataError) as caught:
        load_window(_files_config(tmp_path, file_format), JANUARY_2013)

    message = str(caught.value)
    assert "numerical feature 'wind'" in message
    assert "holds non-numbers such as 'calm'" in message
    assert "list the column under categorical_features" in message


def test_numerical_feature_stored_as_numeric_strings_is_converted(
    demo_log: pd.DataFrame, tmp_path: Path
) -> None:
    demo_log.astype({"wind": str}).to_parquet(tmp_path / "log.parquet", index=False)

    frame = load_window(_files_config(tmp_path), JANUARY_2013)

    assert frame["wind"].dtype == "float64"
    pd.testing.assert_series_equal(frame["wind"], _expected(demo_log, JANUARY_2013)["wind"])


def test_categorical_features_are_read_as_strings_with_missing_kept(
    demo_log: pd.DataFrame, tmp_path: Path
) -> None:
    thirds = len(demo_log) // 3
    sky = pd.Series(["clear", None, "grey"] * thirds, index=demo_log.index)
    log = demo_log.assign(station=[1, 2, 3] * thirds, sky=sky)
    log.to_parquet(tmp_path / "log.parquet", index=False)
    config = _files_config(tmp_path, changes={"data.categorical_features": ["station", "sky"]})

    frame = load_window(config, Window(datetime(2012, 1, 1), datetime(2012, 1, 4)))

    assert frame["station"].tolist() == ["1", "2", "3"]
    assert frame["sky"].iloc[[0, 2]].tolist() == ["clear", "grey"]
    assert pd.isna(frame["sky"].iloc[1])  # missing stays missing, not the string "None"


def test_csv_timestamps_that_are_not_dates_are_refused(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text(
        "timestamp,precipitation,temp_max,temp_min,wind,weather\n"
        "2013-01-05,0.0,5.0,-2.8,2.7,sun\n"
        "yesterday,0.0,6.1,-1.1,3.2,sun\n"
    )

    with pytest.raises(
        DataError, match=r"timestamp column 'timestamp' in .*log\.csv has values that are not dates"
    ):
        load_window(_files_config(tmp_path, "csv"), JANUARY_2013)


def test_missing_data_directory_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"

    with pytest.raises(DataError) as caught:
        load_window(_files_config(missing), JANUARY_2013)

    assert str(caught.value) == (
        f"data directory not found: {missing} (set data.source.path in the config)"
    )


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_directory_without_files_of_the_format_names_the_path(
    tmp_path: Path, file_format: str
) -> None:
    (tmp_path / "notes.txt").write_text("not a log")

    with pytest.raises(DataError) as caught:
        load_window(_files_config(tmp_path, file_format), JANUARY_2013)

    message = str(caught.value)
    assert message.startswith(f"no *.{file_format} files in {tmp_path}")
    assert "data.source.format" in message


@pytest.mark.parametrize("database", SQL_DATABASES)
def test_missing_sql_table_is_refused(
    demo_log: pd.DataFrame, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    url = _write_sql(database, demo_log, request, tmp_path)

    with pytest.raises(DataError) as caught:
        load_window(_sql_config(url, table="weather"), JANUARY_2013)

    message = str(caught.value)
    assert message.startswith(f"no table 'weather' in table 'weather' at {url}")
    assert "check data.source.table" in message


@pytest.mark.slow
def test_postgresql_timestamptz_is_compared_in_utc_whatever_the_session_time_zone(
    demo_log: pd.DataFrame, postgres: Postgres
) -> None:
    """A `timestamp with time zone` column, read by a session in another time zone: the window's
    bounds are UTC, and so are the timestamps that come back (naive, like every source's)."""
    database = postgres.create_database("aware", time_zone="America/Los_Angeles")
    url = postgres.url(database)
    aware = demo_log.assign(timestamp=demo_log["timestamp"].dt.tz_localize("UTC"))
    _write_table(aware, url, dtype={"timestamp": sa.TIMESTAMP(timezone=True)})
    assert (
        postgres.psql(
            database,
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'weather_log' AND column_name = 'timestamp'",
        ).strip()
        == "timestamp with time zone"
    )
    # The session really is in Los Angeles: UTC midnight of 2013-01-01 is 16:00 the day before.
    first = postgres.psql(
        database,
        "SELECT min(timestamp) FROM weather_log WHERE timestamp >= '2013-01-01 00:00:00+00'",
    )
    assert first.strip() == "2012-12-31 16:00:00-08"

    frame = load_window(_sql_config(url), JANUARY_2013)

    assert frame["timestamp"].dt.tz is None
    pd.testing.assert_frame_equal(frame, _expected(demo_log, JANUARY_2013))


@pytest.mark.slow
def test_postgresql_naive_timestamps_are_read_as_written(
    demo_log: pd.DataFrame, postgres: Postgres
) -> None:
    """A `timestamp without time zone` column does not move with the session's time zone."""
    database = postgres.create_database("naive", time_zone="America/New_York")
    url = postgres.url(database)
    _write_table(demo_log, url)

    frame = load_window(_sql_config(url), NEW_YEAR_2013)

    pd.testing.assert_frame_equal(frame, _expected(demo_log, NEW_YEAR_2013))


@pytest.mark.slow
def test_a_timestamp_column_of_another_type_is_refused_naming_the_types_it_can_be(
    demo_log: pd.DataFrame, postgres: Postgres
) -> None:
    database = postgres.create_database("flags")
    url = postgres.url(database)
    _write_table(demo_log.head(3).assign(timestamp=True), url)

    with pytest.raises(DataError) as caught:
        load_window(_sql_config(url), JANUARY_2013)

    assert str(caught.value) == (
        f"the timestamp column 'timestamp' of table 'weather_log' at {url} is of type BOOLEAN: "
        "store times as timestamps, as ISO 8601 text (2012-01-01 00:00:00, optionally with an "
        "offset) or as Unix seconds"
    )


@pytest.mark.slow
def test_a_query_the_database_refuses_is_a_data_error_naming_the_table(
    demo_log: pd.DataFrame, postgres: Postgres
) -> None:
    """A role that may see the table but not read it: the error is the project's, not the
    DatabaseError pandas wraps SQLAlchemy's in, and it is not retried."""
    database = postgres.create_database("grants")
    _write_table(demo_log, postgres.url(database))
    role = f"reader_{database}"
    postgres.psql(database, f'CREATE ROLE "{role}" LOGIN')
    url = f"postgresql+psycopg://{role}@{postgres.host}:{postgres.port}/{database}"

    with pytest.raises(DataError) as caught:
        load_window(_sql_config(url), JANUARY_2013)

    message = str(caught.value)
    assert message.startswith(f"cannot read table 'weather_log' at {url}: ")
    assert "permission denied for table weather_log" in message


class FlakySource:
    """A source whose first `failures` reads fail the way a dropped connection does."""

    def __init__(self, inner: Any, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.calls = 0

    def read(self, columns: list[str], window: Window) -> pd.DataFrame:
        self.calls += 1
        if self.calls <= self.failures:
            raise data_module.TransientReadError("OperationalError: server closed the connection")
        return self.inner.read(columns, window)

    def describe(self) -> str:
        return "a flaky source"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waited: list[float] = []
    monkeypatch.setattr(data_module, "_sleep", waited.append)
    return waited


def _flaky(monkeypatch: pytest.MonkeyPatch, failures: int) -> FlakySource:
    flaky = FlakySource(data_module.make_source(repo_config().data), failures)
    monkeypatch.setattr(data_module, "make_source", lambda data: flaky)
    return flaky


def test_transient_read_errors_are_retried_with_back_off(
    demo_log: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    flaky = _flaky(monkeypatch, failures=2)
    config = repo_config({"data.read_retries": {"attempts": 3, "backoff_seconds": 0.5}})

    frame = load_window(config, JANUARY_2013)

    pd.testing.assert_frame_equal(frame, _expected(demo_log, JANUARY_2013))
    assert flaky.calls == 3
    assert sleeps == [0.5, 1.0]


def test_read_gives_up_after_the_configured_attempts(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    flaky = _flaky(monkeypatch, failures=10)
    config = repo_config({"data.read_retries": {"attempts": 4, "backoff_seconds": 1}})

    with pytest.raises(DataError) as caught:
        load_window(config, JANUARY_2013)

    assert flaky.calls == 4
    assert sleeps == [1, 2, 4]
    assert "cannot read a flaky source after 4 attempt(s)" in str(caught.value)
    assert "server closed the connection" in str(caught.value)
    assert "data.read_retries.attempts" in str(caught.value)


def test_user_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> None:
    config = repo_config({"data.numerical_features": ["humidity"]})

    with pytest.raises(DataError, match="columns \\['humidity'\\] are not in"):
        load_window(config, JANUARY_2013)

    assert sleeps == []


def test_sqlite_lock_is_transient_and_retried(
    demo_log: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer holds the database while the window's query runs (pandas wraps the lock error
    in its own DatabaseError): the read is retried once the writer is done."""
    path = tmp_path / "log.db"
    url = _write_sqlite(demo_log, path) + "?timeout=0.1"  # wait 0.1 s for a lock, not 5
    config = _sql_config(url)
    source = data_module.make_source(config.data)
    writer = sqlite3.connect(path, isolation_level=None)
    real_read_sql = pd.read_sql
    waited: list[float] = []

    def lock_then_read(*args: Any, **kwargs: Any) -> pd.DataFrame:
        if not waited:  # the first attempt: the writer takes the database first
            writer.execute("BEGIN EXCLUSIVE")
        return real_read_sql(*args, **kwargs)

    def writer_commits(seconds: float) -> None:
        waited.append(seconds)
        writer.execute("COMMIT")

    monkeypatch.setattr(pd, "read_sql", lock_then_read)
    monkeypatch.setattr(data_module, "_sleep", writer_commits)
    try:
        frame = data_module.read_with_retries(
            source, COLUMNS, JANUARY_2013, config.data.read_retries
        )
    finally:
        writer.close()

    assert len(frame) == 31
    assert waited == [1.0]


def test_file_io_error_is_transient_but_a_missing_file_is_not(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    source = data_module.make_source(repo_config().data)
    errors = iter([OSError(5, "Input/output error"), FileNotFoundError(2, "gone")])

    def failing(*args: Any, **kwargs: Any) -> pd.DataFrame:
        raise next(errors)

    monkeypatch.setattr(source, "_read_parquet", failing)

    with pytest.raises(data_module.TransientReadError, match="Input/output error"):
        source.read(COLUMNS, JANUARY_2013)
    with pytest.raises(DataError, match=r"cannot read parquet files .*gone"):
        source.read(COLUMNS, JANUARY_2013)


def test_identical_rows_and_shared_timestamps_are_kept(
    demo_log: pd.DataFrame, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    january = _expected(demo_log, JANUARY_2013)
    doubled = pd.concat([january, january.iloc[:3]], ignore_index=True)  # three exact repeats
    doubled = doubled.sample(frac=1, random_state=0)  # and out of order
    directory = tmp_path / "log"
    directory.mkdir()
    doubled.to_parquet(directory / "log.parquet", index=False)

    with caplog.at_level("WARNING", logger="tasks.stores.data"):
        frame = load_window(_files_config(directory), JANUARY_2013)

    assert len(frame) == 34
    assert frame["timestamp"].is_monotonic_increasing
    assert "3 rows of parquet files" in caplog.text
    assert "repeat another row exactly; they are kept" in caplog.text


def test_rows_stamped_in_the_future_are_refused(demo_log: pd.DataFrame, tmp_path: Path) -> None:
    future = _expected(demo_log, JANUARY_2013).assign(
        timestamp=pd.date_range("2099-01-01", periods=31, freq="D").astype("datetime64[us]")
    )
    directory = tmp_path / "log"
    directory.mkdir()
    future.to_parquet(directory / "log.parquet", index=False)

    with pytest.raises(DataError, match=r"31 rows of .* are stamped in the future"):
        load_window(_files_config(directory), Window(datetime(2099, 1, 1), datetime(2099, 3, 1)))


def test_no_task_or_flow_retries_itself() -> None:
    # Only reads retry (read_with_retries): a retried training or promotion could write twice.
    from prefect import Flow, Task

    import flows.monitor
    import flows.promote
    import flows.retrain
    import flows.rollback
    import tasks.orchestration.artifacts
    import tasks.orchestration.tasks
    import tasks.steps.monitoring
    import tasks.steps.promotion
    import tasks.steps.training

    modules = [
        flows.monitor,
        flows.promote,
        flows.retrain,
        flows.rollback,
        tasks.steps.monitoring,
        tasks.steps.promotion,
        tasks.orchestration.artifacts,
        tasks.steps.training,
    ]
    found = [
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, Task | Flow)
    ]
    # The steps: a task each, called as one where orchestration.task_runs says so.
    found += tasks.orchestration.tasks.STEP_TASKS
    assert len(tasks.orchestration.tasks.STEP_TASKS) == 14 and len(found) >= 7 + 14
    assert [f.name for f in found if f.retries] == []


@pytest.mark.parametrize("row_group_size", [7, 40, 10_000])
def test_row_groups_inside_across_and_outside_the_window_give_its_rows(
    demo_log: pd.DataFrame, tmp_path: Path, row_group_size: int
) -> None:
    """Row groups wholly inside the window are read without the filter, the others with it."""
    log = demo_log.sort_values("timestamp")
    log.iloc[:900].to_parquet(tmp_path / "a.parquet", index=False, row_group_size=row_group_size)
    log.iloc[900:].to_parquet(tmp_path / "b.parquet", index=False, row_group_size=row_group_size)
    window = Window(datetime(2012, 12, 20, 12), datetime(2013, 1, 10))

    frame = load_window(_files_config(tmp_path), window)

    pd.testing.assert_frame_equal(frame, _expected(demo_log, window))
    assert frame["timestamp"].iloc[0] == pd.Timestamp(2012, 12, 21)
    assert frame["timestamp"].iloc[-1] == pd.Timestamp(2013, 1, 9)


def test_a_window_not_in_time_order_in_its_file_is_sorted(
    demo_log: pd.DataFrame, tmp_path: Path
) -> None:
    log = demo_log.sort_values("timestamp", ascending=False)
    log.to_parquet(tmp_path / "reversed.parquet", index=False, row_group_size=50)

    frame = load_window(_files_config(tmp_path), NEW_YEAR_2013)

    assert frame["timestamp"].is_monotonic_increasing
    pd.testing.assert_frame_equal(frame, _expected(demo_log, NEW_YEAR_2013))


def test_text_categories_keep_pandas_text_dtype_with_missing_as_nan(
    demo_log: pd.DataFrame, tmp_path: Path
) -> None:
    thirds = len(demo_log) // 3
    sky = pd.Series(["clear", None, "grey"] * thirds, index=demo_log.index)
    demo_log.assign(sky=sky).to_parquet(tmp_path / "log.parquet", index=False)
    config = _files_config(tmp_path, changes={"data.categorical_features": ["sky"]})

    frame = load_window(config, Window(datetime(2012, 1, 1), datetime(2012, 1, 4)))

    # What Python strings with NaN become in a frame (pandas 3: its str dtype), read or not.
    as_objects = pd.DataFrame({"sky": np.array(["clear", np.nan, "grey"], dtype=object)})["sky"]
    assert frame["sky"].dtype == as_objects.dtype
    assert frame["sky"].iloc[[0, 2]].tolist() == ["clear", "grey"]
    assert frame["sky"].isna().tolist() == [False, True, False]
    assert isinstance(frame["sky"].iloc[1], float)  # NaN, not None or pd.NA
