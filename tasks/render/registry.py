"""The registry as text: its versions and its alias history, for the registry CLI."""

from __future__ import annotations

from tasks.render.reporting import describe_provenance
from tasks.stores.registry import ModelRegistry


def render_versions(registry: ModelRegistry) -> str:
    """The versions as a table: status, aliases, lineage, and under each where it was made
    (image, git commit, the lock's hash); what to pick a rollback target from."""
    aliases: dict[str, list[str]] = {}
    for alias in ("champion", "challenger"):
        version = registry.get_alias(alias)
        if version is not None:
            aliases.setdefault(version, []).append(alias)
    lines = [
        f"{'version':<8} {'status':<11} {'alias':<11} {'created (UTC)':<16} "
        f"{'trained on':<24} {'rows':>7}  reason"
    ]
    for record in registry.list_versions():
        window = record.training_window
        trained = f"{window.get('start', '?')[:10]} .. {window.get('end', '?')[:10]}"
        lines.append(
            f"{record.version:<8} {record.status:<11} {','.join(aliases.get(record.version, [])):<11} "
            f"{record.created_at[:16].replace('T', ' '):<16} {trained:<24} "
            f"{record.training_rows:>7}  {record.reason}"
        )
        lines.append(f"{'':<8} made in: {describe_provenance(record.provenance)}")
    if len(lines) == 1:
        lines.append("(no versions yet)")
    return "\n".join(lines)


def render_history(registry: ModelRegistry, last: int | None = None) -> str:
    """Every alias change, oldest first: when, what, who, why."""
    entries = registry.history()
    if last is not None:
        entries = entries[-last:]
    lines = [f"{'at (UTC)':<19} {'action':<11} {'alias':<10} {'change':<16} {'actor':<12} reason"]
    for entry in entries:
        change = f"{entry.from_version or '-'} -> {entry.to_version or '-'}"
        lines.append(
            f"{entry.at[:19].replace('T', ' '):<19} {entry.action:<11} {entry.alias:<10} "
            f"{change:<16} {entry.actor:<12} {entry.reason}"
        )
    if len(lines) == 1:
        lines.append("(no alias changes yet)")
    return "\n".join(lines)


def render_models(registries: list[ModelRegistry]) -> str:
    """The versions of every model in a registry, one table per model."""
    if not registries:
        return "(no models yet)"
    return "\n\n".join(
        f"model {registry.model_name}\n{render_versions(registry)}" for registry in registries
    )
