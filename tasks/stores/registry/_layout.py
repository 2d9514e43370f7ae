"""Where the local registry keeps each model: one namespace (directory) per model."""

from __future__ import annotations

import re
from pathlib import Path

from tasks.stores.registry._types import MODEL_NAME, check_model_name

VERSION_ID = re.compile(r"v\d{4,}")
MODELS_DIRECTORY = "models"


def model_directory(registry_path: Path, model_name: str) -> Path:
    """Where the registry at registry_path keeps model_name's versions, aliases and history."""
    return Path(registry_path) / MODELS_DIRECTORY / check_model_name(model_name)


def list_models(registry_path: Path) -> list[str]:
    """The models that have a namespace in the registry at registry_path, by name."""
    models = Path(registry_path) / MODELS_DIRECTORY
    if not models.is_dir():
        return []
    return sorted(p.name for p in models.iterdir() if p.is_dir() and MODEL_NAME.fullmatch(p.name))
