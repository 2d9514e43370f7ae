"""Loading config.yaml: validate it, read its secrets, take its relative paths from its file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tasks.config._config import Config
from tasks.config._data import FileSourceConfig
from tasks.config._stores import ReportsConfig
from tasks.errors import ConfigError
from tasks.secrets import BlockReader, SecretValue, read_secret_blocks
from tasks.yaml_files import (
    anchor_sqlite_url,
    format_validation_error,
    read_yaml_file,
    resolve_path,
)

M = TypeVar("M", bound=BaseModel)


def _resolve_reports(reports: ReportsConfig, base: Path) -> ReportsConfig:
    update: dict[str, Any] = {"path": resolve_path(base, reports.path)}
    if reports.workspace is not None and reports.workspace_url is None:
        update["workspace"] = str(resolve_path(base, Path(reports.workspace).expanduser()))
    return reports.model_copy(update=update)


def _anchor_url(url: SecretValue, base: Path) -> SecretValue:
    """A URL read from the config (not a secret block's, read later) with a relative SQLite path
    made absolute from base."""
    if not url.resolved:
        return url
    anchored = anchor_sqlite_url(url.reveal(), base)
    return url if anchored == url.reveal() else url.with_value(anchored)


def _resolve_paths(config: Config, base: Path) -> Config:
    source = config.data.source
    if isinstance(source, FileSourceConfig):
        source = source.model_copy(update={"path": resolve_path(base, source.path)})
    else:
        source = source.model_copy(update={"url": _anchor_url(source.url, base)})
    history = config.history
    if history.url is not None:
        history = history.model_copy(update={"url": _anchor_url(history.url, base)})
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


def validate_file(model: type[M], raw: Any, origin: Path, what: str, reference: str) -> M:
    """A parsed YAML file validated into model; ConfigError naming origin and each key path
    (what names the file in it: "configuration"; reference is the page that lists its keys)."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{origin}: expected a mapping of keys at the top level, got {type(raw).__name__}"
        )
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, origin, what, reference)) from None


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
    config = validate_file(Config, raw, origin, "configuration", "docs/configuration.md")
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
