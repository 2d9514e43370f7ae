"""The monitoring history: one record per monitored window, in a database the project manages.

Where: `history.url`, a SQLAlchemy URL (PostgreSQL, shared by every machine that monitors the
model), or by default the SQLite file `history.sqlite` next to the registry. The same code
(SQLAlchemy Core) serves both; the table is created and migrated on open (`_schema.py`).

A window is (model_name, as_of), unique: a second monitor run of the same window (a retried
job, a rerun by hand, a schedule on a fixed windows.as_of) replaces that window's record
instead of adding one, so confirmation and cooldown count windows, not runs. The replacing run's
measurement and decision win; what the window led to stays: `retrained` and `promoted` are kept
when an earlier run of the window set them (the cooldown reads them, and the champion that
promotion made is still there), `runs` counts the runs of the window and details["replaced"]
keeps what the last few earlier runs decided and did. The write is one transaction: INSERT ...
ON CONFLICT DO NOTHING on the unique key, and when the window has a record, a read that locks it
and its update. SQLite takes its database write lock first (BEGIN IMMEDIATE); PostgreSQL locks
the window's row alone (SELECT ... FOR UPDATE), so writers of other models never wait.

SQLite runs in WAL mode (readers run while one writer writes) with a busy timeout, so
overlapping monitor runs wait for each other's (short) transactions instead of failing. The
unique index on (model_name, as_of) keeps "the last N windows" fast as the table grows, and a
partial one over the windows that retrained or promoted "the last retrain".

    _records.py  RunRecord, Recorded, ReplacedRun, MonitoringHistory (the interface)
    _schema.py   the table, the engine, the migration of an earlier release's database
    _store.py    MonitorHistory and open_history
"""

from tasks.stores.history._records import (
    KEPT_REPLACED_RUNS,
    MonitoringHistory,
    Recorded,
    ReplacedRun,
    RunRecord,
)
from tasks.stores.history._schema import BUSY_TIMEOUT_MS
from tasks.stores.history._store import (
    HISTORY_FILE,
    MonitorHistory,
    history_location,
    open_history,
)

__all__ = [
    "BUSY_TIMEOUT_MS",
    "HISTORY_FILE",
    "KEPT_REPLACED_RUNS",
    "MonitorHistory",
    "MonitoringHistory",
    "Recorded",
    "ReplacedRun",
    "RunRecord",
    "history_location",
    "open_history",
]
