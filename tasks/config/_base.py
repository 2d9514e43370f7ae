"""What every section of the configuration is made of: strict frozen models and durations."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
