"""The policy's records: an earlier monitor run, one run's breaches, and the trigger decision."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from tasks.core.quality import QualityReport
from tasks.core.reasons import Reason

Action = Literal["retrain", "none", "insufficient-data", "unconfirmed", "cooldown", "data-issue"]
SignalName = Literal["drift", "prediction_drift", "performance", "estimated_performance"]
SIGNAL_NAMES: tuple[SignalName, ...] = (
    "drift",
    "prediction_drift",
    "performance",
    "estimated_performance",
)


@dataclass(frozen=True)
class PastRun:
    """What the policy needs to know about an earlier monitor run (from the history store)."""

    as_of: datetime
    champion: str | None
    drift_breach: bool | None  # None: not judged
    prediction_drift_breach: bool | None
    performance_breach: bool | None
    retrained: bool
    promoted: bool
    estimated_performance_breach: bool | None = None  # None also for runs before the estimate
    current_rows: int | None = None  # the window's rows (the data-quality row count check)
    # The realised metric and its labelled rows (the drop reference), and a severe breach
    # (the back-off's kinds of breach).
    performance: float | None = None
    labelled_rows: int = 0
    severe: bool = False
    # What became of the run's retrain (the history's status: "rejected", "promoted", or
    # "retrain-requested" while an events-mode promotion has not recorded its verdict); None
    # when not known (the back-off then counts an unpromoted retrain as rejected).
    status: str | None = None


@dataclass(frozen=True)
class Breaches:
    """Which signals of one run breached their thresholds; None where a signal was not judged."""

    drift: bool | None
    prediction_drift: bool | None
    performance: bool | None
    severe: bool
    estimated_performance: bool | None = None

    def get(self, name: SignalName) -> bool | None:
        value: bool | None = getattr(self, name)
        return value


@dataclass(frozen=True)
class TriggerDecision:
    """Whether to retrain, why, and the numbers and thresholds behind it."""

    action: Action
    reasons: tuple[str, ...]  # the sentences; reason_codes holds their codes and numbers
    breaches: Breaches
    drift_share: float | None
    drift_threshold: float
    prediction_drift_score: float | None
    performance: float | None
    performance_threshold: float
    severe_performance_threshold: float | None
    labelled_rows: int
    labelled_period: tuple[str, str] | None
    current_rows: int
    confirmed: tuple[str, ...]
    last_retrain_as_of: datetime | None
    # False for error metrics (mae, rmse, mape, pinball): a breach is a value above the threshold.
    higher_is_better: bool = True
    # The label-free estimate of the metric on the whole window (None: no estimate), the
    # champion's realised metric on its holdout (None: not on record) and, with when-harmful,
    # whether the drift was judged harmful, by which margin (in the metric's units) and where
    # that margin comes from (harm_drop of the holdout score, or harm_margin).
    estimated_performance: float | None = None
    holdout_score: float | None = None
    harm_margin: float | None = None
    drift_harmful: bool | None = None
    harm_rule: str | None = None
    # The worst metric within performance_drop of the champion's holdout score (None: off or
    # no holdout score on record): below it (above, for errors) is a performance breach too.
    performance_drop_limit: float | None = None
    # The metric the thresholds are in, as policy.performance_metric describes it ("" in
    # decisions built before it was recorded).
    metric: str = ""
    # Each reason's stable code and the numbers it quotes, in the order of reasons (empty in
    # decisions recorded before reasons had codes).
    reason_codes: tuple[Reason, ...] = ()
    # The window's data-quality checks (None: data_quality.enabled is off).
    data_quality: QualityReport | None = None
    # What performance_drop was measured from (policy.drop_reference; None: off or no holdout
    # score), in numbers and words; whether this is the follow-up retrain after a change; the
    # rejected challengers in a row the back-off counted, and whether this run says the bar
    # looks unreachable (once a streak).
    drop_reference: float | None = None
    drop_reference_rule: str | None = None
    follow_up: bool = False
    rejected_in_a_row: int = 0
    threshold_unreachable: bool = False

    @property
    def direction(self) -> str:
        """Which way the performance metric is better, in words."""
        return "higher is better" if self.higher_is_better else "lower is better"

    @property
    def worse(self) -> str:
        """The comparison that says a value is worse than a limit: < or (error metrics) >."""
        return "<" if self.higher_is_better else ">"

    @property
    def breached_by_drop(self) -> bool:
        """Whether the performance breach is the drop from the champion's holdout score alone
        (performance_threshold not crossed)."""
        if self.performance is None or self.performance_drop_limit is None:
            return False
        threshold, limit = self.performance_threshold, self.performance_drop_limit
        if self.higher_is_better:
            return self.performance >= threshold and self.performance < limit
        return self.performance <= threshold and self.performance > limit

    @property
    def retrain(self) -> bool:
        return self.action == "retrain"

    @property
    def trigger(self) -> str:
        """One line for a retrain's lineage and event: the confirmed breaches, with numbers."""
        parts: list[str] = []
        for name in self.confirmed:
            if name == "performance" and self.performance is not None:
                severe = self.breaches.severe and self.severe_performance_threshold is not None
                limit = (
                    self.severe_performance_threshold
                    if severe and self.severe_performance_threshold is not None
                    else self.performance_threshold
                )
                kind = "severe performance breach" if severe else "performance breach"
                if self.breached_by_drop:
                    limit = self.performance_drop_limit or limit
                    kind = "performance breach (performance_drop from the holdout score)"
                parts.append(
                    f"{kind}: {self.performance:.3f} {self.worse} {limit:.3f} ({self.direction})"
                )
            elif name == "estimated_performance" and self.estimated_performance is not None:
                parts.append(
                    f"estimated performance breach: {self.estimated_performance:.3f} {self.worse} "
                    f"{self.performance_threshold:.3f} ({self.direction}, no labels needed)"
                )
            elif name == "drift" and self.drift_share is not None:
                parts.append(
                    f"data drift: share {self.drift_share:.2f} >= {self.drift_threshold:.2f}"
                )
            elif name == "prediction_drift" and self.prediction_drift_score is not None:
                parts.append(f"prediction drift: score {self.prediction_drift_score:.3g}")
        if not parts and self.follow_up:
            return "follow-up retrain after a change (no breach)"
        return "; ".join(parts) or self.action

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["last_retrain_as_of"] = (
            self.last_retrain_as_of.isoformat() if self.last_retrain_as_of else None
        )
        return data
