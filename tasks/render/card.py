"""The model card as Markdown: one page per champion, its values as their records hold them."""

from __future__ import annotations

from typing import Any

from tasks.core.card import CardSection, ModelCard
from tasks.core.numbers import format_number


def render_card_markdown(card: ModelCard) -> str:
    """The card as Markdown: a heading per section, the record it comes from, its values."""
    lines = [
        f"# Model card: {card.model_name} {card.version}",
        "",
        card.summary,
        "",
        f"Written at the {card.event} of {card.version}, {card.written_at}.",
    ]
    for section in card.sections:
        lines += ["", *_section(section)]
    return "\n".join(lines) + "\n"


def _section(section: CardSection) -> list[str]:
    lines = [f"## {section.title}", "", f"*Source: {section.source}.*", ""]
    if section.missing:
        lines.append(f"**Not available:** {section.missing}.")
    tables: list[tuple[str, list[dict[str, Any]]]] = []
    for key, value in section.fields.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.append((key, value))
        elif isinstance(value, list):
            lines.append(f"- **{_label(key)}**:")
            lines += [f"    - {_value(item)}" for item in value] or ["    - none"]
        else:
            lines.append(f"- **{_label(key)}**: {_value(value)}")
    for key, rows in tables:
        lines += ["", f"{_label(key).capitalize()}:", "", *_table(rows)]
    return lines


def _label(key: str) -> str:
    return key.replace("_", " ")


def _value(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format_number(value, "general")
    if isinstance(value, dict):
        if not value:
            return "none"
        return ", ".join(f"{key}: {_value(item)}" for key, item in value.items())
    if isinstance(value, str) and value.startswith("autoretrain "):
        return f"`{value}`"
    return str(value)


def _table(rows: list[dict[str, Any]]) -> list[str]:
    columns = list(rows[0])
    return [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(_value(row.get(column)) for column in columns) + " |" for row in rows),
    ]
