"""The decision: score both models, compare them row by row, check guards and slices, decide.

`compare_models` records every reason as it is found (failures block, passes and notes explain)
and returns the Comparison; the verdict follows from the failures alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tasks.config import MetricConfig
from tasks.core.gate._guards import check_guards, guard_reason
from tasks.core.gate._records import (
    Comparison,
    Contender,
    GuardCheck,
    ModelOutputs,
    SliceCheck,
    Verdict,
)
from tasks.core.gate._rules import GateRules, improvement_shown
from tasks.core.gate._slices import check_slices, slice_reasons
from tasks.core.metrics import score_predictions
from tasks.core.quality import QualityReport, quality_reason
from tasks.core.reasons import Reason, ReasonCode, reason, texts
from tasks.core.regression import error_summary, pair_errors, paired_error_bootstrap, sign_flip_test
from tasks.core.statistics import (
    BootstrapInterval,
    McNemarResult,
    PairedRows,
    PermutationResult,
    log_loss_of_true_class,
    mcnemar_test,
    metric_scores,
    pair_rows,
    paired_bootstrap,
    per_class_scores,
    permutation_test,
    row_type_table,
)
from tasks.errors import AutoretrainError


@dataclass
class _Reasons:
    """The gate's reasons as they are found: failures block, passes and notes explain."""

    failures: list[Reason] = field(default_factory=list)
    passes: list[Reason] = field(default_factory=list)
    notes: list[Reason] = field(default_factory=list)

    def add(self, passed: bool, found: Reason) -> None:
        (self.passes if passed else self.failures).append(found)


@dataclass(frozen=True)
class _Scored:
    """Both models' predictions and scores on the holdout: what a head-to-head compares.

    Each pair is (champion's, challenger's).
    """

    predictions: tuple[Sequence[Any], Sequence[Any]]
    scores: tuple[float, float]


@dataclass(frozen=True)
class _Evidence:
    """The primary comparison of one kind of model: the interval of the improvement, the tests
    reported beside it, and how the multiplicity statement describes them."""

    interval: BootstrapInterval
    mcnemar: McNemarResult | None  # None for regressors
    permutation: PermutationResult
    class_rows: dict[str, int]  # rows per true class, for the per-class guards; {} for regressors
    primary: str  # the multiplicity statement's first clause
    slice_rule: str  # what it adds about the slices ("" or " (...)")


@dataclass(frozen=True)
class _HeadToHead:
    """What comparing a scored challenger with a scored champion row by row found."""

    interval: BootstrapInterval
    mcnemar: McNemarResult | None  # None for regressors
    permutation: PermutationResult
    guards: tuple[GuardCheck, ...]
    slices: tuple[SliceCheck, ...]
    multiplicity: str

    def fields(self) -> dict[str, Any]:
        """The Comparison's fields this head-to-head fills."""
        return {
            "difference": self.interval.difference,
            "interval": self.interval,
            "mcnemar": self.mcnemar,
            "permutation": self.permutation,
            "guards": self.guards,
            "slices": self.slices,
            "multiplicity": self.multiplicity,
        }


_NO_HEAD_TO_HEAD: dict[str, Any] = {
    "difference": None,
    "interval": None,
    "mcnemar": None,
    "permutation": None,
    "guards": (),
    "slices": (),
    "multiplicity": "",
}


def compare_models(
    *,
    comparison_id: str,
    model_name: str,
    holdout_window: dict[str, str],
    y_true: Sequence[Any],
    rules: GateRules,
    champion: ModelOutputs | None,
    challenger: ModelOutputs,
    slice_values: Mapping[str, Sequence[Any]] | None = None,
    holdout_quality: QualityReport | None = None,
) -> Comparison:
    """Promote only a challenger that passes the floor, whose paired bootstrap interval of the
    improvement lies above min_improvement, and that breaks no guard and no slice.

    Fails closed: too few holdout rows ("insufficient-evidence"), a challenger trained on the
    holdout, a model that could not be loaded or scored, a guard metric that is missing, or
    slices asked for but none large enough all reject, with the reason. A holdout that fails
    the data-quality checks (holdout_quality, under data_quality.action block) is
    "insufficient-evidence" too: no challenger is judged on a broken feed.
    """
    metric = rules.metric_config()
    reasons = _Reasons()
    insufficient = _check_admission(rules, len(y_true), challenger, reasons)
    if holdout_quality is not None and holdout_quality.failed:
        if holdout_quality.blocks:
            insufficient = True
            code = ReasonCode.DATA_QUALITY_HOLDOUT_FAILED
            reasons.failures.insert(0, quality_reason(holdout_quality, code))
        else:
            reasons.notes.append(quality_reason(holdout_quality))
    challenger_score = _score(metric, y_true, challenger, reasons.failures)
    champion_score = _score(metric, y_true, champion, reasons.failures) if champion else None
    _check_floor(rules, challenger_score, reasons)
    scored = _both_scored(champion, champion_score, challenger, challenger_score)
    paired = None
    if scored is not None and not metric.is_regression:
        paired = pair_rows(y_true, *scored.predictions)
    champion_record, challenger_record = _contenders(
        rules, y_true, (champion, challenger), (champion_score, challenger_score), paired
    )

    head_to_head = _against_champion(
        rules,
        y_true,
        (champion, champion_score),
        scored,
        paired,
        (champion_record, challenger_record),
        slice_values,
        reasons,
    )

    problems = [
        reason(ReasonCode.MODEL_UNUSABLE, version=o.version, problem=o.problem)
        for o in (challenger, champion)
        if o is not None and o.problem
    ]
    found = (*reasons.failures, *problems, *reasons.passes, *reasons.notes)
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
        verdict=verdict,
        reasons=texts(found),
        reason_codes=found,
        row_types=row_type_table(paired) if paired is not None else (),
        **(head_to_head.fields() if head_to_head else _NO_HEAD_TO_HEAD),
    )


def _against_champion(
    rules: GateRules,
    y_true: Sequence[Any],
    champion: tuple[ModelOutputs | None, float | None],
    scored: _Scored | None,
    paired: PairedRows | None,
    records: tuple[Contender | None, Contender],
    slice_values: Mapping[str, Sequence[Any]] | None,
    reasons: _Reasons,
) -> _HeadToHead | None:
    """The head-to-head with the champion (its outputs and score), when both models were scored;
    without a champion, the bootstrap's pass; with an unscorable one, the failure."""
    outputs, score = champion
    if outputs is None:
        reasons.passes.append(reason(ReasonCode.BOOTSTRAP))
        return None
    if score is None:
        reasons.failures.append(reason(ReasonCode.CHAMPION_NOT_SCORED))
        return None
    champion_record, challenger_record = records
    if scored is None or champion_record is None:
        return None
    evidence = (
        _regressor_evidence(rules, y_true, scored)
        if paired is None
        else _classifier_evidence(rules, paired)
    )
    head_to_head = _judge(
        rules,
        y_true,
        evidence,
        scored,
        (champion_record, challenger_record),
        slice_values,
        reasons,
    )
    if outputs.trained_on_holdout:
        reasons.notes.append(reason(ReasonCode.CHAMPION_TRAINED_ON_HOLDOUT))
    return head_to_head


def _both_scored(
    champion: ModelOutputs | None,
    champion_score: float | None,
    challenger: ModelOutputs,
    challenger_score: float | None,
) -> _Scored | None:
    """Both models' predictions and scores, or None when either is missing."""
    if (
        champion is None
        or champion_score is None
        or challenger_score is None
        or champion.predictions is None
        or challenger.predictions is None
    ):
        return None
    return _Scored(
        predictions=(champion.predictions, challenger.predictions),
        scores=(champion_score, challenger_score),
    )


def _finite(value: float | None) -> float | None:
    """A NaN or infinite number counts as no number: fail closed."""
    return value if value is not None and math.isfinite(value) else None


def _score(
    metric: MetricConfig, y_true: Sequence[Any], outputs: ModelOutputs, failures: list[Reason]
) -> float | None:
    if outputs.predictions is None or len(y_true) == 0:
        return None
    try:
        return _finite(score_predictions(metric, list(y_true), list(outputs.predictions)))
    except AutoretrainError as error:
        failures.append(
            reason(ReasonCode.MODEL_NOT_SCORABLE, version=outputs.version, error=str(error))
        )
        return None


def _contenders(
    rules: GateRules,
    y_true: Sequence[Any],
    outputs: tuple[ModelOutputs | None, ModelOutputs],
    scores: tuple[float | None, float | None],
    paired: PairedRows | None,
) -> tuple[Contender | None, Contender]:
    """The champion's record (None without a champion) and the challenger's: a regressor's
    error summary, a classifier's recall and per-class F1 when both were scored (paired)."""
    champion, challenger = outputs
    if rules.regression:
        challenger_record = _contender(
            challenger, scores[1], errors=_errors(rules, y_true, challenger)
        )
        if champion is None:
            return None, challenger_record
        return _contender(
            champion, scores[0], errors=_errors(rules, y_true, champion)
        ), challenger_record
    if paired is None or champion is None:
        champion_record = _contender(champion, scores[0]) if champion else None
        return champion_record, _contender(challenger, scores[1])
    recalls = metric_scores(rules.metric_config("recall"), paired)
    return (
        _contender(champion, scores[0], recalls[0], _per_class_f1(paired, paired.champion)),
        _contender(challenger, scores[1], recalls[1], _per_class_f1(paired, paired.challenger)),
    )


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
        latency_rounds=outputs.latency_rounds,
        model_size_bytes=outputs.model_size_bytes,
        training_rows=outputs.training_rows,
        per_class_f1=per_class_f1 or {},
        errors=errors or {},
        provenance=dict(outputs.provenance),
    )


def _per_class_f1(paired: PairedRows, predictions: np.ndarray) -> dict[str, float]:
    scores = per_class_scores("f1", paired, predictions, paired.counts[None, :])[0]
    return {str(label): float(scores[code]) for code, label in enumerate(paired.labels)}


def _errors(rules: GateRules, y_true: Sequence[Any], outputs: ModelOutputs) -> dict[str, float]:
    """A regressor's error summary on the holdout; empty when it has no usable predictions."""
    if outputs.predictions is None or len(y_true) == 0:
        return {}
    try:
        summary = error_summary(y_true, outputs.predictions, rules.guards.tail_quantile)
    except AutoretrainError:
        return {}
    return {key: value for key, value in summary.items() if math.isfinite(value)}


def _check_admission(
    rules: GateRules, holdout_rows: int, challenger: ModelOutputs, reasons: _Reasons
) -> bool:
    """Record what disqualifies the comparison itself; True when the holdout is too small."""
    insufficient = holdout_rows < rules.min_holdout_rows
    if insufficient:
        reasons.failures.append(
            reason(
                ReasonCode.INSUFFICIENT_EVIDENCE,
                holdout_rows=holdout_rows,
                min_holdout_rows=rules.min_holdout_rows,
            )
        )
    if challenger.trained_on_holdout:
        reasons.failures.append(reason(ReasonCode.CHALLENGER_TRAINED_ON_HOLDOUT))
    if challenger.rolled_back:
        reasons.failures.append(
            reason(ReasonCode.CHALLENGER_ROLLED_BACK, version=challenger.version)
        )
    return insufficient


def _check_floor(rules: GateRules, challenger_score: float | None, reasons: _Reasons) -> None:
    """The challenger must reach performance_threshold on its own, champion or not."""
    if challenger_score is None:
        reasons.failures.append(reason(ReasonCode.CHALLENGER_NOT_SCORED))
        return
    metric = rules.metric_config()
    passed = not metric.worse(challenger_score, rules.performance_threshold)
    reasons.add(
        passed,
        reason(
            ReasonCode.FLOOR_MET if passed else ReasonCode.BELOW_FLOOR,
            metric=rules.metric,
            score=challenger_score,
            threshold=rules.performance_threshold,
            higher_is_better=rules.higher_is_better,
        ),
    )


def _classifier_evidence(rules: GateRules, paired: PairedRows) -> _Evidence:
    """A classifier's paired bootstrap over the rows, McNemar's test and a permutation test."""
    metric = rules.metric_config()
    return _Evidence(
        interval=paired_bootstrap(
            metric, paired, confidence=rules.confidence, resamples=rules.resamples, seed=rules.seed
        ),
        mcnemar=mcnemar_test(paired),
        permutation=permutation_test(metric, paired, permutations=rules.resamples, seed=rules.seed),
        class_rows={
            str(label): int(paired.counts[paired.truth == code].sum())
            for code, label in enumerate(paired.labels)
        },
        primary=f"1 primary comparison (paired bootstrap, {rules.confidence:.0%})",
        slice_rule=" (a slice blocks only when its regression beyond the margin is significant)",
    )


def _regressor_evidence(rules: GateRules, y_true: Sequence[Any], scored: _Scored) -> _Evidence:
    """A regressor's paired bootstrap of per-row losses and a sign-flip permutation test."""
    metric = rules.metric_config()
    errors = pair_errors(metric, y_true, *scored.predictions)
    return _Evidence(
        interval=paired_error_bootstrap(
            metric, errors, confidence=rules.confidence, resamples=rules.resamples, seed=rules.seed
        ),
        mcnemar=None,
        permutation=sign_flip_test(metric, errors, permutations=rules.resamples, seed=rules.seed),
        class_rows={},
        primary=(
            f"1 primary comparison (paired bootstrap of per-row losses, {rules.confidence:.0%}, "
            f"of the improvement in {rules.metric}, {rules.direction}); a sign-flip "
            "permutation test reported"
        ),
        slice_rule="",
    )


def _judge(
    rules: GateRules,
    y_true: Sequence[Any],
    evidence: _Evidence,
    scored: _Scored,
    records: tuple[Contender, Contender],
    slice_values: Mapping[str, Sequence[Any]] | None,
    reasons: _Reasons,
) -> _HeadToHead:
    """The improvement's interval against the required improvement, the guards and the slices.

    records are (champion's, challenger's).
    """
    _check_improvement(rules, evidence.interval, scored.scores, reasons)
    guards = check_guards(rules, *records, evidence.class_rows)
    for check in guards:
        reasons.add(check.passed, guard_reason(check))
    slices, slice_problems = check_slices(
        rules.metric_config(), rules, y_true, *scored.predictions, slice_values or {}
    )
    reasons.failures.extend(slice_problems)
    failures, notes = slice_reasons(rules, slices)
    reasons.failures.extend(failures)
    reasons.notes.extend(notes)
    judged = sum(1 for s in slices if s.judged)
    multiplicity = (
        f"{evidence.primary}; {len(guards)} guard checks on point estimates with fixed "
        "non-inferiority margins (no error-rate control); "
        f"{judged} slice comparisons, Holm-controlled at family-wise alpha "
        f"{1 - rules.confidence:.2g}{evidence.slice_rule}; {len(slices) - judged} slices not judged"
    )
    return _HeadToHead(
        interval=evidence.interval,
        mcnemar=evidence.mcnemar,
        permutation=evidence.permutation,
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
    required = rules.required_improvement(scores[0])
    shown = improvement_shown(interval, required)
    found = reason(
        ReasonCode.IMPROVEMENT_SHOWN if shown else ReasonCode.IMPROVEMENT_NOT_SHOWN,
        metric=rules.metric,
        higher_is_better=rules.higher_is_better,
        champion_score=scores[0],
        challenger_score=scores[1],
        difference=interval.difference,
        confidence=rules.confidence,
        lower=interval.lower,
        upper=interval.upper,
        required=required,
        min_improvement=rules.min_improvement,
        min_relative_improvement=rules.min_relative_improvement,
    )
    reasons.add(shown, found)
