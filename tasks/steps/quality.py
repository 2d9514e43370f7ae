"""The data-quality gate's steps: the reference's profile kept with a version, a window checked.

The profile is built at registration and stored with the version as the attachment
`quality.json`; a version registered before it existed has none, and its profile is computed
from its stored reference instead (the report says so in a note).
"""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd

from tasks.config import Config
from tasks.core.quality import (
    QualityProfile,
    QualityReport,
    check_quality,
    profile_reference,
    quality_rules,
)
from tasks.errors import DataError
from tasks.steps.logs import step_logger
from tasks.stores.registry import ModelRegistry
from tasks.stores.resources import Stores

QUALITY_ATTACHMENT = "quality.json"
# The recent windows whose median row count the window's rows are compared with.
RECENT_WINDOWS = 5


def build_profile(config: Config, reference: pd.DataFrame) -> QualityProfile:
    """The quality profile of a reference frame under the config's columns."""
    data = config.data
    return profile_reference(
        reference,
        data.numerical_features,
        data.categorical_features,
        duplicate_columns=[data.timestamp_column, *data.features],
    )


def quality_attachment(config: Config, reference: pd.DataFrame) -> bytes:
    """quality.json of a version being registered: its reference's profile as JSON."""
    profile = build_profile(config, reference)
    return json.dumps(profile.to_dict(), sort_keys=True).encode("utf-8")


def load_profile(
    config: Config, registry: ModelRegistry, version: str
) -> tuple[QualityProfile, str | None]:
    """The version's quality profile and a note when it had to be computed (no quality.json:
    a version registered before the data-quality gate existed)."""
    stored = registry.load_attachment(version, QUALITY_ATTACHMENT)
    if stored is not None:
        return QualityProfile.from_dict(json.loads(stored)), None
    reference = registry.load_reference(version)
    note = (
        f"version {version} was registered without {QUALITY_ATTACHMENT}: its quality profile "
        f"was computed from its stored reference ({len(reference):,} rows)"
    )
    step_logger(__name__).info("%s", note)
    return build_profile(config, reference), note


def check_frame_quality(
    config: Config,
    registry: ModelRegistry,
    version: str,
    frame: pd.DataFrame,
    recent_row_counts: list[int] | None = None,
) -> QualityReport | None:
    """Check frame against the version's reference; None when data_quality is off."""
    if not config.data_quality.enabled:
        return None
    profile, note = load_profile(config, registry, version)
    return check_quality(
        profile,
        frame,
        quality_rules(config.data_quality),
        recent_row_counts or [],
        notes=[note] if note else [],
    )


def check_window_quality(
    config: Config, stores: Stores, version: str, window: pd.DataFrame, as_of: datetime
) -> QualityReport | None:
    """Check a monitored window against the champion's reference, its row count against the
    recent windows of the monitoring history; None when data_quality is off."""
    if not config.data_quality.enabled:
        return None
    history = stores.written_history()
    recent = history.recent(config.name, as_of, RECENT_WINDOWS) if history is not None else []
    counts = [run.current_rows for run in recent if run.current_rows]
    report = check_frame_quality(config, stores.registry, version, window, counts)
    if report is not None and report.failed:
        step_logger(__name__).warning("%s: %s", config.name, report.summary())
    return report


def numbers_for_model(
    config: Config, frame: pd.DataFrame, report: QualityReport | None, where: str
) -> pd.DataFrame:
    """frame with every numerical feature as numbers, for the champion and the drift tests.

    A numerical feature that arrived holding text (load_window's keep_text_features) is
    converted, text that is no number becoming missing, when the data-quality type check failed
    it and the report blocks: the window is a data issue, the column is not drift-tested and
    the champion only shows what it would predict. Otherwise (the checks off, the type check
    off for the column, or data_quality.action warn) the run cannot go on: a DataError naming
    the column and the fix.
    """
    text = [
        column
        for column in config.data.numerical_features
        if not pd.api.types.is_numeric_dtype(frame[column]) and frame[column].notna().any()
    ]
    if not text:
        return frame
    failed = (
        {finding.column for finding in report.failures if finding.check == "dtype"}
        if report is not None and report.blocks
        else set()
    )
    for column in text:
        if column not in failed:
            raise DataError(_text_feature_message(config, frame[column], report, where))
    frame = frame.copy()
    for column in text:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def _text_feature_message(
    config: Config, values: pd.Series, report: QualityReport | None, where: str
) -> str:
    numbers = pd.to_numeric(values, errors="coerce")
    text = values[numbers.isna() & values.notna()]
    column = str(values.name)
    problem = (
        f"numerical feature '{column}' in {where} holds non-numbers such as {text.iloc[0]!r} "
        f"({len(text):,} of {len(values):,} values)"
    )
    if report is not None and report.action == "warn":
        return (
            f"{problem}; data_quality.action is warn, so the champion would have to predict on "
            "it: fix the data, set data_quality.action: block to record the window as a data "
            "issue instead, or list the column under categorical_features"
        )
    return (
        f"{problem}; fix the data, list the column under categorical_features, or turn the "
        "data-quality type check on (data_quality.enabled, data_quality.tolerances.dtype) to "
        "record the window as a data issue instead"
    )
