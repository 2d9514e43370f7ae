"""The gate's records: its input per model, and the comparison it returns with every number.

A comparison is kept as `to_dict()` (JSON) and read back with `Comparison.from_dict`, which also
reads records written before the newer fields existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tasks.core.gate._rules import GateRules
from tasks.core.reasons import Reason, read_reasons
from tasks.core.statistics import BootstrapInterval, McNemarResult, PermutationResult

Verdict = Literal["promote", "reject", "insufficient-evidence"]


@dataclass(frozen=True)
class ModelOutputs:
    """One model's per-row outputs on the holdout rows (input to the gate, not stored)."""

    version: str
    training_window: dict[str, str]
    trained_on_holdout: bool
    predictions: Sequence[Any] | None  # None: the model could not be loaded or could not predict
    true_class_probability: Sequence[float] | None = None  # None: no predict_proba
    latency_ms_per_1k_rows: float | None = None
    latency_rounds: int = 1  # rounds of timed runs its latency is the fastest of (>1: timed again)
    model_size_bytes: int | None = None
    training_rows: int | None = None  # the rows it was trained on (its registry record)
    problem: str | None = None  # why predictions is None
    provenance: dict[str, str] = field(default_factory=dict)  # where it was made (its lineage)
    rolled_back: bool = False  # rolled back after a promotion: never promoted again


@dataclass(frozen=True)
class Contender:
    """One model's numbers on the holdout, as recorded in the comparison."""

    version: str
    score: float | None  # None: the model could not be scored
    training_window: dict[str, str]
    trained_on_holdout: bool
    recall: float | None = None
    log_loss: float | None = None
    latency_ms_per_1k_rows: float | None = None
    # Rounds of timed runs the latency is the fastest of: more than 1 when the first round found
    # one model over the latency guard's limit and both were timed again.
    latency_rounds: int = 1
    model_size_bytes: int | None = None
    # The rows it was trained on (None in records written before they were kept here): the size
    # guard allows a challenger trained on more rows to be larger in proportion.
    training_rows: int | None = None
    per_class_f1: dict[str, float] = field(default_factory=dict)
    # Regressors: mae, rmse, bias (mean of prediction - target) and the tail of |error|.
    errors: dict[str, float] = field(default_factory=dict)
    # Where the model was made, from its lineage: image, image_digest, git_sha, lock_sha256 (the
    # known ones; empty for versions registered before they were recorded).
    provenance: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GuardCheck:
    """One non-inferiority check: the challenger's value against the worst it may be."""

    name: str
    champion: float | None
    challenger: float | None
    limit: float | None  # the challenger passes at or better than this
    rule: str
    passed: bool


@dataclass(frozen=True)
class SliceCheck:
    """The primary metric of both models on the rows of one value of one column."""

    column: str
    value: str
    rows: int
    judged: bool  # False: fewer than min_rows, or not scorable (see note)
    champion: float | None = None
    challenger: float | None = None
    difference: float | None = None
    p_value: float | None = None  # one-sided: challenger worse by more than the margin
    adjusted_p_value: float | None = None  # Holm over the judged slices
    regressed: bool = False
    note: str = ""


@dataclass(frozen=True)
class Approval:
    """A person's answer to the approval request (or its timeout)."""

    approved: bool
    reviewer: str
    note: str
    decided_at: str


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
    reasons: tuple[str, ...]  # the sentences; reason_codes holds their codes and numbers
    interval: BootstrapInterval | None = None
    mcnemar: McNemarResult | None = None
    permutation: PermutationResult | None = None
    guards: tuple[GuardCheck, ...] = ()
    slices: tuple[SliceCheck, ...] = ()
    multiplicity: str = ""
    approval: Approval | None = None
    # (label, champion prediction, challenger prediction, rows): recomputes every paired number
    row_types: tuple[tuple[Any, Any, Any, int], ...] = ()
    # Each reason's stable code and the numbers it quotes, in the order of reasons (empty in
    # comparisons saved before reasons had codes).
    reason_codes: tuple[Reason, ...] = ()

    @property
    def bootstrap(self) -> bool:
        return self.champion is None

    @property
    def champion_score(self) -> float | None:
        """The champion's score on the holdout (None: no champion, or it could not be scored)."""
        return self.champion.score if self.champion else None

    @property
    def needs_approval(self) -> bool:
        """The gate allows the promotion and the rules ask a person before it happens."""
        rules = self.rules
        asked = rules.approval_required and (rules.approval_bootstrap or not self.bootstrap)
        return self.verdict == "promote" and asked

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        champion = data["champion"]

        def optional(kind: Any, key: str) -> Any:
            return kind(**data[key]) if data.get(key) else None

        return cls(
            comparison_id=data["comparison_id"],
            model_name=data["model_name"],
            holdout_window=data["holdout_window"],
            holdout_rows=data["holdout_rows"],
            rules=GateRules.from_dict(data["rules"]),
            champion=Contender(**champion) if champion else None,
            challenger=Contender(**data["challenger"]),
            difference=data["difference"],
            verdict=data["verdict"],
            reasons=tuple(data["reasons"]),
            interval=optional(BootstrapInterval, "interval"),
            mcnemar=optional(McNemarResult, "mcnemar"),
            permutation=optional(PermutationResult, "permutation"),
            guards=tuple(GuardCheck(**g) for g in data.get("guards", ())),
            slices=tuple(SliceCheck(**s) for s in data.get("slices", ())),
            multiplicity=data.get("multiplicity", ""),
            approval=optional(Approval, "approval"),
            row_types=tuple(tuple(row) for row in data.get("row_types", ())),
            reason_codes=read_reasons(data),
        )
