"""The monitoring history: one row per monitor run, in SQLite next to the registry.

WAL mode lets readers run while one writer writes; a busy timeout makes overlapping monitor
runs wait for each other's (short, single-statement) transactions instead of failing. The index
on (model_name, as_of, id) keeps "the last N runs" and "the last retrain" fast as the table grows.

Columns added after the first release (the label-free estimate and its breach) are added to an
older file when it is opened (ALTER TABLE ... ADD COLUMN); its earlier rows keep NULL there,
which the policy reads as "not judged".
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from tasks.core.policy import PastRun, TriggerDecision
from tasks.errors import RegistryError

HISTORY_FILE = "history.sqlite"
BUSY_TIMEOUT_MS = 30_000

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
    estimated_performance_breach INTEGER
);
CREATE INDEX IF NOT EXISTS monitor_runs_recent ON monitor_runs (model_name, as_of, id);
CREATE INDEX IF NOT EXISTS monitor_runs_retrains ON monitor_runs (model_name, as_of)
    WHERE retrained = 1 OR promoted = 1;
"""


# Columns a file written before them lacks: name -> SQL type, added on open.
_ADDED_COLUMNS = {"estimated_performance": "REAL", "estimated_performance_breach": "INTEGER"}


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    present = {row[1] for row in connection.execute("PRAGMA table_info(monitor_runs)")}
    for name, kind in _ADDED_COLUMNS.items():
        if name not in present:
            connection.execute(f"ALTER TABLE monitor_runs ADD COLUMN {name} {kind}")


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
    """What the monitor and the policy need of a monitoring history; a second backend (a
    database server shared by workers) implements these five methods."""

    def record(self, model_name: str, record: RunRecord) -> int: ...

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
                _add_missing_columns(connection)
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

    def record(self, model_name: str, record: RunRecord) -> int:
        """Append one monitor run; return its id."""
        decision = record.decision
        breaches = decision.breaches
        row = (
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
            json.dumps({"reasons": list(decision.reasons), **record.details}, default=str),
            decision.estimated_performance,
            _flag(breaches.estimated_performance),
        )
        with self._connect() as connection:
            cursor = connection.execute(
                "INSERT INTO monitor_runs (model_name, as_of, recorded_at, champion, drift_breach,"
                " prediction_drift_breach, performance_breach, severe, drift_share,"
                " prediction_drift_score, performance, labelled_rows, current_rows, decision,"
                " status, retrained, promoted, details, estimated_performance,"
                " estimated_performance_breach)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cursor.lastrowid or 0)

    def recent(
        self, model_name: str, as_of: datetime, limit: int, min_spacing: timedelta = timedelta(0)
    ) -> list[PastRun]:
        """The last `limit` runs before a run at as_of, newest first; with min_spacing, each run
        at least that long before the one after it (the run at as_of included), so that with
        overlapping windows the runs returned look at different rows."""
        query = (
            "SELECT as_of, champion, drift_breach, prediction_drift_breach,"
            " performance_breach, retrained, promoted, estimated_performance_breach"
            " FROM monitor_runs"
            " WHERE model_name = ? AND as_of <= ? ORDER BY as_of DESC, id DESC LIMIT ?"
        )
        with self._connect() as connection:
            if not min_spacing:
                rows = connection.execute(query, (model_name, as_of.isoformat(), limit)).fetchall()
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
        """as_of of the last run at or before as_of that retrained or promoted."""
        with self._connect() as connection:
            row = connection.execute(
                "SELECT MAX(as_of) FROM monitor_runs WHERE model_name = ?"
                " AND (retrained = 1 OR promoted = 1) AND as_of <= ?",
                (model_name, as_of.isoformat()),
            ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

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
