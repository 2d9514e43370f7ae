"""What every section of the configuration is made of: strict frozen models and durations."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from tasks.secrets import SecretValue

_DURATION = re.compile(r"^\s*(\d+)\s*(s|min|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: Any) -> Any:
    """Turn '90d', '12h', '2w' or '30min' into a timedelta; leave other values to pydantic."""
    if isinstance(value, str) and not value.strip().upper().startswith("P"):  # P...: ISO 8601
        match = _DURATION.match(value)
        if not match:
            raise ValueError(
                f"'{value}' is not a duration: write it like 90d, 12h, 2w, 30min or 45s"
            )
        return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _at_least_one_second(value: timedelta) -> timedelta:
    if value < timedelta(seconds=1):
        raise ValueError("must be at least 1s")
    return value


# A timeout: no shorter than a second.
Timeout = Annotated[Duration, AfterValidator(_at_least_one_second)]


def refuse_plain_text_password(url: SecretValue) -> None:
    """Raise ValueError when a URL written in config.yaml itself carries a password."""
    if not url.from_reference and url.holds_url_password():
        raise ValueError(
            "holds a password in plain text, and config.yaml is committed and deployed: "
            "give the URL as ${VARIABLE} (an environment variable) or as "
            "{secret: block-name} (a Prefect Secret block)"
        )


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def section(model: type[Strict], description: str) -> Any:
    """A section that config.yaml may leave out: it then takes every default of its model."""
    return Field(default=model(), description=description)
