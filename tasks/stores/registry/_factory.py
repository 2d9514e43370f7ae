"""The one place that picks a registry backend: the config's registry section decides."""

from __future__ import annotations

from pathlib import Path

from tasks.config import RegistryConfig
from tasks.errors import RegistryError
from tasks.stores.registry._lock import AliasLock
from tasks.stores.registry._types import ModelRegistry
from tasks.stores.registry.local import LocalRegistry


def open_registry(
    settings: RegistryConfig | Path, model_name: str, *, lock: AliasLock | None = None
) -> ModelRegistry:
    """The registry the config's registry section points at (a bare path: a local one).

    lock serialises the model's writers (alias changes); default: the backend's file lock.
    """
    if isinstance(settings, Path):
        return LocalRegistry(settings, model_name, lock)
    if settings.kind == "mlflow":
        try:
            from tasks.stores.registry.mlflow_server import MlflowRegistry
        except ImportError as error:
            raise RegistryError(
                f"registry.kind mlflow needs the MLflow client ({error}): install it with "
                "`pip install .[mlflow]`"
            ) from None
        if not settings.tracking_uri:
            raise RegistryError("registry.kind mlflow needs registry.tracking_uri")
        return MlflowRegistry(settings.path, model_name, settings.tracking_uri, lock)
    return LocalRegistry(settings.path, model_name, lock)
