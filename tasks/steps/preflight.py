"""What a command checks before its run starts Prefect: the stores the run will need.

A run started from a terminal pays for a temporary Prefect server (10-30 s) before its first
step. A missing data directory, a column the log lacks, a registry path that cannot be written
or a version that does not exist would fail that run anyway: these checks find them first, in
about a second, and raise the same errors of the project's own. They read; they write nothing
(a registry that does not exist yet is not created).
"""

from __future__ import annotations

import os
from pathlib import Path

from tasks.config import Config, Fleet, SqlSourceConfig, load_config
from tasks.errors import AutoretrainError, ConfigError, RegistryError
from tasks.stores.data import check_source
from tasks.stores.registry import ModelRegistry, open_registry


def check_log(config: Config) -> None:
    """DataError unless data.source can be reached and has every column the config names.

    A URL kept in a Prefect Secret block is read by the run, from its server: not checked here.
    """
    source = config.data.source
    if isinstance(source, SqlSourceConfig) and not source.url.resolved:
        return
    check_source(config.data)


def check_run(config: Config) -> None:
    """Before a monitor or retrain run: the log and a registry it can write."""
    check_log(config)
    check_registry_writable(config)


def check_registry_writable(config: Config) -> None:
    """RegistryError unless the run can write its registry (and the history beside it).

    A local registry that does not exist yet is fine (the first run creates it) when the
    directory it would be created in can be written; an MLflow registry is opened, which
    reaches its server.
    """
    settings = config.registry
    if settings.kind == "mlflow":
        open_registry(settings, config.name)
        return
    path = Path(settings.path)
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise RegistryError(
            f"registry.path {path} is not a directory: {existing} is a file (check registry.path)"
        )
    if existing is None or not os.access(existing, os.W_OK | os.X_OK):
        raise RegistryError(
            f"cannot write the registry at {path}: {existing or path} is not writable by this "
            "user (check registry.path, or its permissions)"
        )


def open_existing_registry(config: Config) -> ModelRegistry:
    """The config's registry; RegistryError, creating nothing, when a local one does not exist."""
    settings = config.registry
    if settings.kind == "local" and not Path(settings.path).is_dir():
        raise RegistryError(
            f"no registry at {settings.path}: run the monitor first (it registers the first "
            "champion), or check registry.path"
        )
    return open_registry(settings, config.name)


def check_challenger(config: Config, version: str | None) -> None:
    """Before a promote run: the log (the holdout), and version (default: the challenger
    alias) is a version of the model."""
    check_log(config)
    registry = open_existing_registry(config)
    if version is not None:
        registry.get_version(version)
    elif registry.get_alias("challenger") is None:
        raise RegistryError("no challenger to promote: run the retrain flow first")


def check_rollback(config: Config, to_version: str | None) -> None:
    """RegistryError unless a rollback to to_version (default: the previous champion) can be
    made: a champion, a version to restore that exists and is not the champion already."""
    open_existing_registry(config).rollback_target(to_version)


def fleet_problems(fleet: Fleet) -> dict[str, AutoretrainError]:
    """The fleet's models that cannot run, by name: an invalid config, or (when the models run
    on this machine: runner dask on a local cluster) a log or registry check_run refuses."""
    local = fleet.config.runner == "dask" and fleet.config.dask_address is None
    problems: dict[str, AutoretrainError] = {}
    for member in fleet.members:
        try:
            if member.error is not None:
                raise ConfigError(member.error)
            config = load_config(member.config_path or member.source)
            if local:
                check_run(config)
        except AutoretrainError as error:
            problems[member.name] = error
    return problems


def check_fleet(fleet: Fleet) -> None:
    """Before a fleet run: the error, naming the models, when none of them could run (one
    broken model among others is its own error row, and the others run)."""
    problems = fleet_problems(fleet)
    if not fleet.members or len(problems) < len(fleet.members):
        return
    by_message: dict[str, list[str]] = {}
    for name, error in problems.items():
        by_message.setdefault(str(error), []).append(name)
    parts = [f"{', '.join(names)}: {message}" for message, names in by_message.items()]
    if len(parts) > 1:  # one problem a line (a config's own lines indented under it)
        indented = ["  " + part.replace("\n", "\n  ") for part in parts]
        parts = [f"no model of fleet {fleet.config.name} can run:\n" + "\n".join(indented)]
    raise type(next(iter(problems.values())))(parts[0])
