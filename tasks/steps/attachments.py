"""What a version keeps beside its model and reference: the attachments built at registration.

Each part of the loop that needs something computed once per version (a profile of its
reference, an error model, ...) adds a builder to BUILDERS under the attachment's name. A
builder gets what registration has (the config, the fitted model, the reference frame as stored,
the holdout's labelled rows or None) and returns the file's bytes, or None when it has nothing
for this version (a regressor has no calibration, say). The registry stores each with its
SHA-256 (`ModelRegistry.load_attachment(version, name)` reads it back, checked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tasks.config import Config
from tasks.steps.quality import QUALITY_ATTACHMENT, quality_attachment


@dataclass(frozen=True)
class Registration:
    """What a builder may use: the model being registered and the rows it comes with."""

    config: Config
    model: Any
    # The reference data stored with the version (reference_frame of the training rows).
    reference: pd.DataFrame
    # The labelled rows of the holdout it is calibrated and judged on; None without a holdout.
    holdout: pd.DataFrame | None


Builder = Callable[[Registration], bytes | None]

# name -> builder; names follow the registry's rule (lower-case, digits, '.', '_', '-').
BUILDERS: dict[str, Builder] = {
    QUALITY_ATTACHMENT: lambda r: quality_attachment(r.config, r.reference),
}


def version_attachments(registration: Registration) -> dict[str, bytes]:
    """Every builder's file for this version (those that returned None left out)."""
    built = {name: build(registration) for name, build in BUILDERS.items()}
    return {name: content for name, content in built.items() if content is not None}
