"""Guards: non-inferiority of the challenger on metrics besides the primary one.

Point estimates against fixed margins: classifiers' recall, per-class F1 and log loss,
regressors' second error metric, bias and tail of |error|, and both kinds' latency and size (in
proportion to the training rows when the challenger trained on more). A guard whose value is
missing on either side fails closed.
"""

from __future__ import annotations

from tasks.core.gate._records import Contender, GuardCheck
from tasks.core.gate._rules import TOLERANCE, GateRules
from tasks.core.reasons import Reason, ReasonCode, reason
from tasks.core.regression import tail_name


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
        challenger >= limit - TOLERANCE,
    )


def _guard_no_higher(
    name: str, champion: float | None, challenger: float | None, limit: float | None, rule: str
) -> GuardCheck:
    if champion is None or challenger is None or limit is None:
        return GuardCheck(name, champion, challenger, None, rule, False)
    return GuardCheck(name, champion, challenger, limit, rule, challenger <= limit + TOLERANCE)


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
        rounds = max(champion.latency_rounds, challenger.latency_rounds)
        checks.append(
            _guard_no_higher(
                "latency ms per 1k rows",
                base,
                challenger.latency_ms_per_1k_rows,
                None if base is None else base * guards.latency_ratio,
                f"<= {guards.latency_ratio:g} x champion"
                + (f", fastest of {rounds} timing rounds" if rounds > 1 else ""),
            )
        )
    if guards.model_size_ratio is not None:
        checks.append(_size_guard(guards.model_size_ratio, champion, challenger))
    return tuple(checks)


def _size_guard(ratio: float, champion: Contender, challenger: Contender) -> GuardCheck:
    """The challenger's pickled size against ratio x the champion's, times the growth of its
    training rows when it trained on more: a forest's or a boosted model's size grows with the
    rows it learns from (a random forest on 4x the rows is ~4x the bytes), so a champion trained
    on a few rows since a change would otherwise reject every fuller challenger, however much
    better. What the guard is for, a model bloated by its settings, still fails at equal rows."""
    size = champion.model_size_bytes
    rule = f"<= {ratio:g} x champion"
    growth = 1.0
    rows, champion_rows = challenger.training_rows, champion.training_rows
    if rows is not None and champion_rows is not None and rows > champion_rows > 0:
        growth = rows / champion_rows
        rule += f" x {growth:.3g} (trained on {rows} rows, the champion on {champion_rows})"
    return _guard_no_higher(
        "model size bytes",
        None if size is None else float(size),
        None if challenger.model_size_bytes is None else float(challenger.model_size_bytes),
        None if size is None else size * ratio * growth,
        rule,
    )


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


def guard_reason(check: GuardCheck) -> Reason:
    """The guard's verdict as a reason: passed, failed, or a value missing (fail closed)."""
    if check.champion is None or check.challenger is None:
        missing = "champion" if check.champion is None else "challenger"
        return reason(ReasonCode.GUARD_MISSING, guard=check.name, missing=missing)
    return reason(
        ReasonCode.GUARD_PASSED if check.passed else ReasonCode.GUARD_FAILED,
        guard=check.name,
        champion=check.champion,
        challenger=check.challenger,
        limit=check.limit,
        rule=check.rule,
    )
