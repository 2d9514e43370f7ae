"""The one number formatter of every summary, table and artifact."""

from __future__ import annotations

import math
from typing import Literal

NumberStyle = Literal["score", "general"]


def format_number(value: float | None, style: NumberStyle = "score", missing: str = "n/a") -> str:
    """A number as people read it: 'score' is three decimals (metrics, shares), 'general' four
    significant digits (limits, p-values). Tiny non-zero values switch to scientific notation,
    so a p-value of 1.3e-11 never reads as 0.000."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    if style == "score":
        if value != 0 and abs(value) < 0.0005:
            return f"{value:.2e}"
        return f"{value:.3f}"
    return f"{value:.4g}"
