"""Reading the production log: Parquet/CSV files in a directory, or a SQL table."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

from tasks.config import Config, DataConfig, FileSourceConfig, ReadRetryConfig, SqlSourceConfig
from tasks.core.duplicates import count_duplicates
from tasks.core.windows import Window
from tasks.errors import DataError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Rows stamped later than the wall clock by more than this are refused: clock skew is
# tolerated, a wrong time zone or a broken writer is not.
FUTURE_TOLERANCE = timedelta(hours=1)
# Errors of the OS that retrying cannot fix: they are reported at once.
_PERMANENT_OS_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


def _read_row_groups(dataset: Any, columns: list[str], name: str, start: Any, end: Any) -> Any:
    """The rows of dataset stamped in [start, end), as one Arrow table.

    Row groups whose statistics put them outside the range are skipped; those whose statistics
    put every row inside are read whole, without the filter: a filter copies every column of
    every row it keeps (for a 1M x 27 window: +290 MB and 3-4 s of system CPU).
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    condition = (ds.field(name) >= start) & (ds.field(name) < end)
    tables = []
    for fragment in dataset.get_fragments():
        for group in fragment.split_by_row_group(condition):
            bounds = group.row_groups[0].statistics.get(name) if group.row_groups else None
            inside = (
                bounds is not None
                and bounds.get("min") is not None
                and bounds.get("max") is not None
                and _within(bounds["min"], bounds["max"], start, end)
            )
            tables.append(
                group.to_table(
                    schema=dataset.schema,
                    columns=columns,
                    filter=None if inside else condition,
                )
            )
    if not tables:
        return dataset.to_table(columns=columns, filter=condition)  # no rows: the schema
    return pa.concat_tables(tables)


def _within(low: Any, high: Any, start: Any, end: Any) -> bool:
    """Whether statistics low..high lie in [start, end); False when they cannot be compared."""
    try:
        return bool(pd.Timestamp(low) >= start and pd.Timestamp(high) < end)
    except (TypeError, ValueError):
        return False


@contextmanager
def _system_memory_pool() -> Iterator[None]:
    """pyarrow allocates from the system allocator meanwhile (the parquet reader takes the
    default pool, whatever to_table is given). Its default, mimalloc, reserves memory ahead in
    transparent huge pages: reading a 1M x 27 column window peaked at 1,180 MB RSS with it, 840
    MB without, and memory a process touches first costs system CPU (up to 6 s a GB on this
    shared VM; benchmarks/million_rows.py). Buffers keep the pool they came from, so the swap
    is safe for other threads' allocations."""
    import pyarrow as pa

    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


class TransientReadError(Exception):
    """A read failed in a way that may pass on its own (network, busy database, flaky disk)."""


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


class LogSource(Protocol):
    """A time-stamped production log that can return one time range of some columns."""

    def read(self, columns: list[str], window: Window) -> pd.DataFrame: ...

    def check(self, columns: list[str]) -> None:
        """Raise DataError unless the log can be reached and has these columns (no rows read)."""

    def describe(self) -> str: ...


class FileLogSource:
    """Parquet files (read with column and row-group pushdown) or CSV files in a directory."""

    def __init__(self, config: FileSourceConfig, timestamp_column: str) -> None:
        self.path = config.path
        self.format = config.format
        self.timestamp_column = timestamp_column

    def describe(self) -> str:
        return f"{self.format} files in {self.path}"

    def _files(self) -> list[Path]:
        if not self.path.is_dir():
            raise DataError(
                f"data directory not found: {self.path} (set data.source.path in the config)"
            )
        files = sorted(self.path.glob(f"*.{self.format}"))
        if not files:
            raise DataError(
                f"no *.{self.format} files in {self.path} (check data.source.path and data.source.format)"
            )
        root = self.path.resolve()
        outside = [f.name for f in files if not f.resolve().is_relative_to(root)]
        if outside:
            raise DataError(
                f"{outside} in {self.path} are links to files outside that directory; autoretrain "
                "reads only files inside data.source.path: copy the data there instead"
            )
        return files

    def check(self, columns: list[str]) -> None:
        """The directory, its files and their columns (Parquet schemas, CSV headers)."""
        files = self._files()
        try:
            if self.format == "parquet":
                self._check_parquet_schemas(files, columns)
                return
            for file in files:
                self._csv_header(file, columns)
        except _PERMANENT_OS_ERRORS as error:
            raise DataError(f"cannot read {self.describe()}: {error}") from None
        except OSError as error:
            raise TransientReadError(f"{type(error).__name__}: {error}") from error

    def read(self, columns: list[str], window: Window) -> pd.DataFrame:
        files = self._files()
        try:
            if self.format == "parquet":
                return self._read_parquet(files, columns, window)
            return self._read_csv(files, columns, window)
        except _PERMANENT_OS_ERRORS as error:
            raise DataError(f"cannot read {self.describe()}: {error}") from None
        except OSError as error:
            raise TransientReadError(f"{type(error).__name__}: {error}") from error

    def _read_parquet(self, files: list[Path], columns: list[str], window: Window) -> pd.DataFrame:
        import pyarrow.dataset as ds

        self._check_parquet_schemas(files, columns)
        dataset = ds.dataset([str(f) for f in files], format="parquet")
        field_type = dataset.schema.field(self.timestamp_column).type
        start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
        if getattr(field_type, "tz", None):
            start, end = start.tz_localize("UTC"), end.tz_localize("UTC")
        with _system_memory_pool():
            try:
                table = _read_row_groups(dataset, columns, self.timestamp_column, start, end)
            except OSError:
                raise  # an I/O error: the caller decides whether to retry
            except Exception as error:  # pyarrow raises many types for type mismatches
                raise DataError(
                    f"cannot filter {self.describe()} on '{self.timestamp_column}': {error} "
                    "(the timestamp column must hold datetimes, of one type in every file)"
                ) from None
            # One block per column, each column's Arrow memory freed once converted: no
            # consolidation copy, and the table and the frame are not both held whole.
            return table.to_pandas(split_blocks=True, self_destruct=True)

    def _check_parquet_schemas(self, files: list[Path], columns: list[str]) -> None:
        """Read every file's schema; refuse unreadable files, missing columns, and columns
        whose kind (number, text, datetime) differs between files."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        kinds: dict[str, dict[str, str]] = {}
        for file in files:
            try:
                schema = pq.read_schema(file)
            except pa.ArrowInvalid as error:
                raise DataError(
                    f"cannot read {file}: {error} (a file that is not Parquet, or a truncated "
                    "one: replace it, or move it out of data.source.path)"
                ) from None
            missing = [c for c in columns if c not in schema.names]
            if missing:
                raise DataError(_missing_columns_message(missing, schema.names, str(file)))
            for column in columns:
                if column in schema.names:
                    kind = _arrow_kind(schema.field(column).type)
                    if kind != "null":
                        kinds.setdefault(column, {}).setdefault(kind, file.name)
        for column, seen in kinds.items():
            if len(seen) > 1:
                where = ", ".join(f"{kind} in {name}" for kind, name in seen.items())
                raise DataError(
                    f"column '{column}' has different types across files ({where}); "
                    "write every file with the same column types"
                )

    def _read_csv(self, files: list[Path], columns: list[str], window: Window) -> pd.DataFrame:
        frames = []
        for file in files:
            self._csv_header(file, columns)
            frame = pd.read_csv(file, usecols=columns)
            stamps = _parse_timestamps(frame[self.timestamp_column], str(file))
            frames.append(frame[(stamps >= window.start) & (stamps < window.end)])
        return pd.concat(frames, ignore_index=True)

    @staticmethod
    def _csv_header(file: Path, columns: list[str]) -> None:
        """Refuse a CSV file whose header lacks one of the columns."""
        try:
            header = pd.read_csv(file, nrows=0).columns.tolist()
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
            raise DataError(
                f"cannot read {file}: {error} (replace it, or move it out of data.source.path)"
            ) from None
        missing = [c for c in columns if c not in header]
        if missing:
            raise DataError(_missing_columns_message(missing, header, str(file)))


class SqlLogSource:
    """A table reached through SQLAlchemy; the time range is filtered in the database.

    The URL may carry a password (or be a secret as a whole): it goes only to create_engine;
    describe() shows where it came from, and SQLAlchemy's messages are redacted before they
    reach an exception or a log.
    """

    def __init__(self, config: SqlSourceConfig, timestamp_column: str) -> None:
        self.url = config.url
        self.table = config.table
        self.timestamp_column = timestamp_column

    def describe(self) -> str:
        if self.url.from_reference:
            return f"table '{self.table}' at data.source.url (from {self.url.origin})"
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            shown = make_url(self.url.reveal()).render_as_string(hide_password=True)
        except ArgumentError:
            shown = "data.source.url (not a SQLAlchemy URL)"
        return f"table '{self.table}' at {shown}"

    def _engine(self) -> Any:
        import sqlalchemy as sa

        try:
            return sa.create_engine(self.url.reveal())
        except (sa.exc.NoSuchModuleError, ImportError) as error:
            raise DataError(
                f"cannot use data.source.url from {self.url.origin}: "
                f"{self.url.redact(str(error))} (install the database's driver, or check the "
                "URL's scheme)"
            ) from None
        except sa.exc.ArgumentError as error:
            raise DataError(
                f"data.source.url from {self.url.origin} is not a SQLAlchemy URL like "
                f"postgresql+psycopg://user:password@host/db ({self.url.redact(str(error))})"
            ) from None

    def _column_types(self, connection: Any, columns: list[str]) -> dict[str, Any]:
        """The table's column types; DataError when the table or one of the columns is missing."""
        import sqlalchemy as sa

        inspector = sa.inspect(connection)
        if not inspector.has_table(self.table):
            raise DataError(
                f"no table '{self.table}' in {self.describe()} (check data.source.table)"
            )
        types = {c["name"]: c["type"] for c in inspector.get_columns(self.table)}
        missing = [c for c in columns if c not in types]
        if missing:
            raise DataError(_missing_columns_message(missing, list(types), self.describe()))
        return types

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A connection of a fresh engine, disposed after; SQLAlchemy's errors as the project's,
        with the URL's password redacted."""
        import sqlalchemy as sa

        engine = self._engine()
        try:
            with engine.connect() as connection:
                yield connection
        except (sa.exc.OperationalError, sa.exc.DisconnectionError, sa.exc.TimeoutError) as error:
            # A dropped connection, a locked or busy database: may pass on the next attempt.
            # `from None`: a traceback must not print SQLAlchemy's unredacted message.
            raise TransientReadError(
                f"{type(error).__name__}: {self.url.redact(str(error))}"
            ) from None
        except sa.exc.SQLAlchemyError as error:
            raise DataError(
                f"cannot read {self.describe()}: {self.url.redact(str(error))}"
            ) from None
        finally:
            engine.dispose()

    def check(self, columns: list[str]) -> None:
        """Connect, and look the table and its columns up."""
        with self._connection() as connection:
            self._column_types(connection, columns)

    def read(self, columns: list[str], window: Window) -> pd.DataFrame:
        import sqlalchemy as sa

        with self._connection() as connection:
            types = self._column_types(connection, columns)
            table = sa.table(self.table, *(sa.column(c) for c in columns))
            condition = _window_condition(
                table.c[self.timestamp_column],
                types[self.timestamp_column],
                connection.dialect.name,
                window,
                self.describe(),
            )
            frame = _read_sql(sa.select(*table.c).where(condition), connection)
            if frame.empty:
                # An empty window, or times no range selects (text that is not ISO 8601,
                # milliseconds): one stored time tells them apart.
                stamp = table.c[self.timestamp_column]
                sample = _read_sql(sa.select(stamp).where(stamp.is_not(None)).limit(1), connection)
                _sql_timestamps(sample[self.timestamp_column], self.describe())
        stamps = _sql_timestamps(frame[self.timestamp_column], self.describe())
        frame[self.timestamp_column] = stamps
        return frame[(stamps >= window.start) & (stamps < window.end)].reset_index(drop=True)


def _read_sql(query: Any, connection: Any) -> pd.DataFrame:
    """pd.read_sql, raising SQLAlchemy's errors as they are: pandas wraps them in its own
    DatabaseError, which would hide a busy database (retried) and a refused query (a DataError,
    redacted) from read()."""
    import sqlalchemy as sa

    try:
        return pd.read_sql(query, connection)
    except pd.errors.DatabaseError as error:
        if isinstance(error.__cause__, sa.exc.SQLAlchemyError):
            raise error.__cause__ from None
        raise


# A text stamp may carry any UTC offset (-12:00 to +14:00): text is selected in the database by
# date, a day wider on each side, and then exactly, once parsed.
_TEXT_MARGIN = timedelta(days=1)
_UNIX_EPOCH = datetime(1970, 1, 1)


def _window_condition(stamp: Any, stamp_type: Any, dialect: str, window: Window, where: str) -> Any:
    """The WHERE clause that selects [start, end) of the log (or, for text, a day more on each
    side), whatever type the timestamps are stored as.

    The bounds are bound as values of the stored kind: a datetime bound against text is
    rendered by the driver or SQLAlchemy (SQLite: '2012-01-01 00:00:00.000000'), and text
    compared with text of another spelling moves the window's edges.
    """
    import sqlalchemy as sa

    if dialect == "sqlite":
        # SQLite keeps each value as written, whatever the column's declared type: ISO text
        # (DataFrame.to_sql writes '2012-01-01 00:00:00', SQLAlchemy '... 00:00:00.000000',
        # others a 'T' or an offset) or numbers (Unix seconds). Numbers sort before any text,
        # so each range matches only its own kind.
        return sa.or_(_text_range(stamp, window), _seconds_range(stamp, window))
    if isinstance(stamp_type, sa.DateTime | sa.Date):
        start, end = window.start, window.end
        if getattr(stamp_type, "timezone", False):
            # A naive bound against a `timestamp with time zone` column is taken in the
            # session's time zone: say that the window is in UTC.
            start, end = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
        bound_type = sa.DateTime(timezone=start.tzinfo is not None)
        return sa.and_(
            stamp >= sa.literal(start, type_=bound_type), stamp < sa.literal(end, type_=bound_type)
        )
    if isinstance(stamp_type, sa.String):
        return _text_range(stamp, window)
    if isinstance(stamp_type, sa.Integer | sa.Numeric):
        return _seconds_range(stamp, window)
    raise DataError(
        f"the timestamp column '{stamp.name}' of {where} is of type {stamp_type}: store times "
        "as timestamps, as ISO 8601 text (2012-01-01 00:00:00, optionally with an offset) or "
        "as Unix seconds"
    )


def _text_range(stamp: Any, window: Window) -> Any:
    """ISO 8601 text from a day before start to a day after end, compared by date only: the
    separator ('T' or ' '), the seconds' fraction and the offset that follow the date do not
    matter, nor does a collation that ignores punctuation."""
    import sqlalchemy as sa

    low = f"{window.start - _TEXT_MARGIN:%Y-%m-%d}"
    high = f"{window.end + 2 * _TEXT_MARGIN:%Y-%m-%d}"  # the day after end + margin, exclusive
    return sa.and_(
        stamp >= sa.literal(low, type_=sa.String()), stamp < sa.literal(high, type_=sa.String())
    )


def _seconds_range(stamp: Any, window: Window) -> Any:
    """Numbers as Unix seconds (UTC): exactly [start, end)."""
    import sqlalchemy as sa

    low = (window.start - _UNIX_EPOCH) / timedelta(seconds=1)
    high = (window.end - _UNIX_EPOCH) / timedelta(seconds=1)
    return sa.and_(
        stamp >= sa.literal(low, type_=sa.Float()), stamp < sa.literal(high, type_=sa.Float())
    )


def _sql_timestamps(values: pd.Series, where: str) -> pd.Series:
    """Naive UTC times from what a database returns: datetimes, ISO 8601 text (with or
    without an offset; without one it is UTC) or Unix seconds, mixed as SQLite may hold them."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return _parse_timestamps(values, where)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return _seconds_to_timestamps(values, where)
    numbers = pd.Series(
        [isinstance(v, int | float) and not isinstance(v, bool) for v in values],
        index=values.index,
        dtype=bool,
    )
    text = ~numbers & values.notna()
    parts = []
    if numbers.any():
        parts.append(_seconds_to_timestamps(values[numbers].astype(float), where))
    if text.any():
        parts.append(_iso_text_to_timestamps(values[text], where))
    if not parts:  # no rows, or no times
        return pd.Series(pd.NaT, index=values.index, dtype=_text_time_dtype(), name=values.name)
    return pd.concat(parts).reindex(values.index)


def _text_time_dtype() -> Any:
    """The resolution this pandas parses text to, which the files' times have too."""
    return pd.to_datetime(pd.Series(["2000-01-01"])).dtype


def _seconds_to_timestamps(values: pd.Series, where: str) -> pd.Series:
    # Beyond pandas' nanosecond range (years 1677 to 2262) a number is not Unix seconds of a
    # log: milliseconds (1325376000000 would be the year 43969) or something else.
    limit = pd.Timestamp.max.timestamp()
    beyond = values[values.abs() > limit]
    if len(beyond):
        raise DataError(
            f"timestamp column '{values.name}' in {where} holds numbers that are not Unix "
            f"seconds, such as {beyond.iloc[0]} (milliseconds?): store Unix seconds, "
            "ISO 8601 text or timestamps"
        )
    stamps = pd.to_datetime(values, unit="s", utc=True)
    return stamps.dt.tz_localize(None).astype(_text_time_dtype())


def _iso_text_to_timestamps(values: pd.Series, where: str) -> pd.Series:
    stamps = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
    bad = values[stamps.isna()]
    if len(bad):
        raise DataError(
            f"timestamp column '{values.name}' in {where} holds text that is not an ISO 8601 "
            f"time, such as {bad.iloc[0]!r}: write times as 2012-01-01 00:00:00 (with an "
            "offset such as +01:00 if they are not UTC), or store them as timestamps"
        )
    return stamps.dt.tz_localize(None)


def _arrow_kind(arrow_type: object) -> str:
    import pyarrow as pa

    for kind, test in (
        ("null", pa.types.is_null),
        ("number", lambda t: pa.types.is_integer(t) or pa.types.is_floating(t)),
        ("boolean", pa.types.is_boolean),
        ("text", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
        ("datetime", lambda t: pa.types.is_timestamp(t) or pa.types.is_date(t)),
    ):
        if test(arrow_type):
            return kind
    return str(arrow_type)


def make_source(data: DataConfig) -> LogSource:
    """The log source the config describes."""
    if isinstance(data.source, FileSourceConfig):
        return FileLogSource(data.source, data.timestamp_column)
    return SqlLogSource(data.source, data.timestamp_column)


def _missing_columns_message(missing: list[str], present: list[str], where: str) -> str:
    return (
        f"columns {missing} are not in {where}; it has {sorted(present)}. "
        "Fix the column names in the config's data section or the data."
    )


def _parse_timestamps(values: pd.Series, where: str) -> pd.Series:
    try:
        stamps = pd.to_datetime(values, utc=True)
    except (ValueError, TypeError) as error:
        raise DataError(
            f"timestamp column '{values.name}' in {where} has values that are not dates: {error}"
        ) from None
    return stamps.dt.tz_localize(None)


def log_columns(data: DataConfig) -> list[str]:
    """The columns the loop reads from the log."""
    columns = [data.timestamp_column, *data.features, data.target_column]
    if data.prediction_column:
        columns.append(data.prediction_column)
    return columns


def read_with_retries(
    source: LogSource, columns: list[str], window: Window, retries: ReadRetryConfig
) -> pd.DataFrame:
    """Read from source, retrying transient errors with exponential back-off.

    Only reads are retried: they change nothing, so repeating one is always safe.
    """
    return _retrying(source, lambda: source.read(columns, window), retries)


def check_source(data: DataConfig) -> None:
    """DataError unless the log data.source names can be reached and has every column the loop
    reads; no rows are read. Transient errors are retried as a read's are."""
    source = make_source(data)
    _retrying(source, lambda: source.check(log_columns(data)), retries=data.read_retries)


def _retrying(source: LogSource, call: Callable[[], T], retries: ReadRetryConfig) -> T:
    """call(), retried with exponential back-off while it raises TransientReadError."""
    for attempt in range(1, retries.attempts + 1):
        try:
            return call()
        except TransientReadError as error:
            if attempt == retries.attempts:
                raise DataError(
                    f"cannot read {source.describe()} after {attempt} attempt(s): {error}. "
                    "Check that the source is reachable, or raise data.read_retries.attempts"
                ) from None
            delay = retries.backoff_seconds * 2 ** (attempt - 1)
            logger.warning(
                "reading %s failed (attempt %d of %d): %s; retrying in %.1f s",
                source.describe(),
                attempt,
                retries.attempts,
                error,
                delay,
            )
            _sleep(delay)
    raise AssertionError("unreachable: attempts >= 1")


def load_window(
    config: Config,
    window: Window,
    *,
    labelled_only: bool = False,
    source: LogSource | None = None,
    keep_text_features: bool = False,
) -> pd.DataFrame:
    """Read one time window of the log, checked against the config, sorted by time.

    source: the run's log source (Stores.source); by default one is made from the config.
    keep_text_features: leave a numerical feature that holds non-numbers as read (text), for
    the data-quality type check to judge (monitoring), instead of refusing it with a DataError.

    Rows are sorted by time (stable, so rows with the same time keep their order). Several
    rows with the same time are normal in an event log and kept; so are identical rows (two
    identical events cannot be told from a double export without an event id), counted in a
    warning. Rows stamped after the present (more than FUTURE_TOLERANCE) are refused.
    """
    data = config.data
    if source is None:
        source = make_source(data)
    frame = read_with_retries(source, log_columns(data), window, data.read_retries)
    frame[data.timestamp_column] = _parse_timestamps(
        frame[data.timestamp_column], source.describe()
    )
    _check_not_in_future(frame[data.timestamp_column], source.describe())
    if not frame[data.timestamp_column].is_monotonic_increasing:  # a stable sort: else a copy
        frame = frame.sort_values(data.timestamp_column, kind="stable")
    frame = frame.reset_index(drop=True)
    _check_feature_types(frame, data, source.describe(), keep_text_features)
    duplicates = count_duplicates(frame)
    if duplicates:
        logger.warning(
            "%d rows of %s in %s repeat another row exactly; they are kept",
            duplicates,
            source.describe(),
            window,
        )
    target = data.target_column
    if not config.policy.performance_metric.is_regression:
        frame[target] = keep_integer_labels(frame[target])
    if labelled_only:
        frame = labelled_rows(config, frame)
    logger.info("read %d rows of %s in %s", len(frame), source.describe(), window)
    return frame


def labelled_rows(config: Config, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a window load_window read that have a label (load_window's labelled_only)."""
    target = config.data.target_column
    frame = frame[frame[target].notna()].reset_index(drop=True)
    if isinstance(frame[target].dtype, pd.Int64Dtype):
        frame[target] = frame[target].astype("int64")
    return frame


def keep_integer_labels(labels: pd.Series) -> pd.Series:
    """Class labels written as integers, as integers: a column of whole numbers with missing
    values (rows whose label has not arrived) is read as floats, since numpy's integers have no
    missing value, and its classes would be 1.0 and 0.0; it becomes a nullable Int64 (missing
    stays missing). Any other labels are returned as they are."""
    if not pd.api.types.is_float_dtype(labels) or not labels.isna().any():
        return labels
    present = labels.dropna().to_numpy(dtype=np.float64)
    if len(present) == 0 or not np.isfinite(present).all() or (present != np.round(present)).any():
        return labels
    return labels.astype("Int64")


def label_values(labels: pd.Series) -> np.ndarray:
    """Labels without missing values as a numpy array of their own type: nullable integers
    (keep_integer_labels) as int64, which scikit-learn and Evidently take as classes (pandas
    before 3 turns them into objects, which scikit-learn refuses)."""
    if isinstance(labels.dtype, pd.Int64Dtype) and not labels.isna().any():
        return labels.to_numpy(dtype=np.int64)
    return labels.to_numpy()


def _check_not_in_future(stamps: pd.Series, where: str) -> None:
    limit = datetime.now(UTC).replace(tzinfo=None) + FUTURE_TOLERANCE
    future = stamps[stamps > limit]
    if len(future):
        raise DataError(
            f"{len(future)} rows of {where} are stamped in the future (latest {future.max()}, "
            f"now is {limit - FUTURE_TOLERANCE:%Y-%m-%d %H:%M} UTC): fix the clock or time zone "
            f"of whatever writes '{stamps.name}', or set windows.as_of to a past time"
        )


def _strings_as_objects(values: pd.Series) -> np.ndarray:
    """Text as Python strings with NaN for missing: values.astype(object).where(notna, nan),
    each distinct string made once (factorized) instead of once a row."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    lookup = np.append(np.asarray(uniques, dtype=object), np.nan)  # code -1: the last, NaN
    return lookup[codes]


def _text_dtype() -> Any:
    """The dtype pandas gives a column of Python strings with NaN for missing (pandas 3: its
    `str` dtype, whose missing value is NaN; before: object)."""
    return pd.DataFrame({"text": np.array(["text", np.nan], dtype=object)})["text"].dtype


def _check_feature_types(
    frame: pd.DataFrame, data: DataConfig, where: str, keep_text: bool = False
) -> None:
    for column in data.numerical_features:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            converted = pd.to_numeric(frame[column], errors="coerce")
            bad = frame[column][converted.isna() & frame[column].notna()]
            if len(bad) and keep_text:
                continue
            if len(bad):
                raise DataError(
                    f"numerical feature '{column}' in {where} holds non-numbers such as {bad.iloc[0]!r}; "
                    "fix the data or list the column under categorical_features"
                )
            frame[column] = converted
    for column in data.categorical_features:
        # One representation in training and scoring: strings, with NaN for missing.
        values = frame[column]
        if pd.api.types.is_string_dtype(values):
            if values.dtype == _text_dtype():
                continue  # already so: pandas would turn Python strings back into this dtype
            frame[column] = _strings_as_objects(values)
            continue
        frame[column] = values.astype(object).where(values.isna(), values.astype(str))
        frame.loc[values.isna(), column] = np.nan
