"""The model card: one page that says what a champion is, why it replaced the last one, on what
evidence, and how to undo it, built only from records the loop already saved.

Every number is copied from its record (the version's lineage, the comparison that promoted it,
the alias history entry, the monitoring history's record of the request, the calibration, the
config in force); nothing is computed again. A section whose record is missing says so instead
of showing a default. The sections follow Mitchell et al., "Model Cards for Model Reporting"
(2019), and the Hugging Face template.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tasks.config import Config
from tasks.core.gate import Comparison

CardEvent = Literal["promotion", "bootstrap", "rollback"]
NOT_STATED = "not stated"
# How apply_verdict's reason of a promotion starts: "comparison <id>; ...".
_PROMOTING_COMPARISON = re.compile(r"^comparison ([a-z0-9-]+)")


def promoting_comparison_id(reason: str) -> str | None:
    """The comparison id an alias history entry of a promotion names (None: it names none)."""
    match = _PROMOTING_COMPARISON.match(reason)
    return match.group(1) if match else None


@dataclass(frozen=True)
class CardSection:
    """One section: its values as recorded, and the record they come from (or why it is missing)."""

    key: str
    title: str
    source: str
    fields: dict[str, Any] = field(default_factory=dict)
    missing: str = ""  # why the record behind the section is not there ("" when it is)


@dataclass(frozen=True)
class ModelCard:
    """A version's card, written when it became champion (promotion, bootstrap or rollback)."""

    model_name: str
    version: str
    event: CardEvent
    written_at: str
    summary: str
    sections: tuple[CardSection, ...]

    def section(self, key: str) -> CardSection:
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(f"the card has no section '{key}'")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        return cls(
            model_name=data["model_name"],
            version=data["version"],
            event=data["event"],
            written_at=data["written_at"],
            summary=data["summary"],
            sections=tuple(CardSection(**section) for section in data["sections"]),
        )


@dataclass(frozen=True)
class RunContext:
    """What the run writing the card knows of how it was started."""

    reason: str  # why the retrain (or rollback) ran, as the flow was told
    request_id: str | None = None  # the retrain request (events mode: the monitor's flow run)
    flow_run_id: str | None = None  # this promote (or rollback) run
    parent_flow_run_id: str | None = None  # the run that ran this one inline (the monitor's)
    config_path: str = "config.yaml"


@dataclass(frozen=True)
class CardSources:
    """The records a card is built from; None where a record does not exist."""

    config: Config
    event: CardEvent
    written_at: str
    version: dict[str, Any]  # the version's record (ModelVersion.to_dict())
    alias_entry: dict[str, Any] | None  # the champion alias change this card records
    run: RunContext
    comparison: Comparison | None = None  # the comparison that promoted the version
    promotion_entry: dict[str, Any] | None = None  # rollback: the entry that first promoted it
    label_counts: dict[str, int] | None = None  # labels of the training rows (its reference)
    calibration: dict[str, Any] | None = None
    request_record: dict[str, Any] | None = None  # the monitoring history's record of the request
    rollback_target: str | None = None  # what `rollback` would restore now
    rollback_refusal: str = ""  # why there is none
    registry_ids: dict[str, str] = field(default_factory=dict)


# Each section's title, in the card's order (a rollback's trigger section has its own title).
SECTION_TITLES = {
    "model": "Model details",
    "intended_use": "Intended use and limitations",
    "training_data": "Training data",
    "evaluation": "Evaluation",
    "trigger": "Why it was retrained",
    "approval": "Approval",
    "lineage": "Lineage",
    "monitoring": "Monitoring",
    "undo": "How to undo it",
}


def _section(
    key: str,
    *,
    source: str,
    fields: dict[str, Any] | None = None,
    missing: str = "",
    title: str = "",
) -> CardSection:
    """The section `key`, titled from SECTION_TITLES unless title is given."""
    return CardSection(key, title or SECTION_TITLES[key], source, fields or {}, missing)


def build_model_card(sources: CardSources) -> ModelCard:
    """The card of sources.version from its records."""
    version = sources.version
    sections = (
        _model_details(sources),
        _intended_use(sources),
        _training_data(sources),
        _evaluation(sources),
        _trigger(sources),
        _approval(sources),
        _lineage(sources),
        _monitoring(sources),
        _undo(sources),
    )
    return ModelCard(
        model_name=sources.config.name,
        version=version["version"],
        event=sources.event,
        written_at=sources.written_at,
        summary=_summary(sources),
        sections=sections,
    )


def _summary(sources: CardSources) -> str:
    version = sources.version["version"]
    entry = sources.alias_entry or {}
    before = entry.get("from_version")
    if sources.event == "rollback":
        return (
            f"{version} was restored as champion by a rollback from {before or 'no champion'}: "
            f"{entry.get('reason') or 'no reason recorded'}."
        )
    comparison = sources.comparison
    verdict = f"comparison {comparison.comparison_id}" if comparison else "no comparison recorded"
    if sources.event == "bootstrap":
        return f"{version} became the first champion of {sources.config.name} ({verdict})."
    return f"{version} replaced {before or 'no champion'} as champion ({verdict})."


def _model_details(sources: CardSources) -> CardSection:
    version, config = sources.version, sources.config
    metric = config.policy.performance_metric
    return _section(
        "model",
        source=f"the lineage of {version['version']}",
        fields={
            "name": config.name,
            "version": version["version"],
            "status": version.get("status", ""),
            "registered_at": version.get("created_at", ""),
            "estimator": version.get("estimator", ""),
            "parameters": dict(version.get("params", {})),
            "features": list(version.get("features", [])) or list(config.data.features),
            "target": config.data.target_column,
            "metric": f"{metric.describe()}, {metric.direction}",
        },
    )


def _intended_use(sources: CardSources) -> CardSection:
    card = sources.config.card
    values = {
        "owner": card.owner,
        "contact": card.contact,
        "intended_use": card.intended_use,
        "out_of_scope": card.out_of_scope,
        "limitations": card.limitations,
    }
    return _section(
        "intended_use",
        source="the config's card section",
        fields={key: value if value else NOT_STATED for key, value in values.items()},
    )


def _window(window: dict[str, str] | None) -> str:
    if not window:
        return ""
    return f"[{window.get('start', '?')}, {window.get('end', '?')})"


def _training_data(sources: CardSources) -> CardSection:
    version = sources.version
    choice = version.get("training_choice") or {}
    fields_: dict[str, Any] = {
        "window": _window(version.get("training_window")),
        "rows": version.get("training_rows"),
        "label_distribution": (
            dict(sources.label_counts)
            if sources.label_counts is not None
            else "not recorded: the version's reference data could not be read"
        ),
        # The first 16 hex digits of the SHA-256 over pandas' row hashes (fingerprint_frame).
        "training_frame_fingerprint": version.get("data_fingerprint", ""),
        "data_source": version.get("data_source") or "not recorded",
        "origin": version.get("source", ""),
    }
    if choice:
        fields_["training_window_choice"] = choice.get("chosen", "")
        fields_["why"] = choice.get("reason", "")
        change = choice.get("change")
        if change:
            fields_["estimated_change_start"] = change.get("start", "")
    else:
        fields_["training_window_choice"] = "configured span (no choice recorded)"
    return _section(
        "training_data",
        source=f"the lineage of {version['version']} and its reference data",
        fields=fields_,
    )


def _evaluation(sources: CardSources) -> CardSection:
    comparison = sources.comparison
    calibration = _calibration(sources.calibration)
    if comparison is None:
        missing = "no comparison recorded" + (
            f": {sources.version['version']} was promoted before comparisons were linked to "
            "the alias history"
            if sources.event == "rollback"
            else ""
        )
        return _section(
            "evaluation",
            source="the comparison that promoted it",
            fields={"calibration_of_label_free_estimate": calibration},
            missing=missing,
        )
    rules = comparison.rules
    champion, challenger = comparison.champion, comparison.challenger
    fields_: dict[str, Any] = {
        "comparison": comparison.comparison_id,
        "verdict": comparison.verdict,
        "holdout_window": _window(comparison.holdout_window),
        "holdout_rows": comparison.holdout_rows,
        "metric": f"{rules.metric}, {rules.direction}",
        "champion": champion.version if champion else "none (bootstrap: no champion to beat)",
        "champion_score": comparison.champion_score,
        "challenger": challenger.version,
        "challenger_score": challenger.score,
        "worst_acceptable_score": rules.performance_threshold,
        "difference": comparison.difference,
    }
    interval = comparison.interval
    if interval is not None:
        fields_["interval"] = {
            "confidence": interval.confidence,
            "lower": interval.lower,
            "upper": interval.upper,
            "resamples": interval.resamples,
            "seed": interval.seed,
        }
        fields_["required_improvement"] = rules.required_improvement(comparison.champion_score)
    if comparison.mcnemar is not None:
        fields_["mcnemar_p_value"] = comparison.mcnemar.p_value
    if comparison.permutation is not None:
        fields_["permutation_p_value"] = comparison.permutation.p_value
    fields_["reasons"] = list(comparison.reasons)
    fields_["guards"] = [
        {
            "guard": guard.name,
            "champion": guard.champion,
            "challenger": guard.challenger,
            "limit": guard.limit,
            "passed": guard.passed,
        }
        for guard in comparison.guards
    ] or "none judged"
    fields_["slices"] = [
        {
            "slice": f"{check.column}={check.value}",
            "rows": check.rows,
            "champion": check.champion,
            "challenger": check.challenger,
            "regressed": check.regressed,
        }
        for check in comparison.slices
    ] or "none configured"
    fields_["calibration_of_label_free_estimate"] = calibration
    return _section(
        "evaluation",
        source=f"comparison {comparison.comparison_id} and the calibration of "
        f"{sources.version['version']}",
        fields=fields_,
    )


def _calibration(calibration: dict[str, Any] | None) -> Any:
    if calibration is None:
        return "none recorded (a regressor, no predict_proba, or no labelled holdout rows)"
    return {
        "metric": calibration.get("metric"),
        "holdout_score": calibration.get("holdout_score"),
        "holdout_rows": calibration.get("holdout_rows"),
        "classes": [str(label) for label in calibration.get("classes", [])],
    }


def _trigger(sources: CardSources) -> CardSection:
    version, run = sources.version, sources.run
    if sources.event == "rollback":
        entry = sources.alias_entry or {}
        return _section(
            "trigger",
            title="Why it is champion",
            source="the alias history entry of the rollback",
            fields={
                "restored_by": "rollback",
                "rolled_back_from": entry.get("from_version"),
                "reason": entry.get("reason", ""),
                "by": entry.get("actor", ""),
                "at": entry.get("at", ""),
                "first_promoted_at": (sources.promotion_entry or {}).get("at")
                or "not recorded in the alias history",
                "originally_trained_because": version.get("reason", ""),
                "flow_run": run.flow_run_id or "not run by Prefect",
            },
        )
    choice = version.get("training_choice") or {}
    change = choice.get("change") or {}
    fields_: dict[str, Any] = {
        "retrain_reason": version.get("reason", "") or run.reason,
        "request_id": run.request_id
        or (
            "none (inline: the monitor ran retrain and promote)"
            if run.parent_flow_run_id
            else "none (started on its own: by hand or by a schedule)"
        ),
        "promote_flow_run": run.flow_run_id or "not run by Prefect",
        "started_by_flow_run": run.parent_flow_run_id or "none (started on its own)",
        "event_chain": [
            *(["autoretrain.retrain.requested"] if run.request_id else []),
            f"autoretrain.challenger.registered ({version['version']})",
            "autoretrain.model.promoted",
        ],
    }
    if change:
        fields_["breach_streak_runs"] = change.get("streak_runs")
        fields_["streak_first_breached"] = change.get("first_breached", "")
    record = sources.request_record
    if record is not None:
        fields_["monitor_decision"] = record.get("decision", "")
        fields_["monitored_window_end"] = record.get("as_of", "")
        fields_["confirmed_breaches"] = list(record.get("confirmed", [])) or "none"
    elif run.request_id:
        fields_["monitor_decision"] = (
            f"no monitoring history record of request {run.request_id} was found"
        )
    elif sources.event != "bootstrap" and run.parent_flow_run_id:
        fields_["monitor_decision"] = (
            "recorded by the monitor run after this promotion (`autoretrain history`)"
        )
    elif sources.event != "bootstrap":
        fields_["monitor_decision"] = "none: no monitor run asked for this retrain"
    return _section(
        "trigger",
        source=f"the lineage of {version['version']}, the run's parameters"
        + (" and the monitoring history" if record is not None else ""),
        fields=fields_,
    )


def _approval(sources: CardSources) -> CardSection:
    entry = sources.alias_entry
    if entry is None:
        return _section(
            "approval",
            source="the alias history",
            missing="no alias history entry of this change was found",
        )
    comparison = sources.comparison
    fields_: dict[str, Any] = {"alias_changed_at": entry.get("at", ""), "by": entry["actor"]}
    if sources.event == "rollback":
        fields_["approval"] = "a rollback is a person's decision: recorded as its actor"
    elif comparison is not None and comparison.approval is not None:
        approval = comparison.approval
        fields_["approved"] = approval.approved
        fields_["reviewer"] = approval.reviewer
        fields_["decided_at"] = approval.decided_at
        fields_["note"] = approval.note or "no note"
    elif comparison is not None and comparison.rules.approval_required:
        fields_["approval"] = "automatic: the first champion (promotion.approval.bootstrap is off)"
    else:
        fields_["approval"] = "automatic: the gate's verdict (promotion.approval.required is off)"
    fields_["recorded_reason"] = entry.get("reason", "")
    return _section(
        "approval",
        source="the alias history entry"
        + (f" and comparison {comparison.comparison_id}" if comparison else ""),
        fields=fields_,
    )


def _lineage(sources: CardSources) -> CardSection:
    version = sources.version
    known = "not recorded"
    fields_: dict[str, Any] = {
        "code_version": version.get("code_version") or known,
        "git_sha": version.get("git_sha") or known,
        "image": version.get("image") or known,
        "image_digest": version.get("image_digest") or known,
        "uv_lock_sha256": version.get("lock_sha256") or known,
        "model_sha256": version.get("model_sha256", ""),
        "reference_sha256": version.get("reference_sha256") or known,
        **sources.registry_ids,
    }
    return _section(
        "lineage",
        source=f"the lineage of {version['version']} and the registry",
        fields=fields_,
    )


def _monitoring(sources: CardSources) -> CardSection:
    config, version = sources.config, sources.version
    policy = config.policy
    metric = policy.performance_metric
    fields_: dict[str, Any] = {
        "reference": f"its training rows {_window(version.get('training_window'))}, "
        f"{version.get('training_rows')} rows",
        "monitored_window": f"the {_days(config.windows.current)} before each run",
        "metric": f"{metric.describe()}, {metric.direction}",
        "performance_threshold": policy.performance_threshold,
        "severe_performance_threshold": policy.severe_performance_threshold,
        "performance_drop": policy.performance_drop,
        "drift_threshold": policy.drift_threshold,
        "retrain_on_drift": policy.retrain_on_drift,
        "label_free_estimate": "on" if policy.estimated_performance.enabled else "off",
        "cooldown": _days(policy.cooldown),
    }
    return _section(
        "monitoring",
        source="the config in force when the card was written (policy, windows)",
        fields=fields_,
    )


def _days(span: Any) -> str:
    seconds = int(span.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    return f"{seconds}s"


def _undo(sources: CardSources) -> CardSection:
    run = sources.run
    target = sources.rollback_target
    if target is None:
        return _section(
            "undo",
            source="the alias history",
            missing=sources.rollback_refusal or "no earlier champion to roll back to",
        )
    command = (
        f"autoretrain rollback --config {run.config_path} --to {target} "
        '--reason "WHY" --actor "WHO"'
    )
    return _section(
        "undo",
        source="the alias history (the champion before this one)",
        fields={"rollback_target": target, "command": command},
    )
