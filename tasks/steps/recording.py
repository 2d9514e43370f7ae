"""Recording a monitor run: its record in the monitoring history, then its point on the model's
dashboard in Evidently's UI, one step of the run (they record the same outcome)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tasks.config import Config
from tasks.core.outcomes import DashboardUpdate
from tasks.core.policy import TriggerDecision
from tasks.core.signals import Signals
from tasks.core.watch import WatchDecision
from tasks.steps.dashboards import record_dashboard
from tasks.steps.monitoring import record_run
from tasks.stores.history import Recorded
from tasks.stores.resources import Stores


@dataclass(frozen=True)
class RunRecorded:
    """Where a monitor run was recorded."""

    history: Recorded
    dashboard: DashboardUpdate


def record_monitor_run(
    config: Config,
    stores: Stores,
    as_of: datetime,
    champion: str,
    signals: Signals,
    decision: TriggerDecision,
    status: str,
    *,
    bootstrapped: bool = False,
    request_id: str | None = None,
    watch: WatchDecision | None = None,
) -> RunRecorded:
    """Record the run in the monitoring history (record_run), then add it to the model's
    dashboard (record_dashboard: never raises, a dashboard problem is in its update)."""
    history = record_run(
        config,
        stores,
        as_of,
        champion,
        decision,
        status,
        bootstrapped=bootstrapped,
        request_id=request_id,
        watch=watch,
    )
    dashboard = record_dashboard(config, as_of, champion, signals, decision, status)
    return RunRecorded(history, dashboard)
