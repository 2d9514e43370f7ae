"""Reasons in tests: assert a reason's code and numbers, not its sentence.

The sentences are checked once, against saved ones, in tests/core/test_reasons.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tasks.core.reasons import Reason


def params_of(reasons: Iterable[Reason], code: str, **where: Any) -> dict[str, Any]:
    """The numbers of the one reason with this code (and these params, e.g. signal="drift" for
    a confirmation); fails when there is none, or several."""
    given = list(reasons)
    found = [
        item
        for item in given
        if item.code == code and all(item.params.get(k) == v for k, v in where.items())
    ]
    assert len(found) == 1, f"{len(found)} reasons {code} {where} in {[r.code for r in given]}"
    return found[0].params
