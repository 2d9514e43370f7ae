"""The one place that picks a registry backend: the config's registry section decides."""

from __future__ import annotations

from pathlib import Path

from tasks.config import HistoryConfig, RegistryConfig
from tasks.errors import RegistryError
from tasks.secrets import mask_url_password
from tasks.stores.registry._journal import ModelRegistry
from tasks.stores.registry._lock import AdvisoryAliasLock, AliasLock
from tasks.stores.registry.local import LocalRegistry


def shared_alias_lock(history: HistoryConfig | None, model_name: str) -> AliasLock | None:
    """The advisory lock on the history's PostgreSQL database, when history.url names one;
    None otherwise (the backend's file lock, this machine's)."""
    url = history.url if history is not None else None
    if url is None:
        return None
    # reveal(): an unread {secret: name} fails loudly here, as the history would.
    if url.reveal().split(":", 1)[0].split("+", 1)[0] != "postgresql":
        return None
    where = (
        f"history.url (from {url.origin})"
        if url.from_reference
        else mask_url_password(url.reveal())
    )
    return AdvisoryAliasLock(url, model_name, where)


def open_registry(
    settings: RegistryConfig | Path,
    model_name: str,
    *,
    lock: AliasLock | None = None,
    history: HistoryConfig | None = None,
) -> ModelRegistry:
    """The registry the config's registry section points at (a bare path: a local one).

    lock serialises the model's writers (alias changes); default: with an MLflow registry and
    history.url on PostgreSQL, an advisory lock there (every machine's writers); else the
    backend's file lock (this machine's).
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
        lock = lock or shared_alias_lock(history, model_name)
        return MlflowRegistry(settings.path, model_name, settings.tracking_uri, lock)
    return LocalRegistry(settings.path, model_name, lock)
