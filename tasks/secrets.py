"""Credentials in the config: written as ${ENV_VAR} or {secret: block-name}, never shown.

A `SecretValue` field holds a string that may carry a credential (a database URL, a token).
config.yaml gives it as plain text (without a password), as text with ${NAME} references to
environment variables (expanded when the config loads; `$$` is a literal dollar; nothing else is
evaluated), or as `{secret: block-name}`, a Prefect Secret block that the flow reads at run time.
Its str, repr and JSON are a mask; only `reveal()` returns the value, for the one call that
connects, and `redact()` masks it in text that came back from a library (an error message).
Nothing here talks to Prefect: the flows pass in the function that reads a block.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from tasks.errors import ConfigError

MASK = "**********"
# ${NAME} (a variable), $$ (a literal dollar), or any other `$`, which is refused.
_DOLLAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\$|\$")
# Prefect's rule for block document names.
_BLOCK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _url_password(text: str) -> str | None:
    try:
        return urlsplit(text).password
    except ValueError:  # not a URL (e.g. a bad port): there is no password to find
        return None


def mask_url_password(url: str) -> str:
    """The URL with the password of its user:password@ part masked, for messages; any other
    text as it is."""
    password = _url_password(url)
    if not password:
        return url
    parts = urlsplit(url)
    userinfo, host = parts.netloc.rsplit("@", 1)
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def redact_url_password(text: str, url: str) -> str:
    """text with the URL's password masked wherever it occurs (a library's error message may
    quote the URL, or the password alone, percent-encoded or not)."""
    password = _url_password(url)
    if not password:
        return text
    text = text.replace(url, mask_url_password(url))
    for fragment in sorted({password, unquote(password)}, key=len, reverse=True):
        text = text.replace(fragment, MASK)
    return text


class SecretBlockError(LookupError):
    """A Prefect Secret block the config names is missing or holds no text (from a block reader)."""


def expand_environment(text: str, environ: dict[str, str]) -> tuple[str, list[str]]:
    """Replace ${NAME} by environ[NAME] and $$ by $; return the text and the names used.

    Raise ValueError for an unset variable and for any other `$` (no $NAME, no ${NAME:-default},
    no $(command)): the text is never given to a shell.
    """
    names: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            if match.group(0) == "$$":
                return "$"
            raise ValueError(
                f"'$' at position {match.start()} is neither ${{VARIABLE}} nor $$: write "
                "${NAME} for an environment variable and $$ for a literal dollar (no shell "
                "syntax such as $NAME, ${NAME:-default} or $(command) is evaluated)"
            )
        if name not in environ:
            raise ValueError(
                f"environment variable {name} is not set: export it where the flow runs "
                "(the worker's environment for a deployment)"
            )
        names.append(name)
        return environ[name]

    return _DOLLAR.sub(substitute, text), names


class SecretValue:
    """A string that may hold a credential: str, repr and JSON show only a mask."""

    __slots__ = ("_value", "block", "variables")

    def __init__(
        self, value: str | None, *, variables: tuple[str, ...] = (), block: str | None = None
    ) -> None:
        if value is None and block is None:
            raise ValueError("a SecretValue needs a value or a block name")
        self._value = value
        self.variables = variables  # the environment variables it was expanded from
        self.block = block  # the Prefect Secret block it is read from

    @property
    def origin(self) -> str:
        """Where the value comes from, safe to show: 'config.yaml', '$NAME' or a block."""
        if self.block is not None:
            return f"Prefect Secret block '{self.block}'"
        if self.variables:
            return ", ".join(f"${name}" for name in self.variables)
        return "config.yaml"

    @property
    def from_reference(self) -> bool:
        """Whether the value came from outside config.yaml (environment or Secret block)."""
        return self.block is not None or bool(self.variables)

    @property
    def resolved(self) -> bool:
        return self._value is not None

    def reveal(self) -> str:
        """The value itself: pass it straight to the library that connects, never to text."""
        if self._value is None:
            raise ConfigError(
                f"{self.origin} has not been read: load the config with a Secret block reader "
                "(the flows do), or use ${VARIABLE} instead"
            )
        return self._value

    def with_value(self, value: str) -> SecretValue:
        """The same reference with its value read (a block) or rewritten (a resolved path)."""
        return SecretValue(value, variables=self.variables, block=self.block)

    def holds_url_password(self) -> bool:
        """Whether the value is a URL with a password (user:password@host)."""
        return bool(self._value is not None and _url_password(self._value))

    def fragments(self) -> list[str]:
        """The value and the parts of it that must never be shown, longest first."""
        if self._value is None:
            return []
        parts = {self._value}
        password = _url_password(self._value)
        if password:
            parts.update({password, unquote(password)})
        return sorted((p for p in parts if p), key=len, reverse=True)

    def redact(self, text: str) -> str:
        """text with every occurrence of the value (and of a URL's password) masked."""
        for fragment in self.fragments():
            text = text.replace(fragment, MASK)
        return text

    def __repr__(self) -> str:
        return f"SecretValue('{MASK}', from {self.origin})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return (self._value, self.block, self.variables) == (
            other._value,
            other.block,
            other.variables,
        )

    def __hash__(self) -> int:
        return hash((self._value, self.block, self.variables))

    @classmethod
    def parse(cls, raw: Any, environ: dict[str, str]) -> SecretValue:
        """A config value: text (with ${NAME} expanded from environ) or {secret: block-name}."""
        if isinstance(raw, SecretValue):
            return raw
        if isinstance(raw, dict):
            if set(raw) != {"secret"}:
                raise ValueError(
                    "a secret reference is {secret: block-name} (a Prefect Secret block), "
                    f"with no other keys; got keys {sorted(map(str, raw))}"
                )
            name = raw["secret"]
            if not isinstance(name, str) or not _BLOCK_NAME.match(name):
                raise ValueError(
                    f"{name!r} is not a Prefect block name (lowercase letters, digits and dashes, "
                    "e.g. warehouse-url)"
                )
            return cls(None, block=name)
        if not isinstance(raw, str):
            raise ValueError(
                "expected text, text with ${VARIABLE} references, or {secret: block-name}, "
                f"not {type(raw).__name__}"
            )
        value, names = expand_environment(raw, environ)
        return cls(value, variables=tuple(dict.fromkeys(names)))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            lambda raw: cls.parse(raw, dict(os.environ)),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: str(value), when_used="json"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [
                {"type": "string", "description": "Text; ${NAME} is an environment variable."},
                {
                    "type": "object",
                    "properties": {"secret": {"type": "string"}},
                    "required": ["secret"],
                    "additionalProperties": False,
                    "description": "A Prefect Secret block, read at run time.",
                },
            ]
        }


BlockReader = Callable[[str], str]
Model = TypeVar("Model", bound=BaseModel)


def read_secret_blocks(model: Model, read_block: BlockReader, origin: str) -> Model:
    """model with the value of every {secret: name} field read by read_block.

    A missing block is a ConfigError naming the key path and the block.
    """
    return _read_blocks(model, read_block, origin, ())


def _read_blocks(
    model: Model, read_block: BlockReader, origin: str, path: tuple[str, ...]
) -> Model:
    updates: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        key_path = (*path, name)
        if isinstance(value, SecretValue) and value.block is not None and not value.resolved:
            try:
                updates[name] = value.with_value(read_block(value.block))
            except SecretBlockError as error:
                raise ConfigError(
                    f"{origin}: {'.'.join(key_path)}: {error}; create it with "
                    f"`prefect block create secret` or Secret(value=...).save('{value.block}')"
                ) from None
        elif isinstance(value, BaseModel):
            read = _read_blocks(value, read_block, origin, key_path)
            if read is not value:
                updates[name] = read
    return model.model_copy(update=updates) if updates else model
