"""Alerts as code: apply the project's automations file to a Prefect server, with the
notification block a person chose.

The file cannot name a block by itself (an automation holds the block document's id, which
differs per server); it says NOTIFICATION_BLOCK where the chosen block's id goes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.events.schemas.automations import AutomationCore
from prefect.exceptions import ObjectNotFound

from tasks.errors import ConfigError
from tasks.yaml_files import read_yaml_file

logger = logging.getLogger(__name__)

PLACEHOLDER = "NOTIFICATION_BLOCK"
DEFAULT_FILE = "automations.yaml"


def load_automations(path: Path, block_id: UUID) -> list[AutomationCore]:
    """The automations of the file, their notification actions pointed at block_id."""
    raw = read_yaml_file(Path(path), "automations file")
    if not isinstance(raw, dict) or not isinstance(raw.get("automations"), list):
        raise ConfigError(f"{path}: expected a top-level 'automations:' list")
    automations = []
    for spec in raw["automations"]:
        spec = _with_block(spec, str(block_id))
        try:
            automations.append(AutomationCore.model_validate(spec))
        except ValueError as error:
            name = spec.get("name", "?") if isinstance(spec, dict) else "?"
            raise ConfigError(f"{path}: automation '{name}' is invalid: {error}") from None
    return automations


def _with_block(node: Any, block_id: str) -> Any:
    if isinstance(node, dict):
        return {key: _with_block(value, block_id) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_block(value, block_id) for value in node]
    return block_id if node == PLACEHOLDER else node


def resolve_block(reference: str) -> UUID:
    """The id of the notification block `<block-type-slug>/<block-name>` on the server."""
    slug, _, name = reference.partition("/")
    if not slug or not name:
        raise ConfigError(
            f"--block '{reference}': give <block-type-slug>/<block-name>, e.g. "
            "slack-webhook/autoretrain-alerts (list them with `prefect block ls`)"
        )
    with get_client(sync_client=True) as client:
        try:
            document = client.read_block_document_by_name(name, block_type_slug=slug)
        except ObjectNotFound:
            raise ConfigError(
                f"no block '{name}' of type '{slug}' on the server: create it first "
                "(`prefect block create {slug}`, or in the UI under Blocks)"
            ) from None
    return document.id


def apply_automations(path: Path, block_reference: str) -> list[str]:
    """Create the file's automations on the server, replacing those of the same names."""
    automations = load_automations(path, resolve_block(block_reference))
    with get_client(sync_client=True) as client:
        for automation in automations:
            for existing in client.read_automations_by_name(automation.name):
                client.delete_automation(existing.id)
            client.create_automation(automation)
            logger.info("applied automation %s", automation.name)
    return [automation.name for automation in automations]
