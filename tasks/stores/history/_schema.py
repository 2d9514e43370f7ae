"""The history's table, the engine that reaches it (SQLite or PostgreSQL), and the migration of
a database written by an earlier release.

The table is created by the project on first open. Columns added after the first release (the
label-free estimate and its breach, runs, the request and the thresholds a run was judged on)
are added to an older table when it is opened (ALTER TABLE ... ADD COLUMN); its earlier rows
keep NULL there, which the policy reads as "not judged". A table written before windows were
unique may hold several rows of one window: opening it merges each window's rows into one (the
latest run's, with the retrain and promotion of any of them), once, before the unique index is
built. All of it is one write transaction, taken only when there is something to do: SQLite's
write lock (BEGIN IMMEDIATE), on PostgreSQL a transaction-level advisory lock, so two processes
opening an old database at once migrate it once.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from tasks.stores.history._records import ReplacedRun, with_replaced

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
# An execution option of a connection that writes: on SQLite its transactions begin with the
# write lock (BEGIN IMMEDIATE) before they read what they update.
WRITES = "autoretrain_writes"
# pg_advisory_xact_lock key of the schema's migration (a constant: one history table a database).
MIGRATION_LOCK_KEY = 0x6175746F72657472  # "autoretr"

# Keys compared as text sort by bytes on PostgreSQL too (ISO timestamps, model names), not by
# the database's locale collation, which may skip punctuation.
_KEY = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")

_METADATA = sa.MetaData()
RUNS = sa.Table(
    "monitor_runs",
    _METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", _KEY, nullable=False),
    sa.Column("as_of", _KEY, nullable=False),
    sa.Column("recorded_at", sa.Text, nullable=False),
    sa.Column("champion", sa.Text),
    sa.Column("drift_breach", sa.Integer),
    sa.Column("prediction_drift_breach", sa.Integer),
    sa.Column("performance_breach", sa.Integer),
    sa.Column("severe", sa.Integer, nullable=False),
    sa.Column("drift_share", sa.Float),
    sa.Column("prediction_drift_score", sa.Float),
    sa.Column("performance", sa.Float),
    sa.Column("labelled_rows", sa.Integer, nullable=False),
    sa.Column("current_rows", sa.Integer, nullable=False),
    sa.Column("decision", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("retrained", sa.Integer, nullable=False),
    sa.Column("promoted", sa.Integer, nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("estimated_performance", sa.Float),
    sa.Column("estimated_performance_breach", sa.Integer),
    sa.Column("runs", sa.Integer, nullable=False, server_default=sa.text("1")),
    sa.Column("request_id", sa.Text),
    sa.Column("metric", sa.Text),
    sa.Column("performance_threshold", sa.Float),
    sa.Column("drift_threshold", sa.Float),
    sa.Column("higher_is_better", sa.Integer),
    sqlite_autoincrement=True,
)
_RETRAINED = sa.or_(RUNS.c.retrained == 1, RUNS.c.promoted == 1)
# "The last retrain": the windows that retrained or promoted.
RETRAINS_INDEX = sa.Index(
    "monitor_runs_retrains",
    RUNS.c.model_name,
    RUNS.c.as_of,
    sqlite_where=_RETRAINED,
    postgresql_where=_RETRAINED,
)
# One record a window; "the last N windows" (files written before it also have the index
# monitor_runs_recent on (model_name, as_of, id)).
WINDOW_INDEX = sa.Index("monitor_runs_window", RUNS.c.model_name, RUNS.c.as_of, unique=True)

# Columns a table written before them lacks, added on open.
ADDED_COLUMNS = (
    "estimated_performance",
    "estimated_performance_breach",
    "runs",
    "request_id",
    "metric",
    "performance_threshold",
    "drift_threshold",
    "higher_is_better",
)
# What a rerun reads of the record it replaces (ReplacedRun).
STORED_RUN = (
    RUNS.c.id,
    RUNS.c.recorded_at,
    RUNS.c.champion,
    RUNS.c.decision,
    RUNS.c.status,
    RUNS.c.retrained,
    RUNS.c.promoted,
    RUNS.c.runs,
    RUNS.c.details,
    RUNS.c.request_id,
)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy begins the transactions itself (_sqlite_begin), as its pysqlite docs advise:
    # the driver's own BEGIN would come too late for a write lock taken before reading.
    dbapi_connection.isolation_level = None
    dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _sqlite_begin(connection: sa.Connection) -> None:
    writes = connection.get_execution_options().get(WRITES, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


# One pool per server database and process: a fleet opens the history of every model it
# monitors, and a pool each would hold as many idle connections.
_SERVER_ENGINES: dict[str, sa.Engine] = {}
_SERVER_ENGINES_LOCK = threading.Lock()


def _fresh_pools_after_fork() -> None:
    # A forked child must not use its parent's connections: new pools, the parent's untouched.
    for engine in _SERVER_ENGINES.values():
        engine.dispose(close=False)


def create_engine(url: str) -> sa.Engine:
    """The engine of the history's database: SQLite with WAL and a busy timeout, each
    connection opened per use (as the file may be shared by processes and deleted by tests);
    a server database with a small pool checked before use, one per URL in a process."""
    backend = sa.make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = sa.create_engine(
            url,
            poolclass=sa.pool.NullPool,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
        )
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    with _SERVER_ENGINES_LOCK:
        if not _SERVER_ENGINES:
            os.register_at_fork(after_in_child=_fresh_pools_after_fork)
        if url not in _SERVER_ENGINES:
            _SERVER_ENGINES[url] = sa.create_engine(
                url, pool_pre_ping=True, pool_size=2, max_overflow=4
            )
        return _SERVER_ENGINES[url]


def use_wal(engine: sa.Engine) -> None:
    """SQLite: WAL mode, which lets readers run while one writer writes (kept by the file)."""
    statement = "PRAGMA journal_mode=WAL"  # outside a transaction: on the driver's connection
    raw = engine.raw_connection()
    try:
        raw.cursor().execute(statement)
    except sqlite3.Error as error:
        raise sa.exc.DatabaseError(statement, None, error) from None
    finally:
        raw.close()


@contextmanager
def writing(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection whose block is one write transaction (SQLite: holding the write lock)."""
    with engine.connect() as connection:
        connection.execution_options(**{WRITES: True})
        with connection.begin():
            yield connection


def _state(connection: sa.Connection) -> tuple[bool, list[str], bool, bool]:
    """Whether the table exists, its missing added columns, and whether each index exists."""
    inspector = sa.inspect(connection)
    if not inspector.has_table(RUNS.name):
        return False, [], False, False
    present = {column["name"] for column in inspector.get_columns(RUNS.name)}
    lacking = [c.name for c in RUNS.columns if c.name not in present]
    unknown = sorted(set(lacking) - set(ADDED_COLUMNS))
    if unknown:
        raise sa.exc.InvalidRequestError(
            f"table {RUNS.name} lacks the columns {unknown}: it was not written by autoretrain"
        )
    indexes = {index["name"] for index in inspector.get_indexes(RUNS.name)}
    return True, lacking, WINDOW_INDEX.name in indexes, RETRAINS_INDEX.name in indexes


def _up_to_date(state: tuple[bool, list[str], bool, bool]) -> bool:
    exists, lacking, window, retrains = state
    return exists and not lacking and window and retrains


def migrate(engine: sa.Engine, where: str) -> None:
    """Create the table, or bring an older one up to date; nothing when it is."""
    with engine.connect() as connection:
        if _up_to_date(_state(connection)):
            return
    with writing(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
        exists, lacking, window, retrains = _state(connection)  # again: another process may
        if not exists:
            RUNS.create(connection)
            return
        for name in lacking:
            column = sa.schema.CreateColumn(RUNS.c[name]).compile(dialect=connection.dialect)
            connection.exec_driver_sql(f"ALTER TABLE {RUNS.name} ADD COLUMN {column}")
        if not window:
            merged, windows = _merge_duplicate_windows(connection)
            if merged:
                logger.warning(
                    "%s: merged %d earlier runs of %d windows monitored more than once "
                    "(written before a rerun replaced its window's record) into each window's "
                    "latest run, which keeps the retrain and promotion of any of them and lists "
                    "them in details.replaced",
                    where,
                    merged,
                    windows,
                )
            WINDOW_INDEX.create(connection)
        if not retrains:
            RETRAINS_INDEX.create(connection)


def _merge_duplicate_windows(connection: sa.Connection) -> tuple[int, int]:
    """Merge the rows of each window monitored more than once into its latest row; return how
    many rows were merged away and of how many windows."""
    groups = connection.execute(
        sa.select(RUNS.c.model_name, RUNS.c.as_of)
        .group_by(RUNS.c.model_name, RUNS.c.as_of)
        .having(sa.func.count() > 1)
    ).all()
    merged = 0
    for model_name, as_of in groups:
        runs = [
            ReplacedRun.from_row(row._mapping)
            for row in connection.execute(
                sa.select(*STORED_RUN)
                .where(RUNS.c.model_name == model_name, RUNS.c.as_of == as_of)
                .order_by(RUNS.c.id)
            )
        ]
        *earlier, latest = runs
        connection.execute(
            sa.update(RUNS)
            .where(RUNS.c.id == latest.id)
            .values(
                retrained=int(any(run.retrained for run in runs)),
                promoted=int(any(run.promoted for run in runs)),
                runs=sum(run.runs for run in runs),
                details=json.dumps(with_replaced(latest.details, earlier), default=str),
            )
        )
        connection.execute(sa.delete(RUNS).where(RUNS.c.id.in_([run.id for run in earlier])))
        merged += len(earlier)
    return merged, len(groups)
