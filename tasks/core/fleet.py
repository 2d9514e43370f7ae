"""What a fleet run ends in: one row per model, and the fleet's exit code. Pure values."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tasks.core.outcomes import MonitorResult
from tasks.core.quality_view import quality_cell


@dataclass(frozen=True)
class FleetRow:
    """One model's line of the fleet summary: what it found, decided and did, or its error."""

    model: str
    config_path: str
    window: str | None = None
    drift_share: float | None = None
    drift_threshold: float | None = None
    metric: str | None = None
    metric_value: float | None = None
    metric_threshold: float | None = None
    decision: str | None = None
    action: str | None = None
    champion_before: str | None = None
    champion_after: str | None = None
    duration_seconds: float | None = None
    error: str | None = None
    # ok, "failed: <columns>", or None: the run checked no data quality (an error row, an
    # older monitor run).
    data_quality: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def row_from_result(result: MonitorResult, config_path: str, duration_seconds: float) -> FleetRow:
    """The summary row of a monitor run that completed (whatever it decided)."""
    decision, performance = result.decision, result.signals.performance
    return FleetRow(
        model=result.model_name,
        config_path=config_path,
        window=str(result.window),
        drift_share=result.signals.drift_share,
        drift_threshold=decision.drift_threshold,
        metric=performance.metric if performance else None,
        metric_value=performance.value if performance else None,
        metric_threshold=decision.performance_threshold,
        decision=decision.action,
        action=result.status,
        champion_before=result.champion_before,
        champion_after=result.champion_after,
        duration_seconds=round(duration_seconds, 2),
        data_quality=quality_cell(result.signals.quality),
    )


def error_row(
    model: str, config_path: str, error: str, duration_seconds: float | None = None
) -> FleetRow:
    """The summary row of a model that could not be monitored: its config, data, registry..."""
    return FleetRow(
        model=model,
        config_path=config_path,
        action="error",
        duration_seconds=None if duration_seconds is None else round(duration_seconds, 2),
        error=error.strip() or "failed without a message",
    )


@dataclass(frozen=True)
class FleetSummary:
    """A fleet run: its rows (in the fleet file's order) and where its CSV went."""

    fleet_name: str
    runner: str
    rows: tuple[FleetRow, ...]
    duration_seconds: float
    fan_out_seconds: float | None = None  # first model's start to last one's end
    csv_path: str | None = None

    @property
    def errors(self) -> tuple[FleetRow, ...]:
        return tuple(row for row in self.rows if row.failed)

    @property
    def exit_code(self) -> int:
        """0 when every model ran (whatever it decided), 2 when some model has a problem to fix."""
        return 2 if self.errors else 0
