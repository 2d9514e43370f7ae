"""The promotion gate: a pure decision over both models' predictions on the same holdout rows.

No Prefect and no I/O here: the promote task collects the per-row predictions, this module
measures (tasks/statistics.py) and decides, and the result is a Comparison that records every
number behind the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from tasks.config import Config, MetricConfig
from tasks.core.metrics import score_predictions
from tasks.core.regression import (
    PairedErrors,
    error_regression_p_value,
    error_summary,
    pair_errors,
    paired_error_bootstrap,
    regression_scores,
    sign_flip_test,
    tail_name,
)
from tasks.core.statistics import (
    BootstrapInterval,
    McNemarResult,
    PairedRows,
    PermutationResult,
    holm_adjust,
    log_loss_of_true_class,
    mcnemar_test,
    metric_scores,
    pair_rows,
    paired_bootstrap,
    per_class_scores,
    permutation_test,
    regression_p_value,
    row_type_table,
)
from tasks.errors import AutoretrainError

Verdict = Literal["promote", "reject", "insufficient-evidence"]
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ModelOutputs:
    """One model's per-row outputs on the holdout rows (input to the gate, not stored)."""

    version: str
    training_window: dict[str, str]
    trained_on_holdout: bool
    predictions: Sequence[Any] | None  # None: the model could not be loaded or could not predict
    true_class_probability: Sequence[float] | None = None  # None: no predict_proba
    latency_ms_per_1k_rows: float | None = None
    model_size_bytes: int | None = None
    problem: str | None = None  # why predictions is None
    provenance: dict[str, str] = field(default_factory=dict)  # where it was made (its lineage)


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
    model_size_bytes: int | None = None
    per_class_f1: dict[str, float] = field(default_factory=dict)
    # Regressors: mae, rmse, bias (mean of prediction - target) and the tail of |error|.
    errors: dict[str, float] = field(default_factory=dict)
    # Where the model was made, from its lineage: image, image_digest, git_sha, lock_sha256 (the
    # known ones; empty for versions registered before they were recorded).
    provenance: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GuardRules:
    """Non-inferiority margins; None turns a guard off."""

    recall: float | None = None
    per_class_f1: float | None = None
    min_class_rows: int = 30
    log_loss: float | None = None
    latency_ratio: float | None = None
    model_size_ratio: float | None = None
    second_error: float | None = None  # regressors: relative rise of rmse (mae for rmse)
    bias: float | None = None  # regressors: |bias| rise, as a fraction of the champion's mae
    tail_error: float | None = None  # regressors: relative rise of the tail of |error|
    tail_quantile: float = 0.9


@dataclass(frozen=True)
class SliceRules:
    columns: tuple[str, ...] = ()
    min_rows: int = 30
    margin: float = 0.05


@dataclass(frozen=True)
class GateRules:
    metric: str  # as people read it, e.g. "f1 (macro)"
    performance_threshold: float
    min_improvement: float
    min_holdout_rows: int
    metric_name: str = "f1"
    average: str = "macro"
    pos_label: str | int | bool | None = None
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0
    guards: GuardRules = GuardRules()
    slices: SliceRules = SliceRules()
    approval_required: bool = False
    approval_bootstrap: bool = False  # ask for the first champion too (no champion compared)
    approval_timeout_seconds: int = 86400
    higher_is_better: bool = True  # False for error metrics (mae, rmse, mape, pinball)
    min_relative_improvement: float | None = None
    floor: float | None = None  # mape
    quantile: float | None = None  # pinball

    @property
    def regression(self) -> bool:
        return self.metric_config().is_regression

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    @classmethod
    def from_config(cls, config: Config) -> GateRules:
        metric, promotion = config.policy.performance_metric, config.promotion
        guards = promotion.guards
        return cls(
            metric=metric.describe(),
            performance_threshold=config.policy.performance_threshold,
            min_improvement=promotion.min_improvement,
            min_holdout_rows=promotion.min_holdout_rows,
            metric_name=metric.name,
            average=metric.average,
            pos_label=metric.pos_label,
            confidence=promotion.confidence,
            resamples=promotion.resamples,
            seed=promotion.seed,
            guards=GuardRules(
                recall=guards.recall,
                per_class_f1=guards.per_class_f1,
                min_class_rows=guards.min_class_rows,
                log_loss=guards.log_loss,
                latency_ratio=guards.latency_ratio,
                model_size_ratio=guards.model_size_ratio,
                second_error=guards.second_error,
                bias=guards.bias,
                tail_error=guards.tail_error,
                tail_quantile=guards.tail_quantile,
            ),
            slices=SliceRules(
                columns=tuple(promotion.slices.columns),
                min_rows=promotion.slices.min_rows,
                margin=promotion.slices.margin,
            ),
            approval_required=promotion.approval.required,
            approval_bootstrap=promotion.approval.bootstrap,
            approval_timeout_seconds=int(promotion.approval.timeout.total_seconds()),
            higher_is_better=metric.higher_is_better,
            min_relative_improvement=promotion.min_relative_improvement,
            floor=metric.floor,
            quantile=metric.quantile,
        )

    def metric_config(self, name: str | None = None) -> MetricConfig:
        name = name or self.metric_name
        if name in ("mae", "rmse", "mape", "r2", "pinball"):
            return MetricConfig.model_validate(
                {
                    "name": name,
                    "floor": self.floor if name == "mape" else None,
                    "quantile": self.quantile if name == "pinball" else None,
                }
            )
        return MetricConfig.model_validate(
            {"name": name, "average": self.average, "pos_label": self.pos_label}
        )

    def required_improvement(self, champion_score: float | None) -> float:
        """The improvement the interval's lower bound must reach: min_improvement, and
        min_relative_improvement times the champion's value when that is set."""
        required = self.min_improvement
        if self.min_relative_improvement is not None and champion_score is not None:
            required = max(required, self.min_relative_improvement * abs(champion_score))
        return required

    def describe_required(self, champion_score: float | None) -> str:
        """The required improvement with where it comes from, in words."""
        text = f"min_improvement {self.min_improvement:.3f}"
        if self.min_relative_improvement is not None and champion_score is not None:
            text = (
                f"{self.required_improvement(champion_score):.4g} (the larger of {text} and "
                f"min_relative_improvement {self.min_relative_improvement:g} x champion "
                f"{champion_score:.4g} = {self.min_relative_improvement * abs(champion_score):.4g})"
            )
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateRules:
        values = dict(data)
        # Saved before approval.bootstrap existed: those asked for the first champion too.
        values.setdefault("approval_bootstrap", True)
        values["guards"] = GuardRules(**values.get("guards", {}))
        slices = values.get("slices", {})
        values["slices"] = SliceRules(**{**slices, "columns": tuple(slices.get("columns", ()))})
        return cls(**values)


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
    reasons: tuple[str, ...]
    interval: BootstrapInterval | None = None
    mcnemar: McNemarResult | None = None
    permutation: PermutationResult | None = None
    guards: tuple[GuardCheck, ...] = ()
    slices: tuple[SliceCheck, ...] = ()
    multiplicity: str = ""
    approval: Approval | None = None
    # (label, champion prediction, challenger prediction, rows): recomputes every paired number
    row_types: tuple[tuple[Any, Any, Any, int], ...] = ()

    @property
    def bootstrap(self) -> bool:
        return self.champion is None

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
            row_types=tuple(tuple(row) for row in data.get("row_types", ())),  # type: ignore[misc]
        )


def _finite(value: float | None) -> float | None:
    """A NaN or infinite number counts as no number: fail closed."""
    return value if value is not None and math.isfinite(value) else None


def _score(
    metric: MetricConfig, y_true: Sequence[Any], outputs: ModelOutputs, failures: list[str]
) -> float | None:
    if outputs.predictions is None or len(y_true) == 0:
        return None
    try:
        return _finite(score_predictions(metric, list(y_true), list(outputs.predictions)))
    except AutoretrainError as error:
        failures.append(f"{outputs.version} could not be scored: {error}")
        return None


def _contender(
    outputs: ModelOutputs,
    score: float | None,
    recall: float | None = None,
    per_class_f1: dict[str, float] | None = None,
    errors: dict[str, float] | None = None,
) -> Contender:
    log_loss = None
    if outputs.true_class_probability is not None and len(outputs.true_class_probability):
        log_loss = _finite(log_loss_of_true_class(outputs.true_class_probability))
    return Contender(
        version=outputs.version,
        score=score,
        training_window=outputs.training_window,
        trained_on_holdout=outputs.trained_on_holdout,
        recall=recall,
        log_loss=log_loss,
        latency_ms_per_1k_rows=_finite(outputs.latency_ms_per_1k_rows),
        model_size_bytes=outputs.model_size_bytes,
        per_class_f1=per_class_f1 or {},
        errors=errors or {},
        provenance=dict(outputs.provenance),
    )


def _per_class_f1(paired: PairedRows, predictions: np.ndarray) -> dict[str, float]:
    scores = per_class_scores("f1", paired, predictions, paired.counts[None, :])[0]
    return {str(label): float(scores[code]) for code, label in enumerate(paired.labels)}


def improvement_shown(interval: BootstrapInterval, min_improvement: float) -> bool:
    """The gate's primary rule: the interval's lower bound clears min_improvement and 0."""
    return interval.lower > 0 and interval.lower >= min_improvement - _TOLERANCE


def _guard_no_lower(
    name: str, champion: float | None, challenger: float | None, margin: float
) -> GuardCheck:
    if champion is None or challenger is None:
        return GuardCheck(name, champion, challenger, None, f">= champion - {margin:g}", False)
    limit = champion - margin
    return GuardCheck(
        name,
        champion,
        challenger,
        limit,
        f">= champion - {margin:g}",
        challenger >= limit - _TOLERANCE,
    )


def _guard_no_higher(
    name: str, champion: float | None, challenger: float | None, limit: float | None, rule: str
) -> GuardCheck:
    if champion is None or challenger is None or limit is None:
        return GuardCheck(name, champion, challenger, None, rule, False)
    return GuardCheck(name, champion, challenger, limit, rule, challenger <= limit + _TOLERANCE)


def check_guards(
    rules: GateRules, champion: Contender, challenger: Contender, class_rows: dict[str, int]
) -> tuple[GuardCheck, ...]:
    """Non-inferiority of the challenger on each guard metric that is on (point estimates).

    Classifiers: recall, per-class F1, log loss. Regressors: a second error metric, the bias
    and the tail of |error|. Both: latency and size.
    """
    guards = rules.guards
    checks = (
        _regression_guards(rules, champion, challenger)
        if rules.regression
        else _classification_guards(rules, champion, challenger, class_rows)
    )
    if guards.latency_ratio is not None:
        base = champion.latency_ms_per_1k_rows
        checks.append(
            _guard_no_higher(
                "latency ms per 1k rows",
                base,
                challenger.latency_ms_per_1k_rows,
                None if base is None else base * guards.latency_ratio,
                f"<= {guards.latency_ratio:g} x champion",
            )
        )
    if guards.model_size_ratio is not None:
        size = champion.model_size_bytes
        checks.append(
            _guard_no_higher(
                "model size bytes",
                None if size is None else float(size),
                None if challenger.model_size_bytes is None else float(challenger.model_size_bytes),
                None if size is None else size * guards.model_size_ratio,
                f"<= {guards.model_size_ratio:g} x champion",
            )
        )
    return tuple(checks)


def _classification_guards(
    rules: GateRules, champion: Contender, challenger: Contender, class_rows: dict[str, int]
) -> list[GuardCheck]:
    guards = rules.guards
    checks: list[GuardCheck] = []
    recall_name = rules.metric_config("recall").describe()
    if guards.recall is not None:
        checks.append(
            _guard_no_lower(recall_name, champion.recall, challenger.recall, guards.recall)
        )
    if guards.per_class_f1 is not None:
        for label, rows in sorted(class_rows.items()):
            if rows >= guards.min_class_rows:
                checks.append(
                    _guard_no_lower(
                        f"f1 of class {label!r} ({rows} rows)",
                        champion.per_class_f1.get(label),
                        challenger.per_class_f1.get(label),
                        guards.per_class_f1,
                    )
                )
    if guards.log_loss is not None:
        limit = None if champion.log_loss is None else champion.log_loss + guards.log_loss
        checks.append(
            _guard_no_higher(
                "log loss",
                champion.log_loss,
                challenger.log_loss,
                limit,
                f"<= champion + {guards.log_loss:g}",
            )
        )
    return checks


def _regression_guards(
    rules: GateRules, champion: Contender, challenger: Contender
) -> list[GuardCheck]:
    """Errors are lower-is-better: each limit is the champion's value plus the allowed rise."""
    guards = rules.guards
    checks: list[GuardCheck] = []
    mine, theirs = challenger.errors, champion.errors
    if guards.second_error is not None:
        name = "mae" if rules.metric_name == "rmse" else "rmse"
        base = theirs.get(name)
        checks.append(
            _guard_no_higher(
                f"{name} (second error metric, lower is better)",
                base,
                mine.get(name),
                None if base is None else base * (1 + guards.second_error),
                f"<= champion x (1 + {guards.second_error:g})",
            )
        )
    if guards.bias is not None:
        bias, mae = theirs.get("bias"), theirs.get("mae")
        checks.append(
            _guard_no_higher(
                "|bias| (mean of prediction - target, lower is better)",
                None if bias is None else abs(bias),
                None if mine.get("bias") is None else abs(mine["bias"]),
                None if bias is None or mae is None else abs(bias) + guards.bias * mae,
                f"<= champion's + {guards.bias:g} x champion's mae",
            )
        )
    if guards.tail_error is not None:
        name = tail_name(guards.tail_quantile)
        base = theirs.get(name)
        checks.append(
            _guard_no_higher(
                f"{name} (lower is better)",
                base,
                mine.get(name),
                None if base is None else base * (1 + guards.tail_error),
                f"<= champion x (1 + {guards.tail_error:g})",
            )
        )
    return checks


def _guard_reason(check: GuardCheck) -> str:
    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4g}"

    if check.champion is None or check.challenger is None:
        missing = "champion" if check.champion is None else "challenger"
        return (
            f"guard {check.name}: the {missing}'s value is missing, so non-inferiority cannot "
            "be shown (fail closed); turn the guard off in promotion.guards if it cannot apply"
        )
    verb = "within" if check.passed else "breaks"
    return (
        f"guard {check.name}: challenger {number(check.challenger)} vs champion "
        f"{number(check.champion)}, {verb} {check.rule} (limit {number(check.limit)})"
    )


def check_slices(
    metric: MetricConfig,
    rules: GateRules,
    y_true: Sequence[Any],
    champion: Sequence[Any],
    challenger: Sequence[Any],
    slice_values: dict[str, Sequence[Any]],
) -> tuple[tuple[SliceCheck, ...], list[str]]:
    """The primary metric per slice; Holm over the judged slices' one-sided regression tests.

    Returns the checks and the fail-closed reasons (a slice column asked for but absent, or no
    slice large enough to judge).
    """
    slices = rules.slices
    problems: list[str] = []
    checks: list[SliceCheck] = []
    y = np.asarray(y_true, dtype=object)
    a = np.asarray(champion, dtype=object)
    b = np.asarray(challenger, dtype=object)
    p_values: list[float] = []
    judged_positions: list[int] = []
    for column in slices.columns:
        if column not in slice_values:
            problems.append(f"slice column '{column}' is missing from the holdout rows")
            continue
        values = np.asarray(
            ["(missing)" if v is None or v != v else str(v) for v in slice_values[column]],
            dtype=object,
        )
        for value in sorted(set(values)):
            mask = values == value
            rows = int(mask.sum())
            if rows < slices.min_rows:
                checks.append(SliceCheck(column, value, rows, judged=False, note="too few rows"))
                continue
            try:
                champion_score, challenger_score, difference, p_value = _judge_slice(
                    metric, rules, (y[mask], a[mask], b[mask]), seed=rules.seed + 1 + len(checks)
                )
            except AutoretrainError as error:
                checks.append(SliceCheck(column, value, rows, judged=False, note=str(error)))
                continue
            judged_positions.append(len(checks))
            p_values.append(p_value)
            checks.append(
                SliceCheck(
                    column,
                    value,
                    rows,
                    judged=True,
                    champion=champion_score,
                    challenger=challenger_score,
                    difference=difference,
                    p_value=p_value,
                )
            )
    alpha = 1 - rules.confidence
    for position, adjusted in zip(judged_positions, holm_adjust(p_values), strict=True):
        check = checks[position]
        checks[position] = SliceCheck(
            **{**asdict(check), "adjusted_p_value": adjusted, "regressed": adjusted < alpha}
        )
    if slices.columns and not judged_positions:
        problems.append(
            f"slices were asked for on {list(slices.columns)}, but no slice has at least "
            f"min_rows {slices.min_rows} rows: nothing shows the challenger is safe per slice "
            "(lower promotion.slices.min_rows or use a longer holdout)"
        )
    return tuple(checks), problems


def slice_margin(rules: GateRules, champion_score: float | None) -> float:
    """The slice margin in the metric's units: as configured for classifiers and r2, a fraction
    of the champion's slice error for error metrics (0.05: 5% higher error)."""
    if rules.higher_is_better or champion_score is None:
        return rules.slices.margin
    return rules.slices.margin * abs(champion_score)


def _judge_slice(
    metric: MetricConfig,
    rules: GateRules,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    seed: int,
) -> tuple[float, float, float, float]:
    """Champion's and challenger's metric on one slice, the improvement (positive: the
    challenger is better) and the one-sided p-value of a regression beyond the margin."""
    if metric.is_regression:
        errors = pair_errors(metric, *rows)
        champion_score, challenger_score = regression_scores(metric, errors)
        improvement = (
            challenger_score - champion_score
            if metric.higher_is_better
            else champion_score - challenger_score
        )
        p_value = error_regression_p_value(
            metric,
            errors,
            margin=slice_margin(rules, champion_score),
            resamples=rules.resamples,
            seed=seed,
        )
        return champion_score, challenger_score, improvement, p_value
    paired = pair_rows(list(rows[0]), list(rows[1]), list(rows[2]))
    champion_score, challenger_score = metric_scores(metric, paired)
    p_value = regression_p_value(
        metric, paired, margin=rules.slices.margin, resamples=rules.resamples, seed=seed
    )
    return champion_score, challenger_score, challenger_score - champion_score, p_value


@dataclass
class _Reasons:
    """The gate's reasons as they are found: failures block, passes and notes explain."""

    failures: list[str] = field(default_factory=list)
    passes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, passed: bool, reason: str) -> None:
        (self.passes if passed else self.failures).append(reason)


@dataclass(frozen=True)
class _HeadToHead:
    """What comparing a scored challenger with a scored champion row by row found."""

    interval: BootstrapInterval
    mcnemar: McNemarResult | None  # None for regressors
    permutation: PermutationResult
    guards: tuple[GuardCheck, ...]
    slices: tuple[SliceCheck, ...]
    multiplicity: str


def compare_models(
    *,
    comparison_id: str,
    model_name: str,
    holdout_window: dict[str, str],
    y_true: Sequence[Any],
    rules: GateRules,
    champion: ModelOutputs | None,
    challenger: ModelOutputs,
    slice_values: dict[str, Sequence[Any]] | None = None,
) -> Comparison:
    """Promote only a challenger that passes the floor, whose paired bootstrap interval of the
    improvement lies above min_improvement, and that breaks no guard and no slice.

    Fails closed: too few holdout rows ("insufficient-evidence"), a challenger trained on the
    holdout, a model that could not be loaded or scored, a guard metric that is missing, or
    slices asked for but none large enough all reject, with the reason.
    """
    metric = rules.metric_config()
    reasons = _Reasons()
    insufficient = _check_admission(rules, len(y_true), challenger, reasons)
    challenger_score = _score(metric, y_true, challenger, reasons.failures)
    champion_score = _score(metric, y_true, champion, reasons.failures) if champion else None
    _check_floor(rules, challenger_score, reasons)

    paired: PairedRows | None = None
    both_scored = (
        champion is not None
        and champion_score is not None
        and challenger_score is not None
        and champion.predictions is not None
        and challenger.predictions is not None
    )
    champion_record: Contender | None
    if metric.is_regression:
        challenger_record = _contender(
            challenger, challenger_score, errors=_errors(rules, y_true, challenger)
        )
        champion_record = (
            _contender(champion, champion_score, errors=_errors(rules, y_true, champion))
            if champion
            else None
        )
    elif (
        champion is not None
        and champion_score is not None
        and challenger_score is not None
        and champion.predictions is not None
        and challenger.predictions is not None
    ):
        paired = pair_rows(y_true, champion.predictions, challenger.predictions)
        champion_recall, challenger_recall = metric_scores(rules.metric_config("recall"), paired)
        challenger_record = _contender(
            challenger,
            challenger_score,
            challenger_recall,
            _per_class_f1(paired, paired.challenger),
        )
        champion_record = _contender(
            champion, champion_score, champion_recall, _per_class_f1(paired, paired.champion)
        )
    else:
        challenger_record = _contender(challenger, challenger_score)
        champion_record = _contender(champion, champion_score) if champion else None

    head_to_head: _HeadToHead | None = None
    if champion is None:
        reasons.passes.append("no champion yet: the first model needs only the floor (bootstrap)")
    elif champion_score is None:
        reasons.failures.append(
            "champion could not be scored on the holdout: nothing to compare against"
        )
    elif (
        metric.is_regression
        and both_scored
        and champion_record is not None
        and champion.predictions is not None
        and challenger.predictions is not None
        and challenger_score is not None
    ):
        head_to_head = _judge_regression(
            rules,
            y_true,
            (champion.predictions, challenger.predictions),
            (champion_score, challenger_score),
            (champion_record, challenger_record),
            slice_values,
            reasons,
        )
        if champion.trained_on_holdout:
            reasons.notes.append(
                "note: the champion trained on part of the holdout, which favours the champion"
            )
    elif (
        paired is not None
        and champion_record is not None
        and challenger_score is not None
        and champion.predictions is not None
        and challenger.predictions is not None
    ):
        head_to_head = _judge_head_to_head(
            rules,
            y_true,
            paired,
            (champion.predictions, challenger.predictions),
            (champion_score, challenger_score),
            (champion_record, challenger_record),
            slice_values,
            reasons,
        )
        if champion.trained_on_holdout:
            reasons.notes.append(
                "note: the champion trained on part of the holdout, which favours the champion"
            )

    problems = [o.problem for o in (challenger, champion) if o is not None and o.problem]
    verdict: Verdict = (
        "insufficient-evidence" if insufficient else "reject" if reasons.failures else "promote"
    )
    return Comparison(
        comparison_id=comparison_id,
        model_name=model_name,
        holdout_window=holdout_window,
        holdout_rows=len(y_true),
        rules=rules,
        champion=champion_record,
        challenger=challenger_record,
        difference=head_to_head.interval.difference if head_to_head else None,
        verdict=verdict,
        reasons=(*reasons.failures, *problems, *reasons.passes, *reasons.notes),
        interval=head_to_head.interval if head_to_head else None,
        mcnemar=head_to_head.mcnemar if head_to_head else None,
        permutation=head_to_head.permutation if head_to_head else None,
        guards=head_to_head.guards if head_to_head else (),
        slices=head_to_head.slices if head_to_head else (),
        multiplicity=head_to_head.multiplicity if head_to_head else "",
        row_types=row_type_table(paired) if paired is not None else (),
    )


def _check_admission(
    rules: GateRules, holdout_rows: int, challenger: ModelOutputs, reasons: _Reasons
) -> bool:
    """Record what disqualifies the comparison itself; True when the holdout is too small."""
    insufficient = holdout_rows < rules.min_holdout_rows
    if insufficient:
        reasons.failures.append(
            f"insufficient evidence: {holdout_rows} holdout rows < min_holdout_rows {rules.min_holdout_rows}"
        )
    if challenger.trained_on_holdout:
        reasons.failures.append(
            "challenger's training window overlaps the holdout: its score would be inflated"
        )
    return insufficient


def _check_floor(rules: GateRules, challenger_score: float | None, reasons: _Reasons) -> None:
    """The challenger must reach performance_threshold on its own, champion or not."""
    if challenger_score is None:
        reasons.failures.append("challenger could not be scored on the holdout")
        return
    metric = rules.metric_config()
    passed = not metric.worse(challenger_score, rules.performance_threshold)
    better, worse = (">=", "<") if rules.higher_is_better else ("<=", ">")
    reasons.add(
        passed,
        f"challenger {rules.metric} {challenger_score:.3f} {better if passed else worse} "
        f"performance_threshold {rules.performance_threshold:.3f} ({rules.direction})",
    )


def _judge_head_to_head(
    rules: GateRules,
    y_true: Sequence[Any],
    paired: PairedRows,
    predictions: tuple[Sequence[Any], Sequence[Any]],
    scores: tuple[float, float],
    records: tuple[Contender, Contender],
    slice_values: dict[str, Sequence[Any]] | None,
    reasons: _Reasons,
) -> _HeadToHead:
    """The improvement's paired interval and tests, the guards and the slices.

    predictions, scores and records are (champion's, challenger's).
    """
    metric = rules.metric_config()
    interval = paired_bootstrap(
        metric, paired, confidence=rules.confidence, resamples=rules.resamples, seed=rules.seed
    )
    _check_improvement(rules, interval, scores, reasons)
    class_rows = {
        str(label): int(paired.counts[paired.truth == code].sum())
        for code, label in enumerate(paired.labels)
    }
    guards = check_guards(rules, *records, class_rows)
    for check in guards:
        reasons.add(check.passed, _guard_reason(check))
    slices, slice_problems = check_slices(metric, rules, y_true, *predictions, slice_values or {})
    reasons.failures.extend(slice_problems)
    judged = _slice_reasons(rules, slices, reasons)
    multiplicity = (
        f"1 primary comparison (paired bootstrap, {rules.confidence:.0%}); {len(guards)} guard "
        "checks on point estimates with fixed non-inferiority margins (no error-rate control); "
        f"{judged} slice comparisons, Holm-controlled at family-wise alpha "
        f"{1 - rules.confidence:.2g} (a slice blocks only when its regression beyond the "
        f"margin is significant); {len(slices) - judged} slices not judged"
    )
    return _HeadToHead(
        interval=interval,
        mcnemar=mcnemar_test(paired),
        permutation=permutation_test(metric, paired, permutations=rules.resamples, seed=rules.seed),
        guards=guards,
        slices=slices,
        multiplicity=multiplicity,
    )


def _check_improvement(
    rules: GateRules,
    interval: BootstrapInterval,
    scores: tuple[float, float],
    reasons: _Reasons,
) -> None:
    """The primary rule: the interval's lower bound must reach the required improvement (> 0)."""
    if rules.higher_is_better:
        line = (
            f"challenger - champion = {scores[1]:.3f} - {scores[0]:.3f} = "
            f"{interval.difference:+.3f}"
        )
    else:
        line = (
            f"improvement = champion {rules.metric} - challenger's = {scores[0]:.4g} - "
            f"{scores[1]:.4g} = {interval.difference:+.4g} ({rules.direction})"
        )
    bounds = ".3f" if rules.higher_is_better else ".4g"
    line += (
        f", {rules.confidence:.0%} paired bootstrap interval "
        f"[{interval.lower:+{bounds}}, {interval.upper:+{bounds}}]"
    )
    required = rules.required_improvement(scores[0])
    if improvement_shown(interval, required):
        reasons.passes.append(f"{line}: lower bound >= {rules.describe_required(scores[0])}")
    else:
        reasons.failures.append(
            f"{line}: lower bound below {rules.describe_required(scores[0])} "
            "(or not above 0), so the improvement is not shown"
        )


def _errors(rules: GateRules, y_true: Sequence[Any], outputs: ModelOutputs) -> dict[str, float]:
    """A regressor's error summary on the holdout; empty when it has no usable predictions."""
    if outputs.predictions is None or len(y_true) == 0:
        return {}
    try:
        summary = error_summary(y_true, outputs.predictions, rules.guards.tail_quantile)
    except AutoretrainError:
        return {}
    return {key: value for key, value in summary.items() if math.isfinite(value)}


def _judge_regression(
    rules: GateRules,
    y_true: Sequence[Any],
    predictions: tuple[Sequence[Any], Sequence[Any]],
    scores: tuple[float, float],
    records: tuple[Contender, Contender],
    slice_values: dict[str, Sequence[Any]] | None,
    reasons: _Reasons,
) -> _HeadToHead:
    """The improvement's paired interval and sign-flip test on per-row losses, guards, slices.

    predictions, scores and records are (champion's, challenger's).
    """
    metric = rules.metric_config()
    errors: PairedErrors = pair_errors(metric, y_true, *predictions)
    interval = paired_error_bootstrap(
        metric, errors, confidence=rules.confidence, resamples=rules.resamples, seed=rules.seed
    )
    _check_improvement(rules, interval, scores, reasons)
    guards = check_guards(rules, *records, {})
    for check in guards:
        reasons.add(check.passed, _guard_reason(check))
    slices, slice_problems = check_slices(metric, rules, y_true, *predictions, slice_values or {})
    reasons.failures.extend(slice_problems)
    judged = _slice_reasons(rules, slices, reasons)
    multiplicity = (
        f"1 primary comparison (paired bootstrap of per-row losses, {rules.confidence:.0%}, "
        f"of the improvement in {rules.metric}, {rules.direction}); a sign-flip "
        f"permutation test reported; {len(guards)} guard checks on point estimates with fixed "
        "non-inferiority margins (no error-rate control); "
        f"{judged} slice comparisons, Holm-controlled at family-wise alpha "
        f"{1 - rules.confidence:.2g}; {len(slices) - judged} slices not judged"
    )
    return _HeadToHead(
        interval=interval,
        mcnemar=None,
        permutation=sign_flip_test(metric, errors, permutations=rules.resamples, seed=rules.seed),
        guards=guards,
        slices=slices,
        multiplicity=multiplicity,
    )


def _slice_reasons(rules: GateRules, slices: Sequence[SliceCheck], reasons: _Reasons) -> int:
    """Record each judged slice's regression (a failure) or non-significant dip (a note)."""
    judged = [s for s in slices if s.judged]
    for slice_check in judged:
        if slice_check.difference is None or slice_check.adjusted_p_value is None:
            continue  # judged slices always have both; this narrows the types
        where = f"slice {slice_check.column}={slice_check.value} ({slice_check.rows} rows)"
        label = "difference" if rules.higher_is_better else f"improvement ({rules.direction})"
        numbers = f"{label} {slice_check.difference:+.4g}, Holm-adjusted p {slice_check.adjusted_p_value:.3g}"
        if slice_check.regressed:
            reasons.failures.append(
                f"{where} regresses beyond margin {rules.slices.margin:g}: {numbers}"
            )
        elif slice_check.difference < -slice_margin(rules, slice_check.champion):
            reasons.notes.append(
                f"note: {where} regresses beyond margin {rules.slices.margin:g} in the point "
                f"estimate, but not significantly ({numbers})"
            )
    return len(judged)
