"""The fleet file: which model configs one run monitors, the defaults they share, and how the work
is spread. Loaded into pydantic models like config.yaml; each model's config is validated on its
own, so one broken config becomes one error row instead of stopping the fleet."""

from __future__ import annotations

import copy
import glob
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field

from tasks.config._base import Strict, Timeout
from tasks.config._config import Config
from tasks.config._data import SqlSourceConfig
from tasks.config._loading import parse_config, validate_file
from tasks.config._stores import is_service_url
from tasks.errors import ConfigError
from tasks.yaml_files import (
    anchor_sqlite_url,
    read_yaml_file,
    resolve_path,
)

_GLOB_CHARACTERS = set("*?[")
# Keys of config.yaml that hold paths: in `defaults` they are relative to the fleet file.
_PATH_KEYS = (
    ("data", "source", "path"),
    ("bootstrap", "model_path"),
    ("registry", "path"),
    ("reports", "path"),
)


class FleetConfig(Strict):
    name: str = Field(
        default="fleet",
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        max_length=100,
        description="Fleet name, kebab-case: names the summary artifact and the output directory.",
    )
    models: list[str] = Field(
        min_length=1,
        description="Model config paths or globs (models/*.yaml), relative to the fleet file. "
        "A glob that matches nothing is an error; a listed path that is missing is an error "
        "row of its own.",
    )
    defaults: dict[str, Any] = Field(
        default={},
        description="Config keys shared by every model, deep-merged under each model's config "
        "(the model's own value wins; a model naming another model.estimator takes none of "
        "these model.params). Relative paths here are relative to the fleet file.",
    )
    runner: Literal["dask", "deployments"] = Field(
        default="dask",
        description="dask: the models run as Prefect tasks on a DaskTaskRunner (a local "
        "cluster, or dask_address); deployments: one run of `deployment` per model, done by "
        "the work pool's workers.",
    )
    max_parallel: int = Field(
        default=4,
        ge=1,
        le=1000,
        description="Models in flight at once (each loads its windows): bounds memory.",
    )
    model_timeout: Timeout = Field(
        default=timedelta(hours=1),
        description="A model still running after this ends as an error row; the rest go on.",
    )
    model_timeouts: dict[str, Timeout] = Field(
        default={},
        description="model_timeout of single models, by model name (a model known to take "
        "longer, or one to cut sooner); the others take model_timeout.",
    )
    dask_address: str | None = Field(
        default=None,
        description="Address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786; null: "
        "a local cluster of worker processes for the run.",
    )
    dask_workers: int | None = Field(
        default=None,
        ge=1,
        le=512,
        description="Worker processes of the local cluster; null: the machine's cores, at "
        "most max_parallel.",
    )
    deployment: str = Field(
        default="monitor/autoretrain-loop",
        pattern=r"^[^/]+/[^/]+$",
        description="runner deployments: the monitor deployment to run per model, "
        "<flow name>/<deployment name>.",
    )
    output_dir: Path = Field(
        default=Path(".autoretrain/fleet"),
        description="Where the run writes each model's merged config and the summary CSV "
        "(under <output_dir>/<name>/), relative to the fleet file.",
    )

    def timeout_of(self, model: str) -> timedelta:
        """The model_timeout of one model: its own in model_timeouts, else the fleet's."""
        return self.model_timeouts.get(model, self.model_timeout)


@dataclass(frozen=True)
class FleetMember:
    """One model of the fleet: its config as listed, and the merged config to run (or an error)."""

    name: str
    source: str  # the config's path as found from the fleet file
    config_path: str | None  # the merged, validated config the run uses; None: see error
    error: str | None = None


@dataclass(frozen=True)
class Fleet:
    """A loaded fleet file: its settings, its directory and its members in the file's order."""

    config: FleetConfig
    path: Path
    members: tuple[FleetMember, ...]

    @property
    def output_dir(self) -> Path:
        return resolve_path(self.path.parent, self.config.output_dir) / self.config.name

    @property
    def ready(self) -> tuple[FleetMember, ...]:
        return tuple(member for member in self.members if member.error is None)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A copy of base with override merged in, mapping by mapping; override's values win."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _anchor_default_paths(defaults: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the relative paths of `defaults` absolute, from the fleet file's directory."""
    anchored = copy.deepcopy(defaults)
    for keys in _PATH_KEYS:
        node: Any = anchored
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(keys[-1]), str):
            node[keys[-1]] = str(resolve_path(base, Path(node[keys[-1]])))
    reports = anchored.get("reports")
    if isinstance(reports, dict):  # reports.workspace: a directory, or an `evidently ui` URL
        workspace = reports.get("workspace")
        if isinstance(workspace, str) and workspace.strip() and not is_service_url(workspace):
            reports["workspace"] = str(resolve_path(base, Path(workspace.strip())))
    source = (
        anchored.get("data", {}).get("source") if isinstance(anchored.get("data"), dict) else None
    )
    if isinstance(source, dict) and isinstance(source.get("url"), str):
        source["url"] = anchor_sqlite_url(source["url"], base)
    history = anchored.get("history")
    if isinstance(history, dict) and isinstance(history.get("url"), str):
        history["url"] = anchor_sqlite_url(history["url"], base)
    return anchored


def parse_fleet_config(raw: Any, origin: Path) -> FleetConfig:
    """Validate a parsed fleet file; raise ConfigError naming the key path on any problem."""
    return validate_file(FleetConfig, raw, origin, "fleet file", "docs/fleet.md")


def find_config_paths(fleet: FleetConfig, base: Path) -> list[Path]:
    """The model config paths of the fleet file, in its order: globs sorted, duplicates once."""
    found: list[Path] = []
    for entry in fleet.models:
        pattern = str(resolve_path(base, Path(entry)))
        if _GLOB_CHARACTERS.intersection(entry):
            matches = sorted(Path(match).resolve() for match in glob.glob(pattern))
            if not matches:
                raise ConfigError(f"{base}: models entry '{entry}' matches no file")
            found.extend(matches)
        else:
            found.append(Path(pattern))
    return list(dict.fromkeys(found))


def _display(path: Path) -> str:
    """A path relative to the working directory when it is inside it (deployment runs need it)."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(text)
    temporary.replace(path)


def _defaults_for(defaults: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """The defaults as one model takes them: a model that names its own model.estimator takes
    none of the defaults' model.params (another estimator's parameters would not fit it)."""
    own = raw.get("model")
    shared = defaults.get("model")
    if not (isinstance(own, dict) and "estimator" in own and isinstance(shared, dict)):
        return defaults
    if own["estimator"] == shared.get("estimator"):
        return defaults
    model = {key: value for key, value in shared.items() if key != "params"}
    return {**defaults, "model": model}


def prepare_member(
    config_path: Path, defaults: dict[str, Any], configs_dir: Path, taken: dict[str, str]
) -> FleetMember:
    """Merge the defaults under one model's config, validate it and write the merged config.

    A config that cannot be read or validated, or that reuses another member's model name,
    becomes a member with an error, not an exception.
    """
    source = _display(config_path)
    try:
        raw = read_yaml_file(config_path, "model config")
        if not isinstance(raw, dict):
            raise ConfigError(f"{config_path}: expected a mapping of keys at the top level")
        merged = deep_merge(_defaults_for(defaults, raw), raw)
        config = parse_config(merged, config_path.parent, config_path)
    except ConfigError as error:
        return FleetMember(config_path.stem, source, None, str(error))
    if config.name in taken:
        return FleetMember(
            config.name,
            source,
            None,
            f"model name '{config.name}' is already used by {taken[config.name]}: give each "
            "model of a fleet its own name (its registry namespace, slots and events)",
        )
    taken[config.name] = source
    merged_path = configs_dir / f"{config.name}.yaml"
    _write_atomically(merged_path, yaml.safe_dump(_merged_config(config, merged), sort_keys=False))
    return FleetMember(config.name, source, _display(merged_path))


def _merged_config(config: Config, merged: dict[str, Any]) -> dict[str, Any]:
    """The merged config to write: every path absolute, so it reads the same from anywhere.

    The SQL source's URL and history.url are written as the config has them (JSON shows a
    credential's mask): a plain URL with its SQLite path made absolute, a ${VARIABLE} or
    {secret: name} reference as that reference, read again where the model runs and never
    written out as its value.
    """
    dump: dict[str, Any] = config.model_dump(mode="json")
    source = config.data.source
    if isinstance(source, SqlSourceConfig):
        url = merged["data"]["source"]["url"] if source.url.from_reference else source.url.reveal()
        dump["data"]["source"]["url"] = url
    history_url = config.history.url
    if history_url is not None:  # the same for the history's database
        dump["history"]["url"] = (
            merged["history"]["url"] if history_url.from_reference else history_url.reveal()
        )
    return dump


def read_fleet_config(path: str | Path) -> FleetConfig:
    """The fleet file's own settings (its models not read yet); a problem of them raises."""
    fleet_path = Path(path).expanduser().resolve()
    return parse_fleet_config(read_yaml_file(fleet_path, "fleet file"), fleet_path)


def load_fleet(path: str | Path, settings: FleetConfig | None = None) -> Fleet:
    """Read the fleet file and prepare its members; a problem of the fleet file itself raises.

    settings: the file's own settings when read_fleet_config has read them already.
    """
    fleet_path = Path(path).expanduser().resolve()
    fleet = settings if settings is not None else read_fleet_config(fleet_path)
    base = fleet_path.parent
    defaults = _anchor_default_paths(fleet.defaults, base)
    loaded = Fleet(fleet, fleet_path, ())
    configs_dir = loaded.output_dir / "configs"
    taken: dict[str, str] = {}
    members = tuple(
        prepare_member(config_path, defaults, configs_dir, taken)
        for config_path in find_config_paths(fleet, base)
    )
    check_model_timeouts(fleet, members, fleet_path)
    return Fleet(fleet, fleet_path, members)


def check_model_timeouts(
    fleet: FleetConfig, members: tuple[FleetMember, ...], origin: Path
) -> None:
    """A name in model_timeouts that is no model of the fleet is a typo: refuse it, naming them."""
    names = [member.name for member in members]
    unknown = sorted(set(fleet.model_timeouts) - set(names))
    if unknown:
        raise ConfigError(
            f"{origin}: model_timeouts names {', '.join(unknown)}, no model of this fleet "
            f"(its models: {', '.join(names)}): use the models' names (config.yaml's name)"
        )
