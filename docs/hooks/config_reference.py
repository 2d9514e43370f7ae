"""mkdocs hook: render the configuration reference from the pydantic models of tasks/config/.

`docs/configuration.md` holds the prose and a marker line; at build time the marker becomes one
table per top-level key, with every key path, its type, allowed values, default, the value in the
demo `config.yaml` and the field's `description`. A field without a description stops the build,
so the page cannot drift from the code.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tasks.config import Config
from tasks.secrets import SecretValue

MARKER = "<!-- configuration-reference -->"
PAGE = "configuration.md"
ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / "config.yaml"
_UNSET = object()


class MissingDescriptionError(ValueError):
    """A config field has no description: the reference page would have a hole."""


@dataclass(frozen=True)
class KeyRow:
    """One documented key: its dotted path and the columns of its table row."""

    path: str
    type: str
    allowed: str
    default: str
    description: str
    variant: str = ""
    variant_of: tuple[str, str, str] | None = None  # (parent path, discriminator, value)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _union_args(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def format_duration(value: timedelta) -> str:
    """90d, 24h, 60s: the way config.yaml writes durations."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s" if seconds else "0d"


def format_value(value: Any) -> str:
    """A default or demo value as YAML would spell it."""
    if value is _UNSET:
        return ""
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, timedelta):
        return f"`{format_duration(value)}`"
    if isinstance(value, datetime):
        return f"`{value.isoformat(sep=' ')}`"
    if isinstance(value, Path):
        return f"`{value}`"
    if value is None:
        return "`null`"
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    text = text.removesuffix("...").strip()
    return f"`{text}`"


def describe_type(annotation: Any) -> str:
    """A reader's name for a field's type."""
    options = [a for a in _union_args(annotation) if a is not type(None)]
    nullable = len(options) < len(_union_args(annotation))
    names = []
    for option in options:
        origin = typing.get_origin(option)
        if option is SecretValue:
            names.append("string, `${VARIABLE}` or `{secret: block-name}`")
        elif option is timedelta:
            names.append("duration")
        elif option is datetime:
            names.append("date-time")
        elif option is Path:
            names.append("path")
        elif origin is Literal:
            names.append("choice")
        elif origin is list:
            names.append(f"list of {describe_type(typing.get_args(option)[0])}")
        elif origin is dict:
            key, value = typing.get_args(option)
            names.append(f"mapping of {describe_type(key)} to {describe_type(value)}")
        elif _is_model(option):
            names.append("mapping")
        elif option is Any:
            names.append("any")
        else:
            names.append(getattr(option, "__name__", str(option)))
    if nullable:
        names.append("null")
    return " or ".join(dict.fromkeys(names))


def describe_allowed(annotation: Any, info: FieldInfo) -> str:
    """Literal choices, numeric bounds, patterns and duration syntax of a field."""
    parts = []
    for option in _union_args(annotation):
        if typing.get_origin(option) is Literal:
            parts.append(", ".join(f"`{value}`" for value in typing.get_args(option)))
        if option is timedelta:
            parts.append("like `90d`, `12h`, `2w`, `30min`, `45s`")
    symbols = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    for constraint in info.metadata:
        for name, symbol in symbols.items():
            bound = getattr(constraint, name, None)
            if bound is not None:
                parts.append(f"{symbol} {bound}")
        for name, label in (("min_length", "at least"), ("max_length", "at most")):
            length = getattr(constraint, name, None)
            if length is not None:
                parts.append(f"{label} {length} characters")
        pattern = getattr(constraint, "pattern", None)
        if pattern is not None:
            parts.append(f"matches `{pattern}`")
    return "; ".join(parts)


def _lookup(raw: Any, parts: list[str]) -> Any:
    node = raw
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return _UNSET
        node = node[part]
    return node


def walk(
    model: type[BaseModel],
    prefix: str = "",
    defaults: BaseModel | None = None,
    variant_of: tuple[str, str, str] | None = None,
) -> list[KeyRow]:
    """Every key path under model, depth first in declaration order.

    defaults is the parent's default instance: a nested default such as
    `ConfirmationConfig(breaches=2, runs=3)` overrides the nested class's own field defaults.
    """
    rows = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if not info.description:
            raise MissingDescriptionError(
                f"{model.__name__}.{name} ({path}) has no Field(description=...): "
                "the configuration reference is generated from it"
            )
        if defaults is not None:
            default: Any = getattr(defaults, name)
        elif info.is_required():
            default = _UNSET
        else:
            default = info.get_default(call_default_factory=True)
        rows.append(
            KeyRow(
                path=path,
                type=describe_type(info.annotation),
                allowed=describe_allowed(info.annotation, info),
                default="required" if default is _UNSET else format_value(default),
                description=info.description,
                variant=f"{variant_of[1]}: {variant_of[2]}" if variant_of else "",
                variant_of=variant_of,
            )
        )
        nested_default = default if isinstance(default, BaseModel) else None
        for option in _union_args(info.annotation):
            if _is_model(option):
                tag = variant_of
                if info.discriminator:
                    kind = option.model_fields[str(info.discriminator)].annotation
                    tag = (path, str(info.discriminator), str(typing.get_args(kind)[0]))
                usable = nested_default if isinstance(nested_default, option) else None
                rows.extend(walk(option, f"{path}.", usable, tag))
            elif typing.get_origin(option) is dict:
                value_type = typing.get_args(option)[1]
                if _is_model(value_type):
                    rows.extend(walk(value_type, f"{path}.<column>.", None, variant_of))
    return rows


def render_reference(demo_config: Path = DEMO_CONFIG) -> str:
    """The markdown of the reference: one section per top-level key of Config."""
    demo = yaml.safe_load(demo_config.read_text()) if demo_config.is_file() else {}
    rows = walk(Config)
    sections: dict[str, list[KeyRow]] = {}
    for row in rows:
        sections.setdefault(row.path.split(".")[0], []).append(row)
    out = []
    for top, section in sections.items():
        head = section[0]
        out.append(f"## `{top}`\n\n{_prose(head.description)}\n")
        out.append(
            "| key | type | allowed | default | demo `config.yaml` | meaning |\n"
            "|---|---|---|---|---|---|"
        )
        for row in section:
            demo_value = format_value(_lookup(demo, row.path.split(".")))
            if row.variant_of:
                parent, discriminator, value = row.variant_of
                if _lookup(demo, [*parent.split("."), discriminator]) != value:
                    demo_value = ""  # the demo uses another variant
            if row.type == "mapping" and demo_value:
                demo_value = "see below"
            key = f"`{row.path}`" + (f" ({row.variant})" if row.variant else "")
            cells = [key, row.type, row.allowed, row.default, demo_value, row.description]
            out.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        out.append("")
    return "\n".join(out)


def _prose(text: str) -> str:
    """Description text as markdown: outside code spans, <name> stays text, not an HTML tag."""
    parts = text.split("`")
    return "`".join(
        part if index % 2 else part.replace("<", "&lt;").replace(">", "&gt;")
        for index, part in enumerate(parts)
    )


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell: one line, pipes outside code spans escaped."""
    parts = _prose(text.replace("\n", " ")).split("`")
    return "`".join(
        part if index % 2 else part.replace("|", "\\|") for index, part in enumerate(parts)
    )


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """mkdocs event: replace the marker of the configuration page with the generated tables."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        from mkdocs.exceptions import PluginError

        raise PluginError(f"docs/{PAGE} lost its marker line {MARKER}")
    return markdown.replace(MARKER, render_reference())
