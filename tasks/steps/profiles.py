"""A version's reference profile: built at registration, read (or rebuilt) when monitoring."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pandas as pd

from tasks.adapters.modeling import predict_labels
from tasks.config import Config
from tasks.core.profiles import (
    PROFILE_NAME,
    ReferenceProfile,
    build_profile,
    profile_from_bytes,
    profile_to_bytes,
)
from tasks.stores.registry import ModelRegistry

logger = logging.getLogger(__name__)


def profile_reference(config: Config, model: Any, reference: pd.DataFrame) -> ReferenceProfile:
    """The profile drift tests need of reference: its features, the model's predictions on it
    and, for a regressor, its target."""
    data = config.data
    regression = config.policy.performance_metric.is_regression
    return build_profile(
        reference,
        data.numerical_features,
        data.categorical_features,
        predictions=predict_labels(model, reference, data.features) if len(reference) else None,
        numeric_predictions=regression,
        target=data.target_column if regression else None,
    )


def profile_attachment(config: Config, model: Any, reference: pd.DataFrame) -> bytes:
    """The version's drift profile as stored with it (PROFILE_NAME)."""
    return profile_to_bytes(profile_reference(config, model, reference))


def load_profile(
    config: Config, registry: ModelRegistry, version: str, load_model: Callable[[], Any]
) -> ReferenceProfile:
    """The version's stored profile; for a version registered before profiles were stored,
    one built from its whole stored reference (and its model's predictions on it) for this run
    only: register a new version to have it stored."""
    stored = registry.map_attachment(version, PROFILE_NAME)  # read in place, not copied
    if stored is not None:
        return profile_from_bytes(stored)
    logger.info(
        "%s has no stored drift profile (registered before profiles): building it from its "
        "stored reference for this run",
        version,
    )
    return profile_reference(config, load_model(), registry.load_reference(version))
