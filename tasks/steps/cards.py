"""Writing a champion's model card: gathering the records it is built from, storing it with the
version."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from tasks.config import Config
from tasks.core.card import (
    CardEvent,
    CardSources,
    ModelCard,
    RunContext,
    build_model_card,
    promoting_comparison_id,
)
from tasks.core.gate import Comparison
from tasks.errors import AutoretrainError
from tasks.steps.logs import step_logger
from tasks.stores.history import MonitoringHistory
from tasks.stores.registry import HistoryEntry, ModelRegistry, StoredCard
from tasks.stores.resources import Stores


def gather_card_sources(
    config: Config,
    registry: ModelRegistry,
    history: MonitoringHistory | None,
    version: str,
    event: CardEvent,
    run: RunContext,
    comparison_id: str | None = None,
) -> CardSources:
    """The records the card of version is built from, each read as saved; None where missing.

    Args:
        comparison_id: the comparison that promoted the version (default: the one the alias
            history entry of its last promotion names).
    """
    record = registry.get_version(version)
    entries = registry.history()
    alias_entry = _last(entries, version)
    promotion_entry = _last(entries, version, action="promote")
    if comparison_id is None and promotion_entry is not None:
        comparison_id = promoting_comparison_id(promotion_entry.reason)
    comparison = None
    if comparison_id is not None:
        try:
            comparison = Comparison.from_dict(registry.load_comparison(comparison_id))
        except AutoretrainError as error:
            step_logger(__name__).warning("model card of %s: %s", version, error)
    target, refusal = None, ""
    try:
        target = registry.rollback_target()[1]
    except AutoretrainError as error:
        refusal = str(error)
    return CardSources(
        config=config,
        event=event,
        written_at=f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC",
        version=record.to_dict(),
        alias_entry=_as_dict(alias_entry),
        promotion_entry=_as_dict(promotion_entry),
        run=run,
        comparison=comparison,
        label_counts=_label_counts(config, registry, version),
        calibration=_or_none(lambda: registry.load_calibration(version)),
        request_record=_request_record(config, history, run.request_id),
        rollback_target=target,
        rollback_refusal=refusal,
        registry_ids=registry.version_ids(version),
    )


def write_model_card(
    config: Config,
    stores: Stores,
    version: str,
    event: CardEvent,
    run: RunContext,
    render: Callable[[ModelCard], str],
    comparison_id: str | None = None,
) -> StoredCard | None:
    """Build the card of version (the champion now) from its records and store it with the
    version; None, with the problem logged, when it cannot be written: the card describes the
    change, it never undoes it."""
    logger = step_logger(__name__)
    try:
        # The history is read only for a request's record: a run without one never opens it.
        history = stores.history if run.request_id else None
        sources = gather_card_sources(
            config, stores.registry, history, version, event, run, comparison_id
        )
        card = build_model_card(sources)
        stored = stores.registry.save_card(version, render(card), card.to_dict())
    except AutoretrainError as error:
        logger.error("the model card of %s was not written: %s", version, error)
        return None
    logger.info("model card of %s: %s", version, stored.location)
    return stored


def _last(
    entries: list[HistoryEntry], version: str, action: str | None = None
) -> HistoryEntry | None:
    """The last change of the champion alias to version (of that action, when given)."""
    for entry in reversed(entries):
        moved_to = entry.alias == "champion" and entry.to_version == version
        if moved_to and (action is None or entry.action == action):
            return entry
    return None


def _as_dict(entry: HistoryEntry | None) -> dict[str, Any] | None:
    return None if entry is None else asdict(entry)


def _or_none(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except AutoretrainError as error:
        step_logger(__name__).warning("model card: %s", error)
        return None


def _label_counts(config: Config, registry: ModelRegistry, version: str) -> dict[str, int] | None:
    """The labels of the version's training rows (its reference data), by label."""
    reference = _or_none(lambda: registry.load_reference(version))
    target = config.data.target_column
    if reference is None or target not in reference.columns:
        return None
    counts = reference[target].value_counts(dropna=False)
    return {str(label): int(count) for label, count in sorted(counts.items(), key=_by_label)}


def _by_label(item: tuple[Any, int]) -> str:
    return str(item[0])


def _request_record(
    config: Config, history: MonitoringHistory | None, request_id: str | None
) -> dict[str, Any] | None:
    """The monitoring history's record of the monitor run that requested the retrain."""
    if history is None or not request_id:
        return None
    try:
        rows = history.rows(config.name)
    except AutoretrainError as error:
        step_logger(__name__).warning("model card: %s", error)
        return None
    for row in reversed(rows):
        if row.get("request_id") == request_id:
            try:
                details = json.loads(row.get("details") or "{}")
            except ValueError:
                details = {}
            return {
                "as_of": str(row.get("as_of", "")),
                "decision": row.get("decision", ""),
                "status": row.get("status", ""),
                "confirmed": details.get("confirmed", []) if isinstance(details, dict) else [],
            }
    return None
