"""Moving a local registry written before namespaces into its model's namespace.

A registry written before namespaces (versions/, aliases.json, history.jsonl, ... at the top of
registry.path) is moved into its model's namespace on first open, under the top-level lock: the
entries are renamed into models/.migrating-<name>/, a "migrate" line is appended to its
history, and the directory is renamed to models/<name>/ (the commit point). A crash in between
leaves models/.migrating-<name>/, which the next open finishes. A top-level registry that holds
versions of more than one model is refused, with the versions of each.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

from tasks.errors import RegistryError
from tasks.stores.registry._files import (
    actor_name,
    append_line,
    drop_partial_line,
    fsync_path,
    lock_file,
    utc_now,
)
from tasks.stores.registry._layout import MODELS_DIRECTORY, VERSION_ID, model_directory
from tasks.stores.registry._types import HistoryEntry, check_model_name

logger = logging.getLogger(__name__)

MIGRATING_PREFIX = ".migrating-"
# What a registry written before namespaces keeps at the top of registry.path.
ROOT_LAYOUT_ENTRIES = ("versions", "comparisons", "requests", "aliases.json", "history.jsonl")


def _root_layout_entries(registry_path: Path) -> list[str]:
    return [name for name in ROOT_LAYOUT_ENTRIES if os.path.lexists(registry_path / name)]


def _interrupted_migrations(registry_path: Path) -> list[Path]:
    models = registry_path / MODELS_DIRECTORY
    if not models.is_dir():
        return []
    return sorted(models.glob(f"{MIGRATING_PREFIX}*"))


def _owner_of_root_layout(registry_path: Path, opener: str) -> str:
    """The one model the top-level versions belong to; RegistryError if they are mixed.

    With no versions at all, the model opening the registry takes what is there.
    """
    owners: dict[str, list[str]] = {}
    unreadable: list[str] = []
    versions = registry_path / "versions"
    directories = sorted(
        (p for p in versions.glob("v[0-9]*") if VERSION_ID.fullmatch(p.name)),
        key=lambda p: int(p.name[1:]),
    )
    for directory in directories:
        try:
            owner = json.loads((directory / "metadata.json").read_text())["model_name"]
        except (OSError, ValueError, KeyError, TypeError):
            unreadable.append(directory.name)
            continue
        owners.setdefault(str(owner), []).append(directory.name)
    if unreadable:
        raise RegistryError(
            f"the registry at {registry_path} keeps its versions at the top (the layout before "
            f"one namespace per model), and the metadata.json of {', '.join(unreadable)} is "
            "unreadable, so it cannot tell which model they belong to; restore those files from "
            "a backup and run again"
        )
    if len(owners) > 1:
        listed = "; ".join(
            f"'{name}': {', '.join(found)}" for name, found in sorted(owners.items())
        )
        aliases = _read_root_aliases(registry_path)
        raise RegistryError(
            f"the registry at {registry_path} mixes versions of {len(owners)} models in one "
            f"directory (they shared registry.path before each model had its own namespace): "
            f"{listed}. Its aliases.json ({aliases}), history.jsonl and comparisons are shared "
            "by them, so autoretrain will not guess whose they are and changes nothing. "
            "To separate them, with no run in progress: for each model NAME, "
            f"`mkdir -p {registry_path}/{MODELS_DIRECTORY}/NAME/versions` and move its versions "
            "listed here into it; move aliases.json, history.jsonl, comparisons/ and requests/ "
            f"into {registry_path}/{MODELS_DIRECTORY}/NAME/ of the model whose version the "
            "champion alias names and remove the lines of the other models' versions from that "
            "history.jsonl; the other models bootstrap a champion of their own on their next "
            "monitor run. Then run `python -m tasks.cli.registry verify --config CONFIG` for "
            "each model's config."
        )
    if not owners:
        return opener
    return check_model_name(next(iter(owners)))


def _read_root_aliases(registry_path: Path) -> str:
    try:
        aliases = json.loads((registry_path / "aliases.json").read_text())
    except (OSError, ValueError):
        return "missing or unreadable"
    if not isinstance(aliases, dict):
        return "unreadable"
    return (
        ", ".join(f"{alias} -> {version}" for alias, version in sorted(aliases.items())) or "empty"
    )


def migrate_root_layout(registry_path: Path, opener: str) -> str | None:
    """Move a registry written before namespaces into its model's namespace; the model's name.

    Nothing to move returns None. Runs under the registry's top-level lock, which writers of
    the layout before namespaces took too; an interrupted move is finished first.
    """
    registry_path = Path(registry_path)
    # Entries move from the top to models/.migrating-<name>/ to models/<name>/: looking in that
    # order, a registry with neither is one whose move (if any) is complete.
    if not _root_layout_entries(registry_path) and not _interrupted_migrations(registry_path):
        return None
    with lock_file(registry_path / ".lock"):
        interrupted = _interrupted_migrations(registry_path)
        if interrupted:
            staging = interrupted[0]
            owner = check_model_name(staging.name.removeprefix(MIGRATING_PREFIX))
            logger.warning("finishing the interrupted move of %s into its namespace", owner)
        elif _root_layout_entries(registry_path):
            owner = _owner_of_root_layout(registry_path, opener)
            target = model_directory(registry_path, owner)
            if target.exists():
                raise RegistryError(
                    f"the registry at {registry_path} holds versions of '{owner}' both at its "
                    f"top (the layout before namespaces) and in {target}; an older autoretrain "
                    f"wrote to it after the move. Move the top-level versions, aliases.json and "
                    f"history.jsonl aside and merge them by hand; {target} is the current one"
                )
            staging = registry_path / MODELS_DIRECTORY / f"{MIGRATING_PREFIX}{owner}"
            staging.parent.mkdir(exist_ok=True)
            staging.mkdir()
            fsync_path(staging.parent)
        else:
            return None
        _finish_migration(registry_path, staging, owner)
        return owner


def _finish_migration(registry_path: Path, staging: Path, owner: str) -> None:
    """Move what is left at the top into staging, record the move, commit it by a rename."""
    for name in ROOT_LAYOUT_ENTRIES:
        source = registry_path / name
        if not os.path.lexists(source):
            continue
        if os.path.lexists(staging / name):
            raise RegistryError(
                f"{source} and {staging / name} both exist: something wrote to the top of the "
                f"registry while it was being moved into {owner}'s namespace; merge them by hand"
            )
        os.rename(source, staging / name)
    fsync_path(staging)
    fsync_path(registry_path)
    history = staging / "history.jsonl"
    drop_partial_line(history)
    lines = history.read_text().splitlines() if history.is_file() else []
    last_action = None
    champion: str | None = None
    for line in lines:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            entry = json.loads(line)
            last_action = entry.get("action")
            if entry.get("alias") == "champion":
                champion = entry.get("to_version")
    if last_action != "migrate":  # a move killed after this line was appended already has it
        append_line(
            history,
            HistoryEntry(
                utc_now(),
                "migrate",
                "champion",
                champion,
                champion,
                f"moved from the top of {registry_path} into {MODELS_DIRECTORY}/{owner}/ "
                "(one namespace per model)",
                actor_name(),
            ),
        )
    for directory in ("versions", "comparisons"):
        (staging / directory).mkdir(exist_ok=True)
    os.rename(staging, model_directory(registry_path, owner))
    fsync_path(staging.parent)
    logger.warning(
        "moved the registry at %s into %s's namespace (%s)",
        registry_path,
        owner,
        model_directory(registry_path, owner),
    )
