"""Slices: the primary metric of both models per value of each slice column, Holm over them.

A slice blocks the promotion only when its regression beyond the margin is significant after
Holm's adjustment over the judged slices; a dip that is not significant is noted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from tasks.config import MetricConfig
from tasks.core.gate._records import SliceCheck
from tasks.core.gate._rules import GateRules
from tasks.core.reasons import Reason, ReasonCode, reason
from tasks.core.regression import error_regression_p_value, pair_errors, regression_scores
from tasks.core.statistics import holm_adjust, metric_scores, pair_rows, regression_p_value
from tasks.errors import AutoretrainError

_Rows = tuple[np.ndarray, np.ndarray, np.ndarray]  # truth, champion's and challenger's predictions


def check_slices(
    metric: MetricConfig,
    rules: GateRules,
    y_true: Sequence[Any],
    champion: Sequence[Any],
    challenger: Sequence[Any],
    slice_values: Mapping[str, Sequence[Any]],
) -> tuple[tuple[SliceCheck, ...], list[Reason]]:
    """The primary metric per slice; Holm over the judged slices' one-sided regression tests.

    Returns the checks and the fail-closed reasons (a slice column asked for but absent, or no
    slice large enough to judge).
    """
    slices = rules.slices
    problems: list[Reason] = []
    checks: list[SliceCheck] = []
    rows: _Rows = (
        np.asarray(y_true, dtype=object),
        np.asarray(champion, dtype=object),
        np.asarray(challenger, dtype=object),
    )
    for column in slices.columns:
        if column not in slice_values:
            problems.append(reason(ReasonCode.SLICE_COLUMN_MISSING, column=column))
            continue
        checks.extend(_check_column(metric, rules, column, slice_values[column], rows, len(checks)))
    judged = [
        (position, check.p_value)
        for position, check in enumerate(checks)
        if check.judged and check.p_value is not None
    ]
    alpha = 1 - rules.confidence
    adjusted_p_values = holm_adjust([p_value for _, p_value in judged])
    for (position, _), adjusted in zip(judged, adjusted_p_values, strict=True):
        checks[position] = replace(
            checks[position], adjusted_p_value=adjusted, regressed=adjusted < alpha
        )
    if slices.columns and not judged:
        problems.append(
            reason(
                ReasonCode.NO_SLICE_JUDGED, columns=list(slices.columns), min_rows=slices.min_rows
            )
        )
    return tuple(checks), problems


def _check_column(
    metric: MetricConfig,
    rules: GateRules,
    column: str,
    column_values: Sequence[Any],
    rows: _Rows,
    checks_before: int,
) -> list[SliceCheck]:
    """One check per value of the column (a missing value is the slice "(missing)"); each slice
    draws its resamples with its own seed: the gate's seed + 1 + the checks before it."""
    values = np.asarray(
        ["(missing)" if v is None or v != v else str(v) for v in column_values], dtype=object
    )
    checks: list[SliceCheck] = []
    for value in sorted(set(values)):
        mask = values == value
        count = int(mask.sum())
        if count < rules.slices.min_rows:
            checks.append(SliceCheck(column, value, count, judged=False, note="too few rows"))
            continue
        seed = rules.seed + 1 + checks_before + len(checks)
        try:
            champion_score, challenger_score, difference, p_value = _judge_slice(
                metric, rules, (rows[0][mask], rows[1][mask], rows[2][mask]), seed=seed
            )
        except AutoretrainError as error:
            checks.append(SliceCheck(column, value, count, judged=False, note=str(error)))
            continue
        checks.append(
            SliceCheck(
                column,
                value,
                count,
                judged=True,
                champion=champion_score,
                challenger=challenger_score,
                difference=difference,
                p_value=p_value,
            )
        )
    return checks


def slice_margin(rules: GateRules, champion_score: float | None) -> float:
    """The slice margin in the metric's units: as configured for classifiers and r2, a fraction
    of the champion's slice error for error metrics (0.05: 5% higher error)."""
    if rules.higher_is_better or champion_score is None:
        return rules.slices.margin
    return rules.slices.margin * abs(champion_score)


def _judge_slice(
    metric: MetricConfig, rules: GateRules, rows: _Rows, seed: int
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


def slice_reasons(
    rules: GateRules, slices: Sequence[SliceCheck]
) -> tuple[list[Reason], list[Reason]]:
    """Each judged slice's regression (a failure) or non-significant dip (a note)."""
    failures: list[Reason] = []
    notes: list[Reason] = []
    for check in slices:
        if not check.judged or check.difference is None or check.adjusted_p_value is None:
            continue  # judged slices always have both numbers; this narrows the types
        numbers = {
            "column": check.column,
            "value": check.value,
            "rows": check.rows,
            "difference": check.difference,
            "adjusted_p_value": check.adjusted_p_value,
            "margin": rules.slices.margin,
            "higher_is_better": rules.higher_is_better,
        }
        if check.regressed:
            failures.append(Reason(ReasonCode.SLICE_REGRESSED, numbers))
        elif check.difference < -slice_margin(rules, check.champion):
            notes.append(Reason(ReasonCode.SLICE_DIP, numbers))
    return failures, notes
