"""What the history stores and hands back: a run's record, the run a rerun replaced, the
policy's view of past runs, and the interface every history implements."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from tasks.core.policy import PastRun, TriggerDecision

# How many earlier runs of one window its record lists in details["replaced"] (newest kept):
# a schedule stuck on a fixed as_of reruns the same window every day.
KEPT_REPLACED_RUNS = 10


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
    def from_row(cls, row: Mapping[Any, Any]) -> ReplacedRun:
        try:
            details = json.loads(row["details"])
        except (TypeError, ValueError):
            details = {}
        return cls(
            id=int(row["id"]),
            recorded_at=str(row["recorded_at"]),
            champion=row["champion"],
            decision=str(row["decision"]),
            status=str(row["status"]),
            retrained=bool(row["retrained"]),
            promoted=bool(row["promoted"]),
            runs=int(row["runs"] or 1),
            details=details if isinstance(details, dict) else {},
            request_id=row["request_id"],
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


def with_replaced(details: dict[str, Any], earlier: list[ReplacedRun]) -> dict[str, Any]:
    """details with the earlier runs of the window (each after those it had replaced) in
    "replaced", oldest first: the newest KEPT_REPLACED_RUNS of them."""
    replaced: list[Any] = []
    for run in earlier:
        before = run.details.get("replaced", [])
        replaced += [*(before if isinstance(before, list) else []), run.summary()]
    return {**details, "replaced": replaced[-KEPT_REPLACED_RUNS:]}


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


def past_run(row: Mapping[Any, Any]) -> PastRun:
    """The policy's view of a stored record."""
    return PastRun(
        as_of=datetime.fromisoformat(row["as_of"]),
        champion=row["champion"],
        drift_breach=unflag(row["drift_breach"]),
        prediction_drift_breach=unflag(row["prediction_drift_breach"]),
        performance_breach=unflag(row["performance_breach"]),
        retrained=bool(row["retrained"]),
        promoted=bool(row["promoted"]),
        estimated_performance_breach=unflag(row["estimated_performance_breach"]),
        current_rows=row.get("current_rows"),
        performance=row.get("performance"),
        labelled_rows=int(row.get("labelled_rows") or 0),
        severe=bool(row.get("severe")),
        status=row.get("status"),
    )


def flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def unflag(value: int | None) -> bool | None:
    return None if value is None else bool(value)


class MonitoringHistory(Protocol):
    """What the monitor, the promote flow, the policy and the history CLI need of a monitoring
    history, with one record per (model_name, as_of)."""

    def record(self, model_name: str, record: RunRecord) -> Recorded: ...

    def record_outcome(self, model_name: str, request_id: str, status: str) -> int: ...

    def models(self) -> list[str]: ...

    def recent(
        self, model_name: str, as_of: datetime, limit: int, min_spacing: timedelta = ...
    ) -> list[PastRun]: ...

    def champion_runs(self, model_name: str, champion: str, as_of: datetime) -> list[PastRun]: ...

    def last_retrain(self, model_name: str, as_of: datetime) -> datetime | None: ...

    def count(self, model_name: str) -> int: ...

    def rows(self, model_name: str) -> list[dict[str, Any]]: ...
