"""The model registry: versions, aliases, audit history and comparisons, one namespace per model.

`open_registry` opens the backend the config's registry section names: `local.py` (a directory,
the default) or `mlflow_server.py` (an MLflow tracking server, imported only when used; with
`_mlflow_client.py`, the only code that imports MLflow). The private modules hold the parts:

    _types.py       the records (Lineage, ModelVersion, HistoryEntry, RegistryCheck, StoredCard)
    _files.py       digests, fsync, atomic JSON, append-only lines, file locks
    _lock.py        AliasLock, what serialises one model's writers: FileAliasLock (a machine's),
                    AdvisoryAliasLock (PostgreSQL's, every machine's)
    _journal.py     ModelRegistry, the API both backends extend: alias changes, roll-forward,
                    rollback, written once for both
    _layout.py      where the local registry keeps each model (one namespace per model)
    _migration.py   moving a local registry of the layout before namespaces into one
    _mlflow_client.py  the MLflow connection, its errors and autoretrain's names on the server
    _mlflow_monitor_runs.py  each monitor run's reports and summary as an MLflow run
    _factory.py     open_registry, the one place that picks a backend (and its lock)
"""

from tasks.stores.registry._factory import open_registry, shared_alias_lock
from tasks.stores.registry._journal import ModelRegistry
from tasks.stores.registry._layout import list_models, model_directory
from tasks.stores.registry._lock import (
    AdvisoryAliasLock,
    AliasLock,
    FileAliasLock,
    advisory_lock_key,
)
from tasks.stores.registry._mlflow_monitor_runs import MlflowMonitorRuns, MonitorRunRecord
from tasks.stores.registry._types import (
    ALIASES,
    UNCHECKED,
    HistoryEntry,
    JsonDict,
    Lineage,
    ModelVersion,
    RegistryCheck,
    StoredCard,
    Unchecked,
    check_model_name,
)
from tasks.stores.registry.local import STALE_STAGING_SECONDS, LocalRegistry

__all__ = [
    "ALIASES",
    "STALE_STAGING_SECONDS",
    "UNCHECKED",
    "AdvisoryAliasLock",
    "AliasLock",
    "FileAliasLock",
    "HistoryEntry",
    "JsonDict",
    "Lineage",
    "LocalRegistry",
    "MlflowMonitorRuns",
    "ModelRegistry",
    "ModelVersion",
    "MonitorRunRecord",
    "RegistryCheck",
    "StoredCard",
    "Unchecked",
    "advisory_lock_key",
    "check_model_name",
    "list_models",
    "model_directory",
    "open_registry",
    "shared_alias_lock",
]
