"""Why the policy and the gate decided as they did: each reason a stable code and its numbers.

The trigger policy (tasks/core/policy/) and the promotion gate (tasks/core/gate/) record each
reason as a `Reason`: a kebab-case code that scripts and tests can rely on, and the numbers (and
names) the reason quotes. The sentence people read is built from those two here, and only here:
rewording a reason changes one line below, never a record's code. The records keep both: the
sentences in `reasons` and, in the same order, the codes with their numbers in `reason_codes`
(records written before the codes existed have only the sentences).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ReasonCode(StrEnum):
    """Every reason the policy and the gate give (docs/reasons.md explains each one)."""

    # The trigger policy: the estimate (label-free), drift, performance, confirmation, cooldown.
    ESTIMATE_MISSING = "estimate-missing"
    ESTIMATE_INSUFFICIENT_DATA = "estimate-insufficient-data"
    ESTIMATE_REPORTED_ONLY = "estimate-reported-only"
    ESTIMATE_OK = "estimate-ok"
    ESTIMATE_BREACH = "estimate-breach"
    ESTIMATE_BREACH_IGNORED = "estimate-breach-ignored"
    DRIFT_INSUFFICIENT_DATA = "drift-insufficient-data"
    NO_DATA_DRIFT = "no-data-drift"
    DATA_DRIFT = "data-drift"
    DATA_DRIFT_IGNORED = "data-drift-ignored"
    DATA_DRIFT_HARMFUL = "data-drift-harmful"
    DATA_DRIFT_NOT_HARMFUL = "data-drift-not-harmful"
    DATA_DRIFT_HARM_UNKNOWN = "data-drift-harm-unknown"
    NO_PREDICTION_DRIFT = "no-prediction-drift"
    PREDICTION_DRIFT = "prediction-drift"
    PREDICTION_DRIFT_IGNORED = "prediction-drift-ignored"
    PERFORMANCE_INSUFFICIENT_DATA = "performance-insufficient-data"
    PERFORMANCE_OK = "performance-ok"
    PERFORMANCE_BREACH = "performance-breach"
    PERFORMANCE_DROP = "performance-drop"
    SEVERE_PERFORMANCE_BREACH = "severe-performance-breach"
    BREACH_CONFIRMED = "breach-confirmed"
    BREACH_NOT_CONFIRMED = "breach-not-confirmed"
    CONFIRMATION_SKIPPED = "confirmation-skipped"
    COOLDOWN = "cooldown"
    COOLDOWN_SKIPPED = "cooldown-skipped"
    COOLDOWN_SAME_WINDOW = "cooldown-same-window"
    # The promotion gate: admission, scoring and floor, the improvement, guards, slices.
    INSUFFICIENT_EVIDENCE = "insufficient-evidence"
    CHALLENGER_TRAINED_ON_HOLDOUT = "challenger-trained-on-holdout"
    MODEL_NOT_SCORABLE = "model-not-scorable"
    MODEL_UNUSABLE = "model-unusable"
    CHALLENGER_NOT_SCORED = "challenger-not-scored"
    BELOW_FLOOR = "below-floor"
    FLOOR_MET = "floor-met"
    BOOTSTRAP = "bootstrap"
    CHAMPION_NOT_SCORED = "champion-not-scored"
    CHAMPION_TRAINED_ON_HOLDOUT = "champion-trained-on-holdout"
    IMPROVEMENT_SHOWN = "improvement-shown"
    IMPROVEMENT_NOT_SHOWN = "improvement-not-shown"
    GUARD_PASSED = "guard-passed"
    GUARD_FAILED = "guard-failed"
    GUARD_MISSING = "guard-missing"
    SLICE_COLUMN_MISSING = "slice-column-missing"
    NO_SLICE_JUDGED = "no-slice-judged"
    SLICE_REGRESSED = "slice-regressed"
    SLICE_DIP = "slice-dip"
    # The watch after a promotion (tasks/core/watch.py), and the gate's refusal of a version
    # rolled back after its promotion.
    WATCH_EXPIRED = "watch-expired"
    WATCH_INSUFFICIENT_DATA = "watch-insufficient-data"
    WATCH_NOT_JUDGED = "watch-not-judged"
    WATCH_CHAMPION_HOLDS = "watch-champion-holds"
    WATCH_ROLLBACK = "watch-rollback"
    WATCH_APPROVAL_REQUIRED = "watch-approval-required"
    CHALLENGER_ROLLED_BACK = "challenger-rolled-back"
    # Data quality: the monitored window (the policy) and the gate's holdout.
    DATA_QUALITY_FAILED = "data-quality-failed"
    DATA_QUALITY_WARNING = "data-quality-warning"
    DATA_QUALITY_HOLDOUT_FAILED = "data-quality-holdout-failed"
    # The policy again (issue 29): a retrain without a breach after a change, the back-off.
    FOLLOW_UP_RETRAIN = "follow-up-retrain"
    BACKOFF = "backoff"
    BACKOFF_RESET = "backoff-reset"
    THRESHOLD_UNREACHABLE = "threshold-unreachable"
    # The warning level of the drop bar: an earlier window past it confirms a performance breach.
    BREACH_CONFIRMED_AFTER_WARNING = "breach-confirmed-after-warning"


@dataclass(frozen=True)
class Reason:
    """One reason: its stable code and the numbers (and names) its sentence quotes.

    params hold JSON values only (numbers, strings, booleans, None, lists): a record read back
    from JSON equals the one written.
    """

    code: ReasonCode
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The sentence people read."""
        return _RENDER[self.code](self.params)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reason:
        return cls(ReasonCode(data["code"]), dict(data.get("params") or {}))


def reason(code: ReasonCode, **params: Any) -> Reason:
    """A reason with its numbers."""
    return Reason(code, params)


def texts(reasons: Iterable[Reason]) -> tuple[str, ...]:
    """The sentences of the reasons, in order."""
    return tuple(item.text for item in reasons)


def codes(reasons: Iterable[Reason]) -> list[str]:
    """The codes of the reasons, in order, as plain strings (for event payloads)."""
    return [item.code.value for item in reasons]


def reason_records(reasons: Iterable[Reason]) -> list[dict[str, Any]]:
    """The reasons as JSON values, in order: {"code": ..., "params": {...}} each (for the
    history's details and event payloads, as records keep them)."""
    return [{"code": item.code.value, "params": dict(item.params)} for item in reasons]


def read_reasons(data: Mapping[str, Any]) -> tuple[Reason, ...]:
    """The coded reasons of a saved record; () for one written before reasons had codes."""
    return tuple(Reason.from_dict(item) for item in data.get("reason_codes") or ())


# -- wording shared by several reasons --------------------------------------------------------


def direction(higher_is_better: bool) -> str:
    return "higher is better" if higher_is_better else "lower is better"


def days(value: float) -> str:
    """A duration in days, as the policy's reasons quote it: 1d, 0.50d."""
    return f"{value:g}d" if value == int(value) else f"{value:.2f}d"


def harm_rule(margin: float, harm_drop: float | None) -> str:
    """Where the harm margin comes from: harm_margin as configured (harm_drop None), or
    harm_drop of the champion's holdout score."""
    if harm_drop is None:
        return f"harm_margin {margin:.3f}, in the metric's units"
    return f"harm margin {margin:.3f}: harm_drop {harm_drop:.0%} of that score"


def describe_required(
    min_improvement: float, min_relative_improvement: float | None, champion_score: float | None
) -> str:
    """The improvement the gate requires, with where it comes from, in words."""
    text = f"min_improvement {min_improvement:.3f}"
    if min_relative_improvement is not None and champion_score is not None:
        relative = min_relative_improvement * abs(champion_score)
        text = (
            f"{max(min_improvement, relative):.4g} (the larger of {text} and "
            f"min_relative_improvement {min_relative_improvement:g} x champion "
            f"{champion_score:.4g} = {relative:.4g})"
        )
    return text


def _sign(p: Mapping[str, Any], worse: bool) -> str:
    """The comparison of a value with a limit: worse (< or >) or not (>= or <=)."""
    if p["higher_is_better"]:
        return "<" if worse else ">="
    return ">" if worse else "<="


# -- the trigger policy -----------------------------------------------------------------------

_IGNORED = "so it alone does not retrain"


def _estimate_numbers(p: Mapping[str, Any]) -> str:
    return (
        f"{p['metric']} {p['value']:.3f} {_sign(p, p['breach'])} performance_threshold "
        f"{p['threshold']:.3f} ({direction(p['higher_is_better'])}), estimated on {p['rows']} "
        f"rows ({p['labelled_rows']} labelled)"
    )


def _data_drift(p: Mapping[str, Any]) -> str:
    return (
        f"data drift: {p['drift_share']:.3f} of columns drifted >= drift_threshold "
        f"{p['drift_threshold']:.3f} ({', '.join(p['drifted_columns'])})"
    )


def _harm_numbers(p: Mapping[str, Any]) -> str:
    drop = p["drop"]
    return (
        f"{p['evidence']} {p['metric']} {p['value']:.3f}, {abs(drop):.3f} "
        f"{'worse' if drop > 0 else 'better'} than the champion's holdout score "
        f"{p['holdout_score']:.3f} ({direction(p['higher_is_better'])}; "
        f"{harm_rule(p['harm_margin'], p['harm_drop'])})"
    )


def _harmful(p: Mapping[str, Any]) -> str:
    text = f"{_data_drift(p)}; retrain_on_drift when-harmful: harmful: {_harm_numbers(p)}"
    if p.get("worse_than_threshold"):
        text += f"; it is {_sign(p, True)} performance_threshold {p['performance_threshold']:.3f}"
    return text


def _harm_unknown(p: Mapping[str, Any]) -> str:
    if p["missing"] == "holdout-score":
        why = (
            "the champion has no holdout score on record (registered before it was kept, "
            "or without labelled holdout rows)"
        )
    else:
        why = (
            f"no performance estimate ({p['estimate_note'] or 'none was computed'}) and "
            f"{p['labelled_rows']} labelled rows < min_labelled_rows {p['min_labelled_rows']}"
        )
    return (
        f"{_data_drift(p)}; retrain_on_drift when-harmful: harm cannot be judged ({why}), so "
        "drift retrains as with true"
    )


def _prediction_drift(p: Mapping[str, Any], verdict: str) -> str:
    return (
        f"prediction drift: {verdict}, {p['method']} {p['score']:.4g} "
        f"(threshold {p['threshold']:g})"
    )


def _labelled(p: Mapping[str, Any]) -> str:
    """on N labelled rows from START to END (the period when known)."""
    period = f" from {p['labelled_start']} to {p['labelled_end']}" if p["labelled_start"] else ""
    return f"{p['labelled_rows']} labelled rows{period}"


def _performance(p: Mapping[str, Any], label: str, worse: bool, limit: str) -> str:
    return (
        f"{label}: {p['metric']} {p['value']:.3f} {_sign(p, worse)} {limit} "
        f"({direction(p['higher_is_better'])}) on {_labelled(p)}"
    )


def _drop_from(p: Mapping[str, Any]) -> str:
    """What performance_drop is measured from: the holdout score, or the reference score."""
    if p.get("reference_rule") is None:
        return f"the champion's holdout score {p['holdout_score']:.3f}"
    return f"the reference score {p['reference']:.3f} ({p['reference_rule']})"


def _performance_ok(p: Mapping[str, Any]) -> str:
    text = _performance(p, "performance ok", False, f"performance_threshold {p['threshold']:.3f}")
    if p.get("drop_limit") is not None:
        text += (
            f"; within performance_drop {p['performance_drop']:.0%} of {_drop_from(p)} "
            f"(limit {p['drop_limit']:.3f})"
        )
    return text


def _performance_drop(p: Mapping[str, Any]) -> str:
    limit = (
        f"{p['drop_limit']:.3f}, more than performance_drop {p['performance_drop']:.0%} worse "
        f"than {_drop_from(p)}"
    )
    text = _performance(p, "performance", True, limit)
    return f"{text} (performance_threshold {p['threshold']:.3f} not crossed)"


def _confirmation(p: Mapping[str, Any], verdict: str) -> str:
    spacing = p["min_spacing_days"]
    return (
        f"{p['signal'].replace('_', ' ')} breach {verdict}: {p['seen']} of the last "
        f"{p['looked']} runs of this champion (needs {p['breaches']} of {p['runs']}"
        + (f", runs at least {days(spacing)} apart)" if spacing else ")")
        + (_warned(p) if p.get("warnings") else "")
    )


def _warned(p: Mapping[str, Any]) -> str:
    """The earlier windows past the warning level that a confirmation counted."""
    side = "<" if p["higher_is_better"] else ">"
    windows = "an earlier window" if p["warnings"] == 1 else "earlier windows"
    return (
        f", {p['warnings']} of them {windows} past the warning level: metric "
        f"{side} {p['warning_limit']:.3f}, {p['warning']:g} of performance_drop "
        f"{p['performance_drop']:g} from the reference {p['reference']:.3f} (after the "
        f"champion's first {p['warm_up']} judged windows)"
    )


def _same_window(p: Mapping[str, Any]) -> str:
    as_of = datetime.fromisoformat(p["as_of"])
    return (
        f"cooldown: an earlier run of this window (as_of {as_of:%Y-%m-%d %H:%M}) already "
        "retrained or promoted; a rerun of the same window does not retrain it again, even "
        "on a severe breach (run flows/retrain.py to retrain by hand)"
    )


def _follow_up(p: Mapping[str, Any]) -> str:
    start = datetime.fromisoformat(p["change_start"])
    return (
        f"follow-up retrain: {p['rows_now']} labelled rows to train on since the change the "
        f"champion was trained after ({start:%Y-%m-%d %H:%M}), "
        f"{p['rows_now'] - p['rows_at_training']} more than it was trained on >= "
        f"training.min_rows {p['min_rows']}; one retrain without a breach or cooldown, judged "
        "by the gate"
    )


def _streak(p: Mapping[str, Any]) -> str:
    since = datetime.fromisoformat(p["since"])
    kinds = ", ".join(k.replace("_", " ") for k in p["kinds"]) or "no"
    return (
        f"{p['rejected']} challenger{'s' if p['rejected'] != 1 else ''} in a row rejected "
        f"since {since:%Y-%m-%d %H:%M} ({kinds} breach)"
    )


def _backoff(p: Mapping[str, Any]) -> str:
    return (
        f"back-off: {_streak(p)}, so the cooldown is {days(p['cooldown_days'])} "
        f"(cooldown {days(p['base_cooldown_days'])} x factor {p['factor']:g}^{p['exponent']}"
        + (f", at most max_cooldown {days(p['max_cooldown_days'])})" if p["capped"] else ")")
        + f"; {days(p['elapsed_days'])} since the last retrain or promotion: not retraining"
    )


def _backoff_reset(p: Mapping[str, Any]) -> str:
    kinds = ", ".join(k.replace("_", " ") for k in p["new_kinds"])
    return (
        f"back-off reset: a new kind of breach ({kinds}) after {p['rejected']} rejected "
        f"challenger{'s' if p['rejected'] != 1 else ''} in a row; the cooldown is "
        f"{days(p['cooldown_days'])} again"
    )


def _unreachable(p: Mapping[str, Any]) -> str:
    best = p["best"]
    measured = (
        f"the champion's best {p['metric']} since is {best:.3f} "
        f"{_sign(p, p['best_worse'])} performance_threshold {p['threshold']:.3f} "
        f"({direction(p['higher_is_better'])})"
        if best is not None
        else "no labelled window measured since"
    )
    return (
        f"the performance bar looks unreachable: {_streak(p)}; {measured}. Retraining cannot "
        "seem to meet it: check performance_threshold (and performance_drop) against what "
        "this data allows, or the features"
    )


# -- the promotion gate -----------------------------------------------------------------------


def _floor(p: Mapping[str, Any], passed: bool) -> str:
    return (
        f"challenger {p['metric']} {p['score']:.3f} {_sign(p, not passed)} "
        f"performance_threshold {p['threshold']:.3f} ({direction(p['higher_is_better'])})"
    )


def _improvement(p: Mapping[str, Any]) -> str:
    champion, challenger, difference = p["champion_score"], p["challenger_score"], p["difference"]
    if p["higher_is_better"]:
        line = f"challenger - champion = {challenger:.3f} - {champion:.3f} = {difference:+.3f}"
        bounds = ".3f"
    else:
        line = (
            f"improvement = champion {p['metric']} - challenger's = {champion:.4g} - "
            f"{challenger:.4g} = {difference:+.4g} ({direction(False)})"
        )
        bounds = ".4g"
    return (
        f"{line}, {p['confidence']:.0%} paired bootstrap interval "
        f"[{p['lower']:+{bounds}}, {p['upper']:+{bounds}}]"
    )


def _required(p: Mapping[str, Any]) -> str:
    return describe_required(
        p["min_improvement"], p["min_relative_improvement"], p["champion_score"]
    )


def _guard_number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _guard(p: Mapping[str, Any], verb: str) -> str:
    return (
        f"guard {p['guard']}: challenger {_guard_number(p['challenger'])} vs champion "
        f"{_guard_number(p['champion'])}, {verb} {p['rule']} (limit {_guard_number(p['limit'])})"
    )


def _slice(p: Mapping[str, Any]) -> tuple[str, str]:
    """Where the slice is, and its numbers."""
    where = f"slice {p['column']}={p['value']} ({p['rows']} rows)"
    label = "difference" if p["higher_is_better"] else f"improvement ({direction(False)})"
    return where, (f"{label} {p['difference']:+.4g}, Holm-adjusted p {p['adjusted_p_value']:.3g}")


def _slice_regressed(p: Mapping[str, Any]) -> str:
    where, numbers = _slice(p)
    return f"{where} regresses beyond margin {p['margin']:g}: {numbers}"


def _slice_dip(p: Mapping[str, Any]) -> str:
    where, numbers = _slice(p)
    return (
        f"note: {where} regresses beyond margin {p['margin']:g} in the point "
        f"estimate, but not significantly ({numbers})"
    )


# -- the watch after a promotion ----------------------------------------------------------------


def _watched(p: Mapping[str, Any]) -> str:
    """Which watched run this is, of which champion."""
    return (
        f"watch of {p['champion']} (promoted over {p['previous']}), run {p['window']} of "
        f"{p['windows']}"
    )


def _advantage(p: Mapping[str, Any]) -> str:
    """The previous champion's advantage on the rows after the promotion, with its interval."""
    fmt = ".3f" if p["higher_is_better"] else ".4g"
    return (
        f"{p['previous']} {p['metric']} {p['previous_score']:{fmt}} vs {p['champion']} "
        f"{p['champion_score']:{fmt}} ({direction(p['higher_is_better'])}) on {p['rows']} "
        f"labelled rows from {p['rows_start']} to {p['rows_end']}: advantage "
        f"{p['difference']:+{fmt}}, {p['confidence']:.0%} paired bootstrap interval "
        f"[{p['lower']:+{fmt}}, {p['upper']:+{fmt}}]"
    )


def _watch_rollback(p: Mapping[str, Any], then: str) -> str:
    return (
        f"{_watched(p)}: the previous champion is better, {_advantage(p)}: lower bound >= "
        f"{_required(p)}; {then}"
    )


_Code = ReasonCode
_RENDER: dict[ReasonCode, Callable[[Mapping[str, Any]], str]] = {
    _Code.ESTIMATE_MISSING: lambda p: f"no performance estimate: {p['note']}",
    _Code.ESTIMATE_INSUFFICIENT_DATA: lambda p: (
        f"estimated performance: insufficient data, {p['rows']} rows "
        f"< min_current_rows {p['min_current_rows']}"
    ),
    _Code.ESTIMATE_REPORTED_ONLY: lambda p: (
        f"estimated performance {_estimate_numbers(p)}: reported only, every row of the "
        "window is labelled, so the realised metric decides"
    ),
    _Code.ESTIMATE_OK: lambda p: f"estimated performance ok: {_estimate_numbers(p)}",
    _Code.ESTIMATE_BREACH: lambda p: f"estimated performance breach: {_estimate_numbers(p)}",
    _Code.ESTIMATE_BREACH_IGNORED: lambda p: (
        f"estimated performance breach: {_estimate_numbers(p)}; "
        f"estimated_performance.retrain is off, {_IGNORED}"
    ),
    _Code.DRIFT_INSUFFICIENT_DATA: lambda p: (
        f"drift: insufficient data, {p['current_rows']} rows in the window "
        f"< min_current_rows {p['min_current_rows']}"
    ),
    _Code.NO_DATA_DRIFT: lambda p: (
        f"no data drift: {p['drift_share']:.3f} of columns drifted "
        f"< drift_threshold {p['drift_threshold']:.3f}"
    ),
    _Code.DATA_DRIFT: _data_drift,
    _Code.DATA_DRIFT_IGNORED: lambda p: f"{_data_drift(p)}; retrain_on_drift is off, {_IGNORED}",
    _Code.DATA_DRIFT_HARMFUL: _harmful,
    _Code.DATA_DRIFT_NOT_HARMFUL: lambda p: (
        f"{_data_drift(p)}; retrain_on_drift when-harmful: not harmful: {_harm_numbers(p)}, "
        f"{_IGNORED}"
    ),
    _Code.DATA_DRIFT_HARM_UNKNOWN: _harm_unknown,
    _Code.NO_PREDICTION_DRIFT: lambda p: _prediction_drift(p, "no drift"),
    _Code.PREDICTION_DRIFT: lambda p: _prediction_drift(p, "drifted"),
    _Code.PREDICTION_DRIFT_IGNORED: lambda p: (
        f"{_prediction_drift(p, 'drifted')}; prediction_drift.retrain is off, {_IGNORED}"
    ),
    _Code.PERFORMANCE_INSUFFICIENT_DATA: lambda p: (
        f"performance: insufficient data, {_labelled(p)} < min_labelled_rows "
        f"{p['min_labelled_rows']} (unlabelled rows count for drift only)"
    ),
    _Code.PERFORMANCE_OK: _performance_ok,
    _Code.PERFORMANCE_BREACH: lambda p: _performance(
        p, "performance", True, f"performance_threshold {p['threshold']:.3f}"
    ),
    _Code.PERFORMANCE_DROP: _performance_drop,
    _Code.SEVERE_PERFORMANCE_BREACH: lambda p: _performance(
        p,
        "severe performance breach",
        True,
        f"severe_performance_threshold {p['severe_threshold']:.3f}",
    ),
    _Code.BREACH_CONFIRMED: lambda p: _confirmation(p, "confirmed"),
    _Code.BREACH_NOT_CONFIRMED: lambda p: _confirmation(p, "not confirmed yet"),
    _Code.CONFIRMATION_SKIPPED: lambda p: "severe performance breach: confirmation skipped",
    _Code.COOLDOWN: lambda p: (
        f"cooldown: {days(p['elapsed_days'])} since the last retrain or promotion "
        f"< cooldown {days(p['cooldown_days'])}; not retraining"
    ),
    _Code.COOLDOWN_SKIPPED: lambda p: (
        f"cooldown skipped: severe breach, {days(p['elapsed_days'])} since the last retrain "
        f"or promotion (cooldown {days(p['cooldown_days'])})"
    ),
    _Code.COOLDOWN_SAME_WINDOW: _same_window,
    _Code.INSUFFICIENT_EVIDENCE: lambda p: (
        f"insufficient evidence: {p['holdout_rows']} holdout rows < min_holdout_rows "
        f"{p['min_holdout_rows']}"
    ),
    _Code.CHALLENGER_TRAINED_ON_HOLDOUT: lambda p: (
        "challenger's training window overlaps the holdout: its score would be inflated"
    ),
    _Code.MODEL_NOT_SCORABLE: lambda p: f"{p['version']} could not be scored: {p['error']}",
    _Code.MODEL_UNUSABLE: lambda p: str(p["problem"]),
    _Code.CHALLENGER_NOT_SCORED: lambda p: "challenger could not be scored on the holdout",
    _Code.BELOW_FLOOR: lambda p: _floor(p, passed=False),
    _Code.FLOOR_MET: lambda p: _floor(p, passed=True),
    _Code.BOOTSTRAP: lambda p: "no champion yet: the first model needs only the floor (bootstrap)",
    _Code.CHAMPION_NOT_SCORED: lambda p: (
        "champion could not be scored on the holdout: nothing to compare against"
    ),
    _Code.CHAMPION_TRAINED_ON_HOLDOUT: lambda p: (
        "note: the champion trained on part of the holdout, which favours the champion"
    ),
    _Code.IMPROVEMENT_SHOWN: lambda p: f"{_improvement(p)}: lower bound >= {_required(p)}",
    _Code.IMPROVEMENT_NOT_SHOWN: lambda p: (
        f"{_improvement(p)}: lower bound below {_required(p)} (or not above 0), so the "
        "improvement is not shown"
    ),
    _Code.GUARD_PASSED: lambda p: _guard(p, "within"),
    _Code.GUARD_FAILED: lambda p: _guard(p, "breaks"),
    _Code.GUARD_MISSING: lambda p: (
        f"guard {p['guard']}: the {p['missing']}'s value is missing, so non-inferiority "
        "cannot be shown (fail closed); turn the guard off in promotion.guards if it cannot "
        "apply"
    ),
    _Code.SLICE_COLUMN_MISSING: lambda p: (
        f"slice column '{p['column']}' is missing from the holdout rows"
    ),
    _Code.NO_SLICE_JUDGED: lambda p: (
        f"slices were asked for on {p['columns']}, but no slice has at least "
        f"min_rows {p['min_rows']} rows: nothing shows the challenger is safe per slice "
        "(lower promotion.slices.min_rows or use a longer holdout)"
    ),
    _Code.SLICE_REGRESSED: _slice_regressed,
    _Code.SLICE_DIP: _slice_dip,
    _Code.WATCH_EXPIRED: lambda p: (
        f"watch of {p['champion']} (promoted over {p['previous']}) over: it held for "
        f"policy.watch.windows {p['windows']} monitor runs"
    ),
    _Code.WATCH_INSUFFICIENT_DATA: lambda p: (
        f"{_watched(p)}: {p['rows']} labelled rows after the promotion's holdout "
        f"< min_holdout_rows {p['min_holdout_rows']}, not judged yet"
    ),
    _Code.WATCH_NOT_JUDGED: lambda p: f"{_watched(p)}: not judged, {p['problem']}",
    _Code.WATCH_CHAMPION_HOLDS: lambda p: (
        f"{_watched(p)}: the champion holds, {_advantage(p)}: lower bound below "
        f"{_required(p)} (or not above 0)"
    ),
    _Code.WATCH_ROLLBACK: lambda p: _watch_rollback(p, f"rolling back to {p['previous']}"),
    _Code.WATCH_APPROVAL_REQUIRED: lambda p: _watch_rollback(
        p, f"a rollback to {p['previous']} waits for approval (promotion.approval.required)"
    ),
    _Code.CHALLENGER_ROLLED_BACK: lambda p: (
        f"{p['version']} was rolled back after its promotion (status rolled-back): a version "
        "rolled back is never promoted again; train a new challenger"
    ),
    _Code.DATA_QUALITY_FAILED: lambda p: (
        f"data issue: the data looks broken, not the model: {p['summary']}; no retrain or "
        "promotion for this window (data_quality.action block), and its drift and performance "
        "are not judged"
    ),
    _Code.DATA_QUALITY_WARNING: lambda p: (
        f"data quality warning: the data looks broken, not the model: {p['summary']}; "
        "reported only (data_quality.action warn)"
    ),
    _Code.DATA_QUALITY_HOLDOUT_FAILED: lambda p: (
        f"insufficient evidence: the holdout fails the data-quality checks, so no model is "
        f"judged on it: {p['summary']}"
    ),
    _Code.FOLLOW_UP_RETRAIN: _follow_up,
    _Code.BACKOFF: _backoff,
    _Code.BACKOFF_RESET: _backoff_reset,
    _Code.THRESHOLD_UNREACHABLE: _unreachable,
    _Code.BREACH_CONFIRMED_AFTER_WARNING: lambda p: _confirmation(p, "confirmed after a warning"),
}
