"""Loading config.yaml: validate it, read its secrets, take its relative paths from its file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tasks.config._config import Config
from tasks.config._data import FileSourceConfig
from tasks.config._stores import ReportsConfig
from tasks.errors import ConfigError
from tasks.secrets import BlockReader, read_secret_blocks
from tasks.yaml_files import (
    anchor_sqlite_url,
    format_validation_error,
    read_yaml_file,
    resolve_path,
)


def _resolve_reports(reports: ReportsConfig, base: Path) -> ReportsConfig:
    update: dict[str, Any] = {"path": resolve_path(base, reports.path)}
    if reports.workspace is not None and reports.workspace_url is None:
        update["workspace"] = str(resolve_path(base, Path(reports.workspace).expanduser()))
    return reports.model_copy(update=update)


def _resolve_paths(config: Config, base: Path) -> Config:
    source = config.data.source
    if isinstance(source, FileSourceConfig):
        source = source.model_copy(update={"path": resolve_path(base, source.path)})
    elif source.url.resolved:
        url = source.url.reveal()
        anchored = anchor_sqlite_url(url, base)
        if anchored != url:
            source = source.model_copy(update={"url": source.url.with_value(anchored)})
    history = config.history
    if history.url is not None and history.url.resolved:
        url = history.url.reveal()
        anchored = anchor_sqlite_url(url, base)
        if anchored != url:
            history = history.model_copy(update={"url": history.url.with_value(anchored)})
    bootstrap = config.bootstrap
    if bootstrap.model_path is not None:
        bootstrap = bootstrap.model_copy(
            update={"model_path": resolve_path(base, bootstrap.model_path)}
        )
    return config.model_copy(
        update={
            "data": config.data.model_copy(update={"source": source}),
            "bootstrap": bootstrap,
            "registry": config.registry.model_copy(
                update={"path": resolve_path(base, config.registry.path)}
            ),
            "reports": _resolve_reports(config.reports, base),
            "history": history,
        }
    )


def parse_config(
    raw: Any,
    base_dir: Path,
    origin: Path | None = None,
    read_secret_block: BlockReader | None = None,
) -> Config:
    """Validate a parsed YAML mapping; relative paths are taken from base_dir.

    ${VARIABLE} references are expanded from the environment here; {secret: name} references
    are read with read_secret_block (the flows pass Prefect's), or left unread without it.
    """
    origin = origin or base_dir / "config.yaml"
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{origin}: expected a mapping of keys at the top level, got {type(raw).__name__}"
        )
    try:
        config = Config.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(
            format_validation_error(error, origin, "configuration", "docs/configuration.md")
        ) from None
    if read_secret_block is not None:
        config = read_secret_blocks(config, read_secret_block, str(origin))
    return _resolve_paths(config, base_dir)


def load_config(path: str | Path, read_secret_block: BlockReader | None = None) -> Config:
    """Read and validate config.yaml; raise ConfigError naming the key path on any problem.

    read_secret_block reads the Prefect Secret blocks the config names (see parse_config).
    """
    path = Path(path).expanduser().resolve()
    raw = read_yaml_file(path, "config file", " (pass --config PATH or create it)")
    return parse_config(raw, path.parent, path, read_secret_block)
