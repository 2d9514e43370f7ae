"""Human-readable summaries of a monitoring run and of a comparison (pure text)."""

from __future__ import annotations

from typing import Any

from tasks.core.gate import Comparison, GuardCheck, SliceCheck, improvement_shown
from tasks.core.numbers import format_number
from tasks.core.outcomes import DashboardUpdate, MonitorResult, ReportsUpload
from tasks.core.signals import Signals
from tasks.core.windows import Window


def verdict_in_words(comparison: Comparison) -> str:
    """One sentence a person can act on: what happens and the main reason."""
    challenger = comparison.challenger.version
    champion = comparison.champion.version if comparison.champion else None
    interval = comparison.interval
    metric = comparison.rules.metric
    if comparison.verdict == "insufficient-evidence":
        return (
            f"Insufficient evidence: only {comparison.holdout_rows} labelled holdout rows "
            f"(at least {comparison.rules.min_holdout_rows} needed), so {challenger} is not "
            f"promoted and {champion or 'no model'} stays champion."
        )
    rules = comparison.rules
    if comparison.verdict == "promote" and champion is None:
        return (
            f"Promote {challenger} as the first champion (bootstrap): it reaches the worst "
            f"acceptable {metric} of {rules.performance_threshold:.3f} ({rules.direction})."
        )
    if comparison.verdict == "promote" and interval is not None:
        better = (
            f"better by {interval.difference:+.3f} {metric}"
            if rules.higher_is_better
            else f"{interval.difference:.4g} lower in {metric} ({rules.direction})"
        )
        return (
            f"Promote {challenger} over {champion}: on the same {comparison.holdout_rows} rows it is "
            f"{better}, and with {interval.confidence:.0%} confidence by at least "
            f"{interval.lower:+.4g} (required: {rules.describe_required(comparison.champion_score)}); "
            "no guard or slice regresses."
        )
    first = comparison.reasons[0] if comparison.reasons else "no reason recorded"
    return f"Keep {champion or 'no champion'}; reject {challenger}: {first}."


def comparison_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """The comparison as a narrow table: one row per check, its result next to its name, the
    champion's and the challenger's number, and the rule in a few characters (the rules in full
    are in comparison_details). It fits a 1280-pixel screen in Prefect's UI, whose table cells
    do not wrap."""
    return [
        _floor_row(comparison),
        *_test_rows(comparison),
        *(_guard_row(guard) for guard in comparison.guards),
        *(_slice_row(check) for check in comparison.slices),
    ]


def _row(check: str, result: str, champion: Any, challenger: Any, rule: str) -> dict[str, Any]:
    return {
        "check": check,
        "result": result,
        "champion": champion,
        "challenger": challenger,
        "rule": rule,
    }


def _floor_row(comparison: Comparison) -> dict[str, Any]:
    champion, challenger = comparison.champion, comparison.challenger
    rules = comparison.rules
    score = challenger.score
    passed = score is not None and not rules.metric_config().worse(
        score, rules.performance_threshold
    )
    side = ">=" if rules.higher_is_better else "<="
    return _row(
        rules.metric,
        "ok" if passed else "FAIL",
        champion.score if champion else None,
        score,
        f"{side} {rules.performance_threshold:.3f} (floor)",
    )


def _test_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """The primary interval (it decides) and the paired tests (reported only)."""
    rows = []
    rules = comparison.rules
    interval = comparison.interval
    if interval is not None:
        required = rules.required_improvement(comparison.champion_score)
        rows.append(
            _row(
                rules.interval_name,
                "ok" if improvement_shown(interval, required) else "FAIL",
                None,
                f"{interval.difference:+.4g}",
                f"[{interval.lower:+.4g}, {interval.upper:+.4g}] >= {required:+.4g}",
            )
        )
    if comparison.mcnemar is not None:
        test = comparison.mcnemar
        rows.append(
            _row(
                "McNemar test",
                "info",
                test.champion_only_correct,
                test.challenger_only_correct,
                f"p = {format_number(test.p_value, 'general')}",
            )
        )
    if comparison.permutation is not None:
        rows.append(
            _row(
                "permutation test",
                "info",
                None,
                None,
                f"p = {format_number(comparison.permutation.p_value, 'general')}",
            )
        )
    return rows


def _short_name(name: str) -> str:
    """A guard's name without a long explanation in brackets ("(macro)" and "(47 rows)" stay)."""
    head, bracket, rest = name.partition(" (")
    return name if not bracket or len(rest) <= 8 or rest.endswith(" rows)") else head


def _guard_row(guard: GuardCheck) -> dict[str, Any]:
    side = guard.rule.split(" ", 1)[0]
    return _row(
        _short_name(guard.name),
        "ok" if guard.passed else "FAIL",
        guard.champion,
        guard.challenger,
        f"guard: {side} {format_number(guard.limit, 'general')}"
        if guard.limit is not None
        else "guard: no limit",
    )


def _slice_row(check: SliceCheck) -> dict[str, Any]:
    result = "FAIL" if check.regressed else "ok" if check.judged else "skipped"
    return _row(
        f"{check.column}={check.value} ({check.rows} rows)",
        result,
        check.champion,
        check.challenger,
        f"slice: Holm p {format_number(check.adjusted_p_value, 'general')}"
        if check.judged
        else "slice: not judged",
    )


def comparison_details(comparison: Comparison) -> list[str]:
    """The rules behind comparison_rows in full, one markdown list item each."""
    rules = comparison.rules
    side = ">=" if rules.higher_is_better else "<="
    items = [
        f"**{rules.metric}** ({rules.direction}): the challenger must reach {side} "
        f"performance_threshold {rules.performance_threshold:.3f}, the worst acceptable.",
    ]
    interval = comparison.interval
    if interval is not None:
        what = (
            "challenger - champion"
            if rules.higher_is_better
            else f"champion - challenger {rules.metric_name}, {rules.direction}"
        )
        items.append(
            f"**{rules.interval_name}** ({what}) "
            f"{interval.difference:+.4g}; its {interval.confidence:.0%} paired bootstrap interval "
            f"[{interval.lower:+.4g}, {interval.upper:+.4g}] ({interval.resamples} resamples, "
            f"seed {interval.seed}) decides: its lower bound must reach "
            f"{rules.describe_required(comparison.champion_score)}."
        )
    if comparison.mcnemar is not None:
        test = comparison.mcnemar
        items.append(
            f"**McNemar test** (reported, does not decide): {test.champion_only_correct} rows "
            f"only the champion gets right, {test.challenger_only_correct} only the challenger; "
            f"p = {format_number(test.p_value, 'general')} ({test.method})."
        )
    if comparison.permutation is not None:
        permutation = comparison.permutation
        name = (
            f"paired permutation test of {rules.metric}"
            if not rules.regression
            else f"sign-flip permutation test of per-row {rules.metric_name} losses"
        )
        items.append(
            f"**permutation test** (reported, does not decide): {name}, p = "
            f"{format_number(permutation.p_value, 'general')} ({permutation.permutations} "
            "permutations)."
        )
    items += [
        f"**guard: {guard.name}**: {guard.rule}"
        + (f" (limit {format_number(guard.limit, 'general')})" if guard.limit is not None else "")
        + "."
        for guard in comparison.guards
    ]
    margin = rules.slices.margin
    items += [
        f"**slice {check.column}={check.value}**: "
        + (
            f"no significant regression beyond {margin:g} (Holm-adjusted p "
            f"{format_number(check.adjusted_p_value, 'general')})."
            if check.judged
            else f"not judged: {check.note}."
        )
        for check in comparison.slices
    ]
    if comparison.multiplicity:
        items.append(f"**Comparisons made**: {comparison.multiplicity}.")
    return items


def describe_provenance(made: dict[str, str]) -> str:
    """Where a model was made, in one line: its image (name@digest), git commit and the lock's
    hash, abbreviated to 12 hex digits; "not recorded" when none is known."""
    parts = []
    image = made.get("image", "")
    digest = made.get("image_digest", "")
    if image or digest:
        short = digest.split(":", 1)[-1][:12] if digest else ""
        parts.append(f"image {image or '?'}" + (f"@sha256:{short}" if short else ""))
    if made.get("git_sha"):
        parts.append(f"git {made['git_sha'][:12]}")
    if made.get("lock_sha256"):
        parts.append(f"uv.lock {made['lock_sha256'][:12]}")
    return ", ".join(parts) if parts else "not recorded"


def render_comparison(comparison: Comparison) -> str:
    """The comparison in words: both scores, the difference and its interval, the verdict and why."""
    holdout = Window.from_dict(comparison.holdout_window)
    metric = comparison.rules.metric
    lines = [
        f"Comparison {comparison.comparison_id}",
        f"  holdout    {holdout} ({comparison.holdout_rows} labelled rows, used by neither for training)",
    ]
    metric = f"{metric} ({comparison.rules.direction})"
    if comparison.champion:
        lines.append(
            f"  champion   {comparison.champion.version}: {metric} {format_number(comparison.champion.score)}"
        )
    lines.append(
        f"  challenger {comparison.challenger.version}: {metric} {format_number(comparison.challenger.score)}"
    )
    for contender in (comparison.champion, comparison.challenger):
        if contender is not None:
            lines.append(
                f"  made in    {contender.version}: {describe_provenance(contender.provenance)}"
            )
    rules = comparison.rules
    interval = comparison.interval
    if interval is not None:
        label = rules.interval_name
        if not rules.higher_is_better:
            label += f" (champion - challenger, {rules.direction})"
        lines.append(
            f"  {label} {interval.difference:+.4g}, {interval.confidence:.0%} interval "
            f"[{interval.lower:+.4g}, {interval.upper:+.4g}] (paired bootstrap, "
            f"{interval.resamples} resamples, seed {interval.seed}; "
            f"{rules.describe_required(comparison.champion_score)})"
        )
    for contender in (comparison.champion, comparison.challenger):
        if contender is not None and contender.errors:
            errors = ", ".join(
                f"{name} {format_number(value, 'general')}"
                for name, value in contender.errors.items()
            )
            lines.append(f"  errors     {contender.version}: {errors}")
    if comparison.mcnemar is not None:
        test = comparison.mcnemar
        lines.append(
            f"  McNemar    champion-only right {test.champion_only_correct}, challenger-only "
            f"right {test.challenger_only_correct}: p = {test.p_value:.3g} ({test.method})"
        )
    if comparison.permutation is not None:
        kind = (
            "sign-flip permutations of per-row losses"
            if rules.regression
            else "paired permutations"
        )
        lines.append(
            f"  permutation p = {comparison.permutation.p_value:.3g} "
            f"({comparison.permutation.permutations} {kind} of {metric})"
        )
    if comparison.multiplicity:
        lines.append(f"  tests      {comparison.multiplicity}")
    lines.append(
        f"  verdict    {comparison.verdict.upper()}"
        + (" (bootstrap)" if comparison.bootstrap else "")
    )
    lines += [f"    - {reason}" for reason in comparison.reasons]
    if comparison.approval is not None:
        approval = comparison.approval
        answer = "approved" if approval.approved else "not approved"
        lines.append(
            f"  approval   {answer} by {approval.reviewer} at {approval.decided_at}"
            + (f": {approval.note}" if approval.note else "")
        )
    return "\n".join(lines)


def _cell(value: Any) -> str:
    """A value as markdown table text: rounded numbers; a leading > or < is not a blockquote."""
    if value is None:
        return ""
    if isinstance(value, float):
        return format_number(value, "general")
    text = str(value).replace("|", "\\|")
    return "\\" + text if text.startswith((">", "<")) else text


def comparison_table(comparison: Comparison) -> list[dict[str, str]]:
    """The comparison's rows as a Prefect table artifact shows them: the UI renders each cell as
    markdown, so numbers come rounded and rules like '>= champion' keep their '>'."""
    return [
        {key: _cell(value) for key, value in row.items()} for row in comparison_rows(comparison)
    ]


def render_comparison_markdown(comparison: Comparison) -> str:
    """The comparison for the Prefect UI, narrow enough for a 1280-pixel screen: the verdict in
    words, a short table of every check, then the rules, where the models were made and every
    reason as lists (their text wraps; a table cell does not)."""
    holdout = Window.from_dict(comparison.holdout_window)
    champion = comparison.champion.version if comparison.champion else "none (bootstrap)"
    lines = [
        f"# {comparison.verdict.upper()}: {comparison.challenger.version} vs {champion}",
        "",
        verdict_in_words(comparison),
        "",
        f"Holdout {holdout}: {comparison.holdout_rows} labelled rows, the same rows for both "
        "models, trained on by neither.",
        "",
        "| check | result | champion | challenger | rule |",
        "|---|---|---|---|---|",
    ]
    for row in comparison_rows(comparison):
        lines.append("| " + " | ".join(_cell(value) for value in row.values()) + " |")
    lines += ["", "## The rules", ""]
    lines += [f"- {item}" for item in comparison_details(comparison)]
    lines += ["", "## Where the models were made", ""]
    for contender in (comparison.champion, comparison.challenger):
        if contender is not None:
            made = contender.provenance
            described = [
                f"{label} `{made[key]}`"
                for label, key in (
                    ("image", "image"),
                    ("digest", "image_digest"),
                    ("git commit", "git_sha"),
                    ("uv.lock SHA-256", "lock_sha256"),
                )
                if made.get(key)
            ]
            lines.append(f"- **{contender.version}**: {', '.join(described) or 'not recorded'}")
    lines += ["", "## Reasons", ""]
    lines += [f"- {reason}" for reason in comparison.reasons]
    if comparison.approval is not None:
        approval = comparison.approval
        lines += [
            "",
            f"Approval: {'approved' if approval.approved else 'not approved'} by "
            f"{approval.reviewer} at {approval.decided_at}. {approval.note}",
        ]
    lines += ["", f"Comparison id `{comparison.comparison_id}` (JSON in the registry)."]
    return "\n".join(lines)


def render_approval_markdown(comparison: Comparison) -> str:
    """The comparison in the approval form, whose text box is about 470 pixels wide: the
    verdict and the numbers that decide it first, as a list that wraps (no table, no hash in
    full), then the other checks and where the models were made."""
    rules = comparison.rules
    champion = comparison.champion
    challenger = comparison.challenger
    versus = champion.version if champion else "none (bootstrap)"
    passed = _floor_row(comparison)["result"]
    side = ">=" if rules.higher_is_better else "<="
    scores = f"challenger {challenger.version} {_cell(challenger.score) or 'n/a'}"
    if champion is not None:
        scores = f"champion {champion.version} {_cell(champion.score) or 'n/a'}, {scores}"
    lines = [
        f"**{comparison.verdict.upper()}: {challenger.version} vs {versus}**",
        "",
        f"- **{rules.metric}** ({rules.direction}) on {comparison.holdout_rows} holdout rows: "
        f"{scores}; floor {side} {rules.performance_threshold:.3f}: {passed}",
    ]
    interval = comparison.interval
    if interval is not None:
        required = rules.describe_required(comparison.champion_score)
        shown = improvement_shown(interval, rules.required_improvement(comparison.champion_score))
        lines.append(
            f"- **{rules.interval_name}** "
            f"{interval.difference:+.4g}, {interval.confidence:.0%} interval "
            f"[{interval.lower:+.4g}, {interval.upper:+.4g}]; its lower bound must reach "
            f"{required}: {'ok' if shown else 'FAIL'}"
        )
    tests = []
    if comparison.mcnemar is not None:
        tests.append(f"McNemar p = {format_number(comparison.mcnemar.p_value, 'general')}")
    if comparison.permutation is not None:
        tests.append(
            f"permutation test p = {format_number(comparison.permutation.p_value, 'general')}"
        )
    if tests:
        lines.append(f"- **tests** (reported, they do not decide): {', '.join(tests)}")
    checks = [
        *(_guard_row(guard) for guard in comparison.guards),
        *(_slice_row(check) for check in comparison.slices),
    ]
    if checks:
        failed = [_cell(row["check"]) for row in checks if row["result"] == "FAIL"]
        lines.append(
            f"- **guards and slices**: {len(checks) - len(failed)} of {len(checks)} ok"
            + (f"; FAIL: {', '.join(failed)}" if failed else "")
        )
    lines += ["", verdict_in_words(comparison), "", "Each check:", ""]
    for row in comparison_rows(comparison):
        numbers = ", ".join(
            f"{side} {_cell(row[side])}"
            for side in ("champion", "challenger")
            if row[side] is not None
        )
        lines.append(
            f"- {_cell(row['check'])}: {numbers + '; ' if numbers else ''}{_cell(row['rule'])}: "
            f"{row['result']}"
        )
    lines += ["", "Made in:", ""]
    for contender in (champion, challenger):
        if contender is not None:
            # The image apart from its digest: one unbroken name@digest is wider than the form.
            made = describe_provenance(contender.provenance).replace("@sha256:", ", sha256:")
            lines.append(f"- {contender.version}: {made}")
    lines += ["", f"Comparison `{comparison.comparison_id}` (in full: the comparison artifact)."]
    return "\n".join(lines)


def describe_estimate(signals: Signals) -> str:
    """The label-free estimate next to the realised metric, or why there is none."""
    estimate = signals.estimate
    if estimate is None:
        return f"n/a: {signals.estimate_note}" if signals.estimate_note else "n/a: not computed"
    line = (
        f"{estimate.metric} {estimate.value:.3f} on all {estimate.rows} rows, from the champion's "
        f"{estimate.basis} (no labels needed; its holdout score {estimate.holdout_score:.3f})"
    )
    if signals.performance is not None:
        difference = estimate.value - signals.performance.value
        line += f"; {difference:+.3f} vs the realised value on the labelled rows"
    return line


def render_summary(result: MonitorResult) -> str:
    """The monitor run summary printed on the terminal and stored as a markdown artifact."""
    signals, decision = result.signals, result.decision
    lines = [f"autoretrain monitor: {result.model_name}"]
    if result.bootstrap:
        lines += [
            "",
            "No champion was registered: bootstrapped one.",
            render_comparison(result.bootstrap),
        ]
    lines += [
        "",
        f"window      {result.window} ({signals.current_rows} rows; reference {signals.reference_rows} rows "
        f"of champion {result.champion_before})",
        f"drift       share of drifted columns {signals.drift_share:.2f} "
        f"(threshold {decision.drift_threshold:.2f})",
    ]
    if signals.sampled:
        lines.append(
            f"              tested on a random sample (sampling.drift_rows, seed {signals.sample_seed}): "
            f"{signals.drift_rows_current:,} of {signals.current_rows:,} current rows, "
            f"{signals.drift_rows_reference:,} of {signals.reference_rows:,} reference rows"
        )
    for column in signals.columns:
        flag = "DRIFTED" if column.drifted else "ok"
        lines.append(
            f"              {column.column:<20} {column.method:<24} score {column.score:.4g} "
            f"(threshold {column.threshold:g}) {flag}"
        )
    if signals.prediction_drift:
        column = signals.prediction_drift
        lines.append(
            f"predictions {column.method} score {column.score:.4g} (threshold {column.threshold:g}) "
            f"{'DRIFTED' if column.drifted else 'ok'} "
            "(the champion's outputs on the window vs on its reference)"
        )
    if signals.target_drift:
        column = signals.target_drift
        lines.append(
            f"target      {column.column}: {column.method} score {column.score:.4g} (threshold "
            f"{column.threshold:g}) {'DRIFTED' if column.drifted else 'ok'} (labelled rows vs "
            "the reference's; reported, it does not trigger on its own)"
        )
    if signals.performance:
        performance = signals.performance
        drop = (
            f", or {decision.performance_drop_limit:.3f} from the champion's holdout score "
            f"{decision.holdout_score:.3f}"
            if decision.performance_drop_limit is not None and decision.holdout_score is not None
            else ""
        )
        # The first monitored windows moved the reference (policy.drop_reference): say so.
        reference = decision.drop_reference
        if drop and reference is not None and reference != decision.holdout_score:
            drop = (
                f", or {decision.performance_drop_limit:.3f} from the reference score "
                f"{reference:.3f}, {decision.drop_reference_rule}"
            )
        lines.append(
            f"performance {performance.metric} {performance.value:.3f} (threshold "
            f"{decision.performance_threshold:.3f}{drop}, {decision.direction}) on "
            f"{performance.labelled_rows} labelled rows, predictions: {performance.prediction_source}"
        )
    else:
        lines.append("performance n/a: no labelled rows in the window")
    lines.append(f"estimated   {describe_estimate(signals)}")
    lines.append(f"decision    {decision.action.upper()}")
    lines += [f"    - {reason}" for reason in decision.reasons]
    if result.watch:
        lines.append(f"watch       {result.watch.action.upper()}")
        lines += [f"    - {reason}" for reason in result.watch.reasons]
    if result.rerun:
        lines.append(f"rerun       {result.rerun}")
    if result.retrain_request:
        request = result.retrain_request
        lines.append(f"requested   {request.event}, request {request.request_id}: {request.reason}")
    if result.comparison:
        lines += ["", render_comparison(result.comparison)]
    lines += [
        "",
        f"status      {result.status}; champion {result.champion_before} -> {result.champion_after}",
    ]
    reports = result.reports
    if reports is not None and reports.uploaded:
        lines.append(f"reports     {reports.describe()}")
    else:
        lines += [f"report      {path}" for path in signals.report_paths]
        if signals.reports_note:
            lines.append(f"report      {signals.reports_note}")
        if reports is not None:
            lines.append(f"reports     {reports.describe()}")
    if result.dashboard:
        lines.append(f"dashboard   {result.dashboard.describe()}")
    return "\n".join(lines)


def render_dashboard_warning(dashboard: DashboardUpdate) -> str:
    """The markdown warning above a run's summary when its dashboard was not updated."""
    return (
        "**Warning: the Evidently dashboard was NOT updated** by this run: "
        f"{dashboard.detail}. The decision stands; its numbers are below and in the monitoring "
        "history."
    )


def render_reports_warning(reports: ReportsUpload) -> str:
    """The markdown warning above a run's summary when its reports did not reach MLflow."""
    kept = (
        f" They are kept on the machine that ran it, in {reports.local_copy}."
        if reports.local_copy
        else ""
    )
    return (
        "**Warning: the reports were NOT uploaded to MLflow** by this run: "
        f"{reports.detail}.{kept} The decision stands."
    )
