"""The YAML files a person writes: config.yaml, the fleet file and its model configs,
automations.yaml. One reader for all of them: UTF-8 checked, a key written twice refused, every
error naming the file, the line and the fix; relative paths in them are taken from the file's
directory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tasks.errors import ConfigError

SAVE_AS_UTF8 = "save it as UTF-8 (in most editors: Save As, encoding UTF-8)"


def read_yaml_file(path: Path, what: str, missing_hint: str = "") -> Any:
    """The parsed YAML of a file (what names it in errors: "config file", "fleet file").

    Raises ConfigError naming the file: missing or unreadable, not UTF-8 (the byte and its
    line), not YAML (the line and column), or a key written twice in one mapping (both lines).
    """
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}{missing_hint}")
    text = _read_text(path, what)
    try:
        return parse_yaml(text)
    except yaml.MarkedYAMLError as error:
        raise ConfigError(f"{path}: {_describe_yaml_error(error)}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def _read_text(path: Path, what: str) -> str:
    """The file's text, which must be UTF-8 (a byte order mark is allowed)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {what} {path}: {error.strerror or error}") from None
    # NUL is valid UTF-8, but in a text file it means UTF-16 (or not a text file at all).
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data:
        raise ConfigError(f"{path}: not UTF-8 text (it looks like UTF-16); {SAVE_AS_UTF8}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {data[error.start]:#04x} on line {line}); {SAVE_AS_UTF8}"
        ) from None


def _describe_yaml_error(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f" on line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = error.problem or error.context or "unreadable"
    context = ""
    if error.context and error.problem and error.context_mark:
        context = f" ({error.context} that starts on line {error.context_mark.line + 1})"
    return (
        f"not valid YAML{where}: {problem}{context}; correct it there (an unclosed bracket or "
        "quote, a tab, or an indent that does not line up with its neighbours)"
    )


def parse_yaml(text: str) -> Any:
    """Parse YAML like yaml.safe_load, refusing a key written twice in one mapping."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_duplicate_keys(node, "", set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_duplicate_keys(node: yaml.Node, where: str, seen: set[int]) -> None:
    """Refuse a key written twice in one mapping, at any depth: YAML lets the later one win."""
    if id(node) in seen:  # an alias to a node already checked
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_duplicate_keys(item, f"{where}[{index}]", seen)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    lines: dict[Any, int] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: its keys may be overridden
            _check_duplicate_keys(value_node, where, seen)
            continue
        key = (key_node.tag, key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
        name = f"{where}.{key_node.value}" if where else str(key_node.value)
        if key is not None and key in lines:
            raise ConfigError(
                f"key '{name}' is written twice (lines {lines[key]} and "
                f"{key_node.start_mark.line + 1}): YAML would silently keep the later one; "
                "delete one of them"
            )
        if key is not None:
            lines[key] = key_node.start_mark.line + 1
        _check_duplicate_keys(value_node, name, seen)


def format_validation_error(error: ValidationError, path: Path, what: str, reference: str) -> str:
    """pydantic's errors as one line per key path: `path: invalid <what>` and `  key: problem`;
    an unknown key points at reference (the page that lists the keys)."""
    lines = [f"{path}: invalid {what}"]
    for item in error.errors():
        location = ".".join(
            str(part) for part in item["loc"] if not str(part).startswith("function-")
        )
        location = location.replace(".files.", ".").replace(".sql.", ".")
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"unknown key (check the spelling; see {reference})"
        elif item["type"] == "missing":
            message = "required key is missing"
        elif item["type"] == "literal_error":
            message = f"{message}, got {item.get('input')!r}"
        elif item["type"] == "model_param" and item.get("ctx", {}).get("param"):
            location = f"{location}.{item['ctx']['param']}"
        named = re.match(r"^([a-z_]+(?:\.[a-z_]+)+): (.*)$", message, re.DOTALL)
        if not location and named:  # a check across sections names the key it is about
            location, message = named.group(1), named.group(2)
        lines.append(f"  {location or '(top level)'}: {message}")
    return "\n".join(lines)


def resolve_path(base: Path, path: Path) -> Path:
    """path, taken from base (the directory of the file that names it) unless absolute."""
    return path if path.is_absolute() else (base / path).resolve()


def anchor_sqlite_url(url: str, base: Path) -> str:
    """A relative SQLite URL (sqlite:///log.db) made absolute from base; any other URL as is."""
    relative = url.removeprefix("sqlite:///")
    is_relative = url.startswith("sqlite:///") and not url.startswith("sqlite:////")
    if not is_relative or relative in ("", ":memory:"):
        return url
    return f"sqlite:///{resolve_path(base, Path(relative))}"
