"""The promotion gate: a pure decision over both models' scores on the same holdout."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

Verdict = Literal["promote", "reject"]
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Contender:
    version: str
    score: float | None  # None: the model could not be scored
    training_window: dict[str, str]
    trained_on_holdout: bool


@dataclass(frozen=True)
class GateRules:
    metric: str
    performance_threshold: float
    min_improvement: float
    min_holdout_rows: int


@dataclass(frozen=True)
class Comparison:
    """The champion-challenger comparison: every number behind the verdict, and the verdict."""

    comparison_id: str
    model_name: str
    holdout_window: dict[str, str]
    holdout_rows: int
    rules: GateRules
    champion: Contender | None
    challenger: Contender
    difference: float | None
    verdict: Verdict
    reasons: tuple[str, ...]

    @property
    def bootstrap(self) -> bool:
        return self.champion is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        champion = data["champion"]
        return cls(
            comparison_id=data["comparison_id"],
            model_name=data["model_name"],
            holdout_window=data["holdout_window"],
            holdout_rows=data["holdout_rows"],
            rules=GateRules(**data["rules"]),
            champion=Contender(**champion) if champion else None,
            challenger=Contender(**data["challenger"]),
            difference=data["difference"],
            verdict=data["verdict"],
            reasons=tuple(data["reasons"]),
        )


def _finite(contender: Contender) -> Contender:
    """A NaN or infinite score counts as no score: fail closed."""
    if contender.score is None or math.isfinite(contender.score):
        return contender
    return replace(contender, score=None)


def compare_models(
    *,
    comparison_id: str,
    model_name: str,
    holdout_window: dict[str, str],
    holdout_rows: int,
    rules: GateRules,
    champion: Contender | None,
    challenger: Contender,
    scoring_problems: tuple[str, ...] = (),
) -> Comparison:
    """Promote only a challenger that passes the floor and beats the champion by min_improvement.

    Fails closed: too few holdout rows, a challenger trained on the holdout, or a score that
    could not be computed all reject.
    """
    challenger = _finite(challenger)
    champion = _finite(champion) if champion else None
    failures: list[str] = []
    passes: list[str] = []
    if holdout_rows < rules.min_holdout_rows:
        failures.append(
            f"insufficient evidence: {holdout_rows} holdout rows < min_holdout_rows {rules.min_holdout_rows}"
        )
    if challenger.trained_on_holdout:
        failures.append(
            "challenger's training window overlaps the holdout: its score would be inflated"
        )
    if challenger.score is None:
        failures.append("challenger could not be scored on the holdout")
    elif challenger.score < rules.performance_threshold:
        failures.append(
            f"challenger {rules.metric} {challenger.score:.3f} < performance_threshold "
            f"{rules.performance_threshold:.3f}"
        )
    else:
        passes.append(
            f"challenger {rules.metric} {challenger.score:.3f} >= performance_threshold "
            f"{rules.performance_threshold:.3f}"
        )

    difference: float | None = None
    if champion is None:
        passes.append("no champion yet: the first model needs only the floor (bootstrap)")
    elif champion.score is None:
        failures.append("champion could not be scored on the holdout: nothing to compare against")
    elif challenger.score is not None:
        difference = challenger.score - champion.score
        line = f"challenger - champion = {challenger.score:.3f} - {champion.score:.3f} = {difference:+.3f}"
        # Scores are ratios such as 29/50: allow float rounding, or a challenger exactly
        # min_improvement better would be rejected (29/50 - 28/50 < 0.02 in floats).
        if difference > 0 and difference >= rules.min_improvement - _TOLERANCE:
            passes.append(f"{line} >= min_improvement {rules.min_improvement:.3f}")
        else:
            failures.append(f"{line}, not an improvement of at least {rules.min_improvement:.3f}")
        if champion.trained_on_holdout:
            passes.append(
                "note: the champion trained on part of the holdout, which favours the champion"
            )

    verdict: Verdict = "reject" if failures else "promote"
    return Comparison(
        comparison_id=comparison_id,
        model_name=model_name,
        holdout_window=holdout_window,
        holdout_rows=holdout_rows,
        rules=rules,
        champion=champion,
        challenger=challenger,
        difference=difference,
        verdict=verdict,
        reasons=(*failures, *scoring_problems, *passes),
    )
