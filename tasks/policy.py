"""The retraining trigger: a pure function of the signals and the policy config."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from tasks.config import PolicyConfig
from tasks.signals import Signals

Action = Literal["retrain", "none", "insufficient-data"]


@dataclass(frozen=True)
class TriggerDecision:
    """Whether to retrain, why, and the numbers and thresholds behind it."""

    action: Action
    reasons: tuple[str, ...]
    drift_share: float | None
    drift_threshold: float
    performance: float | None
    performance_threshold: float
    labelled_rows: int
    current_rows: int

    @property
    def retrain(self) -> bool:
        return self.action == "retrain"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide_retrain(signals: Signals, policy: PolicyConfig) -> TriggerDecision:
    """Retrain on a performance breach, or on dataset drift when retrain_on_drift is set."""
    reasons: list[str] = []
    breaches: list[str] = []
    performance = signals.performance
    labelled = performance.labelled_rows if performance else 0
    enough_rows = signals.current_rows >= policy.min_current_rows

    if not enough_rows:
        reasons.append(
            f"drift not judged: {signals.current_rows} rows in the window, "
            f"fewer than min_current_rows {policy.min_current_rows}"
        )
    elif signals.drift_share >= policy.drift_threshold:
        drifted = ", ".join(signals.drifted_columns)
        message = (
            f"data drift: {signals.drift_share:.3f} of columns drifted "
            f">= drift_threshold {policy.drift_threshold:.3f} ({drifted})"
        )
        if policy.retrain_on_drift:
            breaches.append(message)
        else:
            reasons.append(message + "; retrain_on_drift is off, so it alone does not retrain")
    else:
        reasons.append(
            f"no data drift: {signals.drift_share:.3f} of columns drifted "
            f"< drift_threshold {policy.drift_threshold:.3f}"
        )

    if performance is None or labelled < policy.min_labelled_rows:
        reasons.append(
            f"performance not judged: {labelled} labelled rows, "
            f"fewer than min_labelled_rows {policy.min_labelled_rows}"
        )
    elif performance.value < policy.performance_threshold:
        breaches.append(
            f"performance: {performance.metric} {performance.value:.3f} < performance_threshold "
            f"{policy.performance_threshold:.3f} on {labelled} labelled rows"
        )
    else:
        reasons.append(
            f"performance ok: {performance.metric} {performance.value:.3f} >= performance_threshold "
            f"{policy.performance_threshold:.3f} on {labelled} labelled rows"
        )

    if breaches:
        action: Action = "retrain"
    elif not enough_rows and (performance is None or labelled < policy.min_labelled_rows):
        action = "insufficient-data"
    else:
        action = "none"
    return TriggerDecision(
        action=action,
        reasons=tuple(breaches + reasons),
        drift_share=signals.drift_share if enough_rows else None,
        drift_threshold=policy.drift_threshold,
        performance=performance.value if performance else None,
        performance_threshold=policy.performance_threshold,
        labelled_rows=labelled,
        current_rows=signals.current_rows,
    )
