"""A copy of tasks/stores/history.py at commit 01849ed (2026-12-02), the last release before the
history moved to SQLAlchemy: tests/stores/test_history_migration.py writes a history file with
it and opens that file with today's code. Do not change it.

Its docstring then: the monitoring history: one row per monitored window, in SQLite next to the
registry.

A window is (model_name, as_of), unique: a second monitor run of the same window (a retried
job, a rerun by hand, a schedule on a fixed windows.as_of) replaces that window's record
instead of adding one, so confirmation and cooldown count windows, not runs. The replacing run's
measurement and decision win; what the window led to stays: `retrained` and `promoted` are kept
when an earlier run of the window set them (the cooldown reads them, and the champion that
promotion made is still there), `runs` counts the runs of the window and details["replaced"]
keeps what the last few earlier runs decided and did. The write is one transaction that takes
the write lock first (BEGIN IMMEDIATE), reads the window's record and updates or inserts it; a
server database does the same with SELECT ... FOR UPDATE, or INSERT ... ON CONFLICT on the
unique key.

WAL mode lets readers run while one writer writes; a busy timeout makes overlapping monitor
runs wait for each other's (short) transactions instead of failing. The unique index on
(model_name, as_of) keeps "the last N windows" and "the last retrain" fast as the table grows
(files written before it also have the index monitor_runs_recent on (model_name, as_of, id)).

Columns added after the first release (the label-free estimate and its breach, runs) are added
to an older file when it is opened (ALTER TABLE ... ADD COLUMN); its earlier rows keep NULL
there, which the policy reads as "not judged". A file written before windows were unique may
hold several rows of one window: opening it merges each window's rows into one (the latest
run's, with the retrain and promotion of any of them), once, before the unique index is built.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from tasks.core.policy import PastRun, TriggerDecision
from tasks.errors import RegistryError

logger = logging.getLogger(__name__)

HISTORY_FILE = "history.sqlite"
BUSY_TIMEOUT_MS = 30_000
# How many earlier runs of one window its record lists in details["replaced"] (newest kept):
# a schedule stuck on a fixed as_of reruns the same window every day.
KEPT_REPLACED_RUNS = 10

_SCHEMA = """
CREATE TABLE IF NOT EXISTS monitor_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_name TEXT NOT NULL,
    as_of TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    champion TEXT,
    drift_breach INTEGER,
    prediction_drift_breach INTEGER,
    performance_breach INTEGER,
    severe INTEGER NOT NULL,
    drift_share REAL,
    prediction_drift_score REAL,
    performance REAL,
    labelled_rows INTEGER NOT NULL,
    current_rows INTEGER NOT NULL,
    decision TEXT NOT NULL,
    status TEXT NOT NULL,
    retrained INTEGER NOT NULL,
    promoted INTEGER NOT NULL,
    details TEXT NOT NULL,
    estimated_performance REAL,
    estimated_performance_breach INTEGER,
    runs INTEGER NOT NULL DEFAULT 1,
    request_id TEXT,
    metric TEXT,
    performance_threshold REAL,
    drift_threshold REAL,
    higher_is_better INTEGER
);
CREATE INDEX IF NOT EXISTS monitor_runs_retrains ON monitor_runs (model_name, as_of)
    WHERE retrained = 1 OR promoted = 1;
"""
_WINDOW_INDEX = "monitor_runs_window"

# Columns a file written before them lacks: name -> SQL type, added on open.
_ADDED_COLUMNS = {
    "estimated_performance": "REAL",
    "estimated_performance_breach": "INTEGER",
    "runs": "INTEGER NOT NULL DEFAULT 1",
    "request_id": "TEXT",
    "metric": "TEXT",
    "performance_threshold": "REAL",
    "drift_threshold": "REAL",
    "higher_is_better": "INTEGER",
}
# The columns one monitor run writes, in the order record() lists their values.
_RUN_COLUMNS = (
    "model_name",
    "as_of",
    "recorded_at",
    "champion",
    "drift_breach",
    "prediction_drift_breach",
    "performance_breach",
    "severe",
    "drift_share",
    "prediction_drift_score",
    "performance",
    "labelled_rows",
    "current_rows",
    "decision",
    "status",
    "retrained",
    "promoted",
    "details",
    "estimated_performance",
    "estimated_performance_breach",
    "runs",
    "request_id",
    "metric",
    "performance_threshold",
    "drift_threshold",
    "higher_is_better",
)


def _missing_columns(connection: sqlite3.Connection) -> list[str]:
    present = {row[1] for row in connection.execute("PRAGMA table_info(monitor_runs)")}
    return [name for name in _ADDED_COLUMNS if name not in present]


def _has_window_index(connection: sqlite3.Connection) -> bool:
    row = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (_WINDOW_INDEX,)
    ).fetchone()
    return row is not None


def _migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Bring an older file up to date: add missing columns, merge the duplicate rows of each
    window, build the unique index on (model_name, as_of). One write transaction, taken only
    when there is something to do (two processes opening an old file at once do it once)."""
    if not _missing_columns(connection) and _has_window_index(connection):
        return
    connection.execute("BEGIN IMMEDIATE")
    for name in _missing_columns(connection):  # again: another process may have done it
        connection.execute(f"ALTER TABLE monitor_runs ADD COLUMN {name} {_ADDED_COLUMNS[name]}")
    if not _has_window_index(connection):
        merged, windows = _merge_duplicate_windows(connection)
        if merged:
            logger.warning(
                "%s: merged %d earlier runs of %d windows monitored more than once (written "
                "before a rerun replaced its window's record) into each window's latest run, "
                "which keeps the retrain and promotion of any of them and lists them in "
                "details.replaced",
                path,
                merged,
                windows,
            )
        connection.execute(
            f"CREATE UNIQUE INDEX {_WINDOW_INDEX} ON monitor_runs (model_name, as_of)"
        )


@dataclass(frozen=True)
class ReplacedRun:
    """What a window's record said of the run that wrote it, before a rerun replaced it."""

    id: int
    recorded_at: str
    champion: str | None
    decision: str
    status: str
    retrained: bool
    promoted: bool
    runs: int  # the runs of the window recorded so far (1: the window was monitored once)
    details: dict[str, Any]
    request_id: str | None = None  # the retrain request of the window (events mode)

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> ReplacedRun:
        try:
            details = json.loads(row[8])
        except (TypeError, ValueError):
            details = {}
        return cls(
            id=int(row[0]),
            recorded_at=str(row[1]),
            champion=row[2],
            decision=str(row[3]),
            status=str(row[4]),
            retrained=bool(row[5]),
            promoted=bool(row[6]),
            runs=int(row[7] or 1),
            details=details if isinstance(details, dict) else {},
            request_id=row[9],
        )

    def summary(self) -> dict[str, Any]:
        """What details["replaced"] keeps of it."""
        return {
            "recorded_at": self.recorded_at,
            "champion": self.champion,
            "decision": self.decision,
            "status": self.status,
            "retrained": self.retrained,
            "promoted": self.promoted,
        }


_STORED_RUN = (
    "SELECT id, recorded_at, champion, decision, status, retrained, promoted, runs, details,"
    " request_id FROM monitor_runs"
)


def _with_replaced(details: dict[str, Any], earlier: list[ReplacedRun]) -> dict[str, Any]:
    """details with the earlier runs of the window (each after those it had replaced) in
    "replaced", oldest first: the newest KEPT_REPLACED_RUNS of them."""
    replaced: list[Any] = []
    for run in earlier:
        before = run.details.get("replaced", [])
        replaced += [*(before if isinstance(before, list) else []), run.summary()]
    return {**details, "replaced": replaced[-KEPT_REPLACED_RUNS:]}


def _merge_duplicate_windows(connection: sqlite3.Connection) -> tuple[int, int]:
    """Merge the rows of each window monitored more than once into its latest row; return how
    many rows were merged away and of how many windows."""
    groups = connection.execute(
        "SELECT model_name, as_of FROM monitor_runs GROUP BY model_name, as_of HAVING COUNT(*) > 1"
    ).fetchall()
    merged = 0
    for model_name, as_of in groups:
        runs = [
            ReplacedRun.from_row(row)
            for row in connection.execute(
                f"{_STORED_RUN} WHERE model_name = ? AND as_of = ? ORDER BY id",
                (model_name, as_of),
            )
        ]
        *earlier, latest = runs
        details = _with_replaced(latest.details, earlier)
        connection.execute(
            "UPDATE monitor_runs SET retrained = ?, promoted = ?, runs = ?, details = ?"
            " WHERE id = ?",
            (
                int(any(run.retrained for run in runs)),
                int(any(run.promoted for run in runs)),
                sum(run.runs for run in runs),
                json.dumps(details, default=str),
                latest.id,
            ),
        )
        connection.executemany(
            "DELETE FROM monitor_runs WHERE id = ?", [(run.id,) for run in earlier]
        )
        merged += len(earlier)
    return merged, len(groups)


@dataclass(frozen=True)
class RunRecord:
    """One monitor run as recorded: what it measured, decided and did."""

    as_of: datetime
    champion: str | None
    decision: TriggerDecision
    status: str
    retrained: bool
    promoted: bool
    details: dict[str, Any]
    # Events mode: the retrain request this run emitted; its promote run records the verdict
    # on this record (record_outcome).
    request_id: str | None = None


@dataclass(frozen=True)
class Recorded:
    """Where a run went: its window's record, and the earlier run of the window it replaced
    (None: the first run of the window)."""

    id: int
    replaced: ReplacedRun | None = None


def _past_run(row: tuple[Any, ...]) -> PastRun:
    return PastRun(
        as_of=datetime.fromisoformat(row[0]),
        champion=row[1],
        drift_breach=_unflag(row[2]),
        prediction_drift_breach=_unflag(row[3]),
        performance_breach=_unflag(row[4]),
        retrained=bool(row[5]),
        promoted=bool(row[6]),
        estimated_performance_breach=_unflag(row[7]),
    )


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _unflag(value: int | None) -> bool | None:
    return None if value is None else bool(value)


class MonitoringHistory(Protocol):
    """What the monitor, the promote flow, the policy and the history CLI need of a monitoring
    history; a second backend (a database server shared by workers) implements these methods,
    with one record per (model_name, as_of)."""

    def record(self, model_name: str, record: RunRecord) -> Recorded: ...

    def record_outcome(self, model_name: str, request_id: str, status: str) -> int: ...

    def models(self) -> list[str]: ...

    def recent(
        self, model_name: str, as_of: datetime, limit: int, min_spacing: timedelta = ...
    ) -> list[PastRun]: ...

    def last_retrain(self, model_name: str, as_of: datetime) -> datetime | None: ...

    def count(self, model_name: str) -> int: ...

    def rows(self, model_name: str) -> list[dict[str, Any]]: ...


class MonitorHistory:
    """The monitor runs of every model in one registry directory (SQLite, WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as connection:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.executescript(_SCHEMA)
                _migrate(connection, self.path)
        except sqlite3.Error as error:
            raise RegistryError(
                f"cannot open the monitoring history {self.path}: {error} "
                "(check the registry.path directory is writable and the file is not corrupt)"
            ) from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection whose `with` block is one transaction, closed afterwards."""
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
        with closing(connection):
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            with connection:
                yield connection

    def record(self, model_name: str, record: RunRecord) -> Recorded:
        """Record one monitor run as its window's record: a new row, or, for a window already
        recorded, the row it replaces (keeping the window's retrain and promotion)."""
        decision = record.decision
        breaches = decision.breaches
        values: dict[str, Any] = dict(
            zip(
                _RUN_COLUMNS,
                (
                    model_name,
                    record.as_of.isoformat(),
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    record.champion,
                    _flag(breaches.drift),
                    _flag(breaches.prediction_drift),
                    _flag(breaches.performance),
                    int(breaches.severe),
                    decision.drift_share,
                    decision.prediction_drift_score,
                    decision.performance,
                    decision.labelled_rows,
                    decision.current_rows,
                    decision.action,
                    record.status,
                    int(record.retrained),
                    int(record.promoted),
                    None,  # details, below
                    decision.estimated_performance,
                    _flag(breaches.estimated_performance),
                    1,
                    record.request_id,
                    decision.metric or None,
                    decision.performance_threshold,
                    decision.drift_threshold,
                    int(decision.higher_is_better),
                ),
                strict=True,
            )
        )
        details = {"reasons": list(decision.reasons), **record.details}
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")  # the write lock before reading the window
            row = connection.execute(
                f"{_STORED_RUN} WHERE model_name = ? AND as_of = ?",
                (model_name, values["as_of"]),
            ).fetchone()
            if row is None:
                values["details"] = json.dumps(details, default=str)
                cursor = connection.execute(
                    f"INSERT INTO monitor_runs ({', '.join(values)})"
                    f" VALUES ({', '.join('?' for _ in values)})",
                    tuple(values.values()),
                )
                return Recorded(int(cursor.lastrowid or 0))
            earlier = ReplacedRun.from_row(row)
            values["retrained"] = int(record.retrained or earlier.retrained)
            values["promoted"] = int(record.promoted or earlier.promoted)
            values["runs"] = earlier.runs + 1
            # A pending request of the window stays findable by its promote run.
            values["request_id"] = record.request_id or earlier.request_id
            values["details"] = json.dumps(_with_replaced(details, [earlier]), default=str)
            del values["model_name"], values["as_of"]
            connection.execute(
                f"UPDATE monitor_runs SET {', '.join(f'{name} = ?' for name in values)}"
                " WHERE id = ?",
                (*values.values(), earlier.id),
            )
            return Recorded(earlier.id, earlier)

    def recent(
        self, model_name: str, as_of: datetime, limit: int, min_spacing: timedelta = timedelta(0)
    ) -> list[PastRun]:
        """The records of the last `limit` windows before a run at as_of, newest first (not the
        record of as_of itself: an earlier run of the same window is no evidence for a rerun,
        which replaces it); with min_spacing, each window at least that long before the one
        after it (the run at as_of included), so that with overlapping windows the runs
        returned look at different rows."""
        columns = (
            "SELECT as_of, champion, drift_breach, prediction_drift_breach,"
            " performance_breach, retrained, promoted, estimated_performance_breach"
            " FROM monitor_runs WHERE model_name = ?"
        )
        query = f"{columns} AND as_of <= ? ORDER BY as_of DESC, id DESC LIMIT ?"
        with self._connect() as connection:
            if not min_spacing:
                rows = connection.execute(
                    f"{columns} AND as_of < ? ORDER BY as_of DESC, id DESC LIMIT ?",
                    (model_name, as_of.isoformat(), limit),
                ).fetchall()
                return [_past_run(row) for row in rows]
            runs: list[PastRun] = []
            bound = as_of
            while len(runs) < limit:  # one indexed lookup a run
                row = connection.execute(
                    query, (model_name, (bound - min_spacing).isoformat(), 1)
                ).fetchone()
                if row is None:
                    break
                runs.append(_past_run(row))
                bound = runs[-1].as_of
            return runs

    def last_retrain(self, model_name: str, as_of: datetime) -> datetime | None:
        """as_of of the last window at or before as_of that retrained or promoted (as_of itself
        included: a rerun of a window that retrained is in its cooldown)."""
        with self._connect() as connection:
            row = connection.execute(
                "SELECT MAX(as_of) FROM monitor_runs WHERE model_name = ?"
                " AND (retrained = 1 OR promoted = 1) AND as_of <= ?",
                (model_name, as_of.isoformat()),
            ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def record_outcome(self, model_name: str, request_id: str, status: str) -> int:
        """What became of the retrain a monitor run requested in events mode (the promote
        run's status: promoted, rejected, dropped), on the record of the window that requested
        it; return how many records it updated (0: no run of that request is recorded).

        The status replaces "retrain-requested" only: a rerun of the window that replaced the
        record in the meantime keeps its own status, and gets the promotion flag."""
        with self._connect() as connection:
            cursor = connection.execute(
                "UPDATE monitor_runs SET"
                " promoted = CASE WHEN ? = 'promoted' THEN 1 ELSE promoted END,"
                " status = CASE WHEN status = 'retrain-requested' THEN ? ELSE status END"
                " WHERE model_name = ? AND request_id = ?",
                (status, status, model_name, request_id),
            )
            return int(cursor.rowcount)

    def models(self) -> list[str]:
        """The models with at least one recorded run, by name."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT DISTINCT model_name FROM monitor_runs ORDER BY model_name"
            ).fetchall()
        return [str(row[0]) for row in rows]

    def count(self, model_name: str) -> int:
        with self._connect() as connection:
            row = connection.execute(
                "SELECT COUNT(*) FROM monitor_runs WHERE model_name = ?", (model_name,)
            ).fetchone()
        return int(row[0])

    def rows(self, model_name: str) -> list[dict[str, Any]]:
        """Every run of model_name, oldest first, as plain mappings (for reports and tests)."""
        with self._connect() as connection:
            connection.row_factory = sqlite3.Row
            rows = connection.execute(
                "SELECT * FROM monitor_runs WHERE model_name = ? ORDER BY as_of, id",
                (model_name,),
            ).fetchall()
        return [dict(row) for row in rows]


def open_history(registry_path: Path) -> MonitoringHistory:
    """The monitoring history kept next to the registry."""
    return MonitorHistory(Path(registry_path) / HISTORY_FILE)
