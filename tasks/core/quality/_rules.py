"""What fails a check: the tolerances of the data_quality section of the config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

from tasks.config import (
    DEFAULT_MIN_RECENT_WINDOWS,
    DEFAULT_MIN_ROWS,
    DEFAULT_TOLERANCES,
    CheckName,
    DataQualityConfig,
)


@dataclass(frozen=True)
class QualityRules:
    """What fails a check: the tolerance of each check, per column where the config overrides it.

    A tolerance of None switches that check off (for the window, or for one column).
    """

    tolerances: Mapping[CheckName, float | None] = field(
        default_factory=lambda: dict(DEFAULT_TOLERANCES)
    )
    columns: Mapping[str, Mapping[CheckName, float | None]] = field(default_factory=dict)
    min_rows: int = DEFAULT_MIN_ROWS
    min_recent_windows: int = DEFAULT_MIN_RECENT_WINDOWS
    action: Literal["block", "warn"] = "block"

    def tolerance(self, check: CheckName, column: str | None = None) -> float | None:
        """The tolerance of check (for column when given); None: the check is off."""
        if column is not None and check in self.columns.get(column, {}):
            return self.columns[column][check]
        return self.tolerances.get(check, DEFAULT_TOLERANCES[check])


def quality_rules(config: DataQualityConfig) -> QualityRules:
    """The rules of the data_quality section of the config."""
    return QualityRules(
        tolerances=config.tolerances.as_mapping(),
        columns={
            column: {cast(CheckName, check): tolerance for check, tolerance in checks.items()}
            for column, checks in config.columns.items()
        },
        min_rows=config.min_rows,
        min_recent_windows=config.min_recent_windows,
        action=config.action,
    )
