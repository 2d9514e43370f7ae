"""MonitorHistory: the monitor runs of every model, in a SQLite file or a PostgreSQL database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tasks.config import HistoryConfig, check_history_url
from tasks.core.policy import PastRun
from tasks.core.reasons import reason_records
from tasks.errors import RegistryError
from tasks.secrets import SecretValue, mask_url_password
from tasks.stores.history._records import (
    MonitoringHistory,
    Recorded,
    ReplacedRun,
    RunRecord,
    flag,
    past_run,
    with_replaced,
)
from tasks.stores.history._schema import (
    RUNS,
    STORED_RUN,
    create_engine,
    migrate,
    use_wal,
    writing,
)

HISTORY_FILE = "history.sqlite"
# What the policy reads of a past run (PastRun).
_PAST_RUN = (
    RUNS.c.as_of,
    RUNS.c.champion,
    RUNS.c.drift_breach,
    RUNS.c.prediction_drift_breach,
    RUNS.c.performance_breach,
    RUNS.c.retrained,
    RUNS.c.promoted,
    RUNS.c.estimated_performance_breach,
    RUNS.c.current_rows,
    RUNS.c.performance,
    RUNS.c.labelled_rows,
    RUNS.c.severe,
    RUNS.c.status,
)


def _describe_url(url: SecretValue) -> str:
    """The URL as messages show it: its origin when it came from outside config.yaml, else the
    URL with its password masked."""
    if url.from_reference:
        return f"history.url (from {url.origin})"
    return mask_url_password(url.reveal())


class MonitorHistory:
    """The monitor runs of every model: a SQLite file (a path) or the database of a SQLAlchemy
    URL (history.url), created and migrated on open."""

    def __init__(self, location: Path | SecretValue) -> None:
        self.path: Path | None = None  # the SQLite file, when given as a path
        if isinstance(location, SecretValue):
            self._secret: SecretValue | None = location
            self.where = _describe_url(location)
            try:
                check_history_url(location)
            except ValueError as error:
                raise RegistryError(f"history.url: {error}") from None
            url = location.reveal()
        else:
            self._secret = None
            self.path = Path(location)
            self.where = str(self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{self.path}"
        try:
            self._engine = create_engine(url)
        except (sa.exc.NoSuchModuleError, ImportError) as error:
            raise RegistryError(
                f"cannot use the monitoring history at {self.where}: {self._redact(error)} "
                "(install the database's driver: `pip install .[postgres]` for PostgreSQL)"
            ) from None
        try:
            if self._engine.dialect.name == "sqlite":
                use_wal(self._engine)
            migrate(self._engine, self.where)
        except sa.exc.SQLAlchemyError as error:
            hint = (
                "check the registry.path directory is writable and the file is not corrupt"
                if self.path is not None
                else "check history.url: the database is up, reachable and the user may "
                "create a table in it"
            )
            raise RegistryError(
                f"cannot open the monitoring history {self.where}: {self._redact(error)} ({hint})"
            ) from None

    def __repr__(self) -> str:
        return f"MonitorHistory({self.where!r})"

    @property
    def dialect(self) -> str:
        """sqlite or postgresql."""
        return str(self._engine.dialect.name)

    def _redact(self, error: BaseException) -> str:
        text = str(error)
        return self._secret.redact(text) if self._secret is not None else text

    @contextmanager
    def _failing_clearly(self, doing: str) -> Iterator[None]:
        """SQLAlchemy's errors as the project's, with the URL's password masked (`from None`:
        a traceback must not print the unredacted message)."""
        try:
            yield
        except sa.exc.SQLAlchemyError as error:
            raise RegistryError(
                f"monitoring history {self.where}: {doing} failed: {self._redact(error)}"
            ) from None

    @contextmanager
    def _reading(self, doing: str) -> Iterator[sa.Connection]:
        with self._failing_clearly(doing), self._engine.connect() as connection:
            yield connection

    @contextmanager
    def _writing(self, doing: str) -> Iterator[sa.Connection]:
        with self._failing_clearly(doing), writing(self._engine) as connection:
            yield connection

    def _insert_new(self, values: dict[str, Any]) -> Any:
        """INSERT of a window's first record that does nothing when the window has one."""
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        return (
            insert(RUNS)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[RUNS.c.model_name, RUNS.c.as_of])
            .returning(RUNS.c.id)
        )

    def record(self, model_name: str, record: RunRecord) -> Recorded:
        """Record one monitor run as its window's record: a new row, or, for a window already
        recorded, the row it replaces (keeping the window's retrain and promotion).

        One transaction: the insert of a new window, or, when the window has a record, a read
        of it that locks it (SQLite: the database's write lock, taken first; PostgreSQL: that
        row alone, SELECT ... FOR UPDATE) and its update. Writers of other models or windows
        never wait for it on PostgreSQL."""
        decision = record.decision
        breaches = decision.breaches
        values: dict[str, Any] = {
            "model_name": model_name,
            "as_of": record.as_of.isoformat(),
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "champion": record.champion,
            "drift_breach": flag(breaches.drift),
            "prediction_drift_breach": flag(breaches.prediction_drift),
            "performance_breach": flag(breaches.performance),
            "severe": int(breaches.severe),
            "drift_share": decision.drift_share,
            "prediction_drift_score": decision.prediction_drift_score,
            "performance": decision.performance,
            "labelled_rows": decision.labelled_rows,
            "current_rows": decision.current_rows,
            "decision": decision.action,
            "status": record.status,
            "retrained": int(record.retrained),
            "promoted": int(record.promoted),
            "details": None,  # below
            "estimated_performance": decision.estimated_performance,
            "estimated_performance_breach": flag(breaches.estimated_performance),
            "runs": 1,
            "request_id": record.request_id,
            "metric": decision.metric or None,
            "performance_threshold": decision.performance_threshold,
            "drift_threshold": decision.drift_threshold,
            "higher_is_better": int(decision.higher_is_better),
        }
        details = {
            "reasons": list(decision.reasons),
            "reason_codes": reason_records(decision.reason_codes),
            **record.details,
        }
        window = (RUNS.c.model_name == model_name, RUNS.c.as_of == values["as_of"])
        with self._writing(f"recording the run of {model_name} at {values['as_of']}") as conn:
            inserted = conn.execute(
                self._insert_new({**values, "details": json.dumps(details, default=str)})
            ).first()
            if inserted is not None:
                return Recorded(int(inserted[0]))
            row = conn.execute(sa.select(*STORED_RUN).where(*window).with_for_update()).one()
            earlier = ReplacedRun.from_row(row._mapping)
            values["retrained"] = int(record.retrained or earlier.retrained)
            values["promoted"] = int(record.promoted or earlier.promoted)
            values["runs"] = earlier.runs + 1
            # A pending request of the window stays findable by its promote run.
            values["request_id"] = record.request_id or earlier.request_id
            values["details"] = json.dumps(with_replaced(details, [earlier]), default=str)
            del values["model_name"], values["as_of"]
            conn.execute(sa.update(RUNS).where(RUNS.c.id == earlier.id).values(**values))
            return Recorded(earlier.id, earlier)

    def recent(
        self, model_name: str, as_of: datetime, limit: int, min_spacing: timedelta = timedelta(0)
    ) -> list[PastRun]:
        """The records of the last `limit` windows before a run at as_of, newest first (not the
        record of as_of itself: an earlier run of the same window is no evidence for a rerun,
        which replaces it); with min_spacing, each window at least that long before the one
        after it (the run at as_of included), so that with overlapping windows the runs
        returned look at different rows."""
        newest_first = (
            sa.select(*_PAST_RUN)
            .where(RUNS.c.model_name == model_name)
            .order_by(RUNS.c.as_of.desc(), RUNS.c.id.desc())
        )
        with self._reading(f"reading the recent runs of {model_name}") as connection:
            if not min_spacing:
                rows = connection.execute(
                    newest_first.where(RUNS.c.as_of < as_of.isoformat()).limit(limit)
                )
                return [past_run(row._mapping) for row in rows]
            runs: list[PastRun] = []
            bound = as_of
            while len(runs) < limit:  # one indexed lookup a run
                row = connection.execute(
                    newest_first.where(RUNS.c.as_of <= (bound - min_spacing).isoformat()).limit(1)
                ).first()
                if row is None:
                    break
                runs.append(past_run(row._mapping))
                bound = runs[-1].as_of
            return runs

    def champion_runs(self, model_name: str, champion: str, as_of: datetime) -> list[PastRun]:
        """Every record of `champion` before as_of (not the record of as_of itself), oldest
        first: what the policy's drop reference and back-off read of the champion's life."""
        with self._reading(f"reading the runs of {model_name}'s {champion}") as connection:
            rows = connection.execute(
                sa.select(*_PAST_RUN)
                .where(
                    RUNS.c.model_name == model_name,
                    RUNS.c.champion == champion,
                    RUNS.c.as_of < as_of.isoformat(),
                )
                .order_by(RUNS.c.as_of, RUNS.c.id)
            )
            return [past_run(row._mapping) for row in rows]

    def last_retrain(self, model_name: str, as_of: datetime) -> datetime | None:
        """as_of of the last window at or before as_of that retrained or promoted (as_of itself
        included: a rerun of a window that retrained is in its cooldown)."""
        with self._reading(f"reading the last retrain of {model_name}") as connection:
            latest = connection.execute(
                sa.select(sa.func.max(RUNS.c.as_of)).where(
                    RUNS.c.model_name == model_name,
                    sa.or_(RUNS.c.retrained == 1, RUNS.c.promoted == 1),
                    RUNS.c.as_of <= as_of.isoformat(),
                )
            ).scalar()
        return datetime.fromisoformat(latest) if latest else None

    def record_outcome(self, model_name: str, request_id: str, status: str) -> int:
        """What became of the retrain a monitor run requested in events mode (the promote
        run's status: promoted, rejected, dropped), on the record of the window that requested
        it; return how many records it updated (0: no run of that request is recorded).

        The status replaces "retrain-requested" only: a rerun of the window that replaced the
        record in the meantime keeps its own status, and gets the promotion flag."""
        values: dict[str, Any] = {
            "status": sa.case((RUNS.c.status == "retrain-requested", status), else_=RUNS.c.status)
        }
        if status == "promoted":
            values["promoted"] = 1
        with self._writing(f"recording the outcome of request {request_id}") as connection:
            result = connection.execute(
                sa.update(RUNS)
                .where(RUNS.c.model_name == model_name, RUNS.c.request_id == request_id)
                .values(**values)
            )
            return int(result.rowcount)

    def models(self) -> list[str]:
        """The models with at least one recorded run, by name."""
        with self._reading("listing the models") as connection:
            names = connection.execute(
                sa.select(RUNS.c.model_name).distinct().order_by(RUNS.c.model_name)
            ).scalars()
            return [str(name) for name in names]

    def count(self, model_name: str) -> int:
        with self._reading(f"counting the runs of {model_name}") as connection:
            counted = connection.execute(
                sa.select(sa.func.count()).where(RUNS.c.model_name == model_name)
            ).scalar()
        return int(counted or 0)

    def rows(self, model_name: str) -> list[dict[str, Any]]:
        """Every run of model_name, oldest first, as plain mappings (for reports and tests)."""
        with self._reading(f"reading the runs of {model_name}") as connection:
            rows = connection.execute(
                sa.select(RUNS)
                .where(RUNS.c.model_name == model_name)
                .order_by(RUNS.c.as_of, RUNS.c.id)
            )
            return [dict(row._mapping) for row in rows]


def history_location(registry_path: Path, settings: HistoryConfig | None = None) -> str:
    """Where the history of a config lives, as messages show it."""
    if settings is not None and settings.url is not None:
        return _describe_url(settings.url)
    return str(Path(registry_path) / HISTORY_FILE)


def open_history(registry_path: Path, settings: HistoryConfig | None = None) -> MonitoringHistory:
    """The monitoring history of the config's history section: the database of history.url,
    or by default the SQLite file history.sqlite next to the registry."""
    if settings is not None and settings.url is not None:
        return MonitorHistory(settings.url)
    return MonitorHistory(Path(registry_path) / HISTORY_FILE)
