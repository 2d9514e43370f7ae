"""Reading the production log: Parquet/CSV files in a directory, or a SQL table."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from tasks.config import Config, DataConfig, FileSourceConfig, SqlSourceConfig
from tasks.errors import DataError
from tasks.windows import Window

logger = logging.getLogger(__name__)


class LogSource(Protocol):
    """A time-stamped production log that can return one time range of some columns."""

    def read(self, columns: list[str], window: Window) -> pd.DataFrame: ...

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
        return files

    def read(self, columns: list[str], window: Window) -> pd.DataFrame:
        files = self._files()
        if self.format == "parquet":
            return self._read_parquet(files, columns, window)
        return self._read_csv(files, columns, window)

    def _read_parquet(self, files: list[Path], columns: list[str], window: Window) -> pd.DataFrame:
        import pyarrow.dataset as ds

        dataset = ds.dataset([str(f) for f in files], format="parquet")
        missing = [c for c in columns if c not in dataset.schema.names]
        if missing:
            raise DataError(
                _missing_columns_message(missing, dataset.schema.names, self.describe())
            )
        ts = ds.field(self.timestamp_column)
        field_type = dataset.schema.field(self.timestamp_column).type
        start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
        if getattr(field_type, "tz", None):
            start, end = start.tz_localize("UTC"), end.tz_localize("UTC")
        try:
            table = dataset.to_table(columns=columns, filter=(ts >= start) & (ts < end))
        except Exception as error:  # pyarrow raises many types for type mismatches
            raise DataError(
                f"cannot filter {self.describe()} on '{self.timestamp_column}': {error} "
                "(the timestamp column must hold datetimes)"
            ) from None
        return table.to_pandas()

    def _read_csv(self, files: list[Path], columns: list[str], window: Window) -> pd.DataFrame:
        frames = []
        for file in files:
            header = pd.read_csv(file, nrows=0).columns.tolist()
            missing = [c for c in columns if c not in header]
            if missing:
                raise DataError(_missing_columns_message(missing, header, str(file)))
            frame = pd.read_csv(file, usecols=columns)
            stamps = _parse_timestamps(frame[self.timestamp_column], str(file))
            frames.append(frame[(stamps >= window.start) & (stamps < window.end)])
        return pd.concat(frames, ignore_index=True)


class SqlLogSource:
    """A table reached through SQLAlchemy; the time range is filtered in the database."""

    def __init__(self, config: SqlSourceConfig, timestamp_column: str) -> None:
        self.url = config.url
        self.table = config.table
        self.timestamp_column = timestamp_column

    def describe(self) -> str:
        from sqlalchemy.engine import make_url

        return f"table '{self.table}' at {make_url(self.url).render_as_string(hide_password=True)}"

    def read(self, columns: list[str], window: Window) -> pd.DataFrame:
        import sqlalchemy as sa

        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as connection:
                inspector = sa.inspect(connection)
                if not inspector.has_table(self.table):
                    raise DataError(
                        f"no table '{self.table}' in {self.describe()} (check data.source.table)"
                    )
                present = [c["name"] for c in inspector.get_columns(self.table)]
                missing = [c for c in columns if c not in present]
                if missing:
                    raise DataError(_missing_columns_message(missing, present, self.describe()))
                table = sa.table(self.table, *(sa.column(c) for c in columns))
                ts = table.c[self.timestamp_column]
                query = sa.select(*table.c).where(ts >= window.start, ts < window.end)
                return pd.read_sql(query, connection)
        except sa.exc.SQLAlchemyError as error:
            raise DataError(f"cannot read {self.describe()}: {error}") from None
        finally:
            engine.dispose()


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


def load_window(config: Config, window: Window, *, labelled_only: bool = False) -> pd.DataFrame:
    """Read one time window of the log, checked against the config, sorted by time."""
    data = config.data
    source = make_source(data)
    frame = source.read(log_columns(data), window)
    frame[data.timestamp_column] = _parse_timestamps(
        frame[data.timestamp_column], source.describe()
    )
    frame = frame.sort_values(data.timestamp_column, kind="stable").reset_index(drop=True)
    _check_feature_types(frame, data, source.describe())
    if labelled_only:
        frame = frame[frame[data.target_column].notna()].reset_index(drop=True)
    logger.info("read %d rows of %s in %s", len(frame), source.describe(), window)
    return frame


def _check_feature_types(frame: pd.DataFrame, data: DataConfig, where: str) -> None:
    for column in data.numerical_features:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            converted = pd.to_numeric(frame[column], errors="coerce")
            bad = frame[column][converted.isna() & frame[column].notna()]
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
            frame[column] = values.astype(object).where(values.notna(), np.nan)
            continue
        frame[column] = values.astype(object).where(values.isna(), values.astype(str))
        frame.loc[values.isna(), column] = np.nan
