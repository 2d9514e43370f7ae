"""The model registry: versions, aliases, audit history and comparisons, one namespace per model.

The local implementation keeps each model in its own directory under registry.path:

    models/<name>/versions/v0001/model.pkl, reference.parquet, metadata.json,
                                   calibration.json (classifiers: the probabilities' calibration
                                   on the holdout, for the label-free estimate; optional)
    models/<name>/aliases.json           {"champion": "v0001", "challenger": "v0002"}
    models/<name>/history.jsonl          one line per alias change, append-only
    models/<name>/comparisons/<id>.json  champion-challenger comparisons
    models/<name>/requests/<id>          requests already handled
    models/<name>/.lock                  serialises the model's writers
    .lock                                serialises moving a registry into namespaces

Models that share registry.path never see each other's versions, and a version whose
metadata.json names another model is refused before any of its files is read.

A version directory is written under a temporary name and renamed into place, and
aliases.json is replaced atomically, so a crash never leaves a half-written version or
alias that a later run would trust.

An alias change is written to history.jsonl (fsynced) before aliases.json: the history line
is the commit point, aliases.json the state derived from it. A writer killed between the two
leaves a history line whose alias change is missing; the next writer, or opening the
registry, completes it (rolls it forward) under the lock. `verify()` (or
`python -m tasks.cli.registry verify --config config.yaml`) lists whatever is still inconsistent.

A registry written before namespaces (versions/, aliases.json, history.jsonl, ... at the top of
registry.path) is moved into its model's namespace on first open, under the top-level lock: the
entries are renamed into models/.migrating-<name>/, a "migrate" line is appended to its
history, and the directory is renamed to models/<name>/ (the commit point). A crash in between
leaves models/.migrating-<name>/, which the next open finishes. A top-level registry that holds
versions of more than one model is refused, with the versions of each.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import json
import logging
import os
import pickle
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from tasks.config import RegistryConfig
from tasks.errors import AutoretrainError, ModelError, RegistryError

logger = logging.getLogger(__name__)

ALIASES = ("champion", "challenger")
CALIBRATION_FILE = "calibration.json"
STALE_STAGING_SECONDS = 3600
VERSION_ID = re.compile(r"v\d{4,}")
# The same rule as the config's name, with a length a directory name can always have.
MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
MODELS_DIRECTORY = "models"
MIGRATING_PREFIX = ".migrating-"
# What a registry written before namespaces keeps at the top of registry.path.
ROOT_LAYOUT_ENTRIES = ("versions", "comparisons", "requests", "aliases.json", "history.jsonl")


@dataclass(frozen=True)
class ModelVersion:
    """Metadata of one registered model version (its lineage)."""

    version: str
    model_name: str
    created_at: str
    estimator: str
    params: dict[str, Any]
    training_window: dict[str, str]
    training_rows: int
    data_fingerprint: str
    model_sha256: str
    metrics: dict[str, float]
    code_version: str
    source: str
    reason: str
    features: list[str] = field(default_factory=list)
    status: str = "registered"
    reference_sha256: str = ""  # empty in versions registered before it was recorded
    data_source: str = ""  # where the training rows were read, credentials masked; "" before
    # SHA-256 of calibration.json; "" when the version has none (a regressor, a model without
    # predict_proba, no labelled holdout rows, or registered before calibrations were kept).
    calibration_sha256: str = ""
    # Change-aware training: which span was chosen and why (empty: the configured span, or
    # registered before it was recorded); holdout_window is set when the choice moved it.
    training_choice: dict[str, Any] = field(default_factory=dict)
    holdout_window: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    action: str
    alias: str
    from_version: str | None
    to_version: str | None
    reason: str
    actor: str


@dataclass(frozen=True)
class RegistryCheck:
    """What verify() found: problems a run could trip on, and harmless notes."""

    problems: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


class ModelRegistry(Protocol):
    """What the flows need from a model store; LocalRegistry is the embedded default.

    A registry opened for one model sees only that model's versions, aliases and history.
    """

    model_name: str

    def register(
        self,
        model: Any,
        reference: pd.DataFrame,
        metadata: dict[str, Any],
        calibration: dict[str, Any] | None = None,
    ) -> ModelVersion: ...

    def load_calibration(self, version: str) -> dict[str, Any] | None: ...

    def get_version(self, version: str) -> ModelVersion: ...

    def list_versions(self) -> list[ModelVersion]: ...

    def load_model(self, version: str) -> Any: ...

    def load_reference(
        self, version: str, sample_rows: int | None = None, seed: int = 0
    ) -> pd.DataFrame: ...

    def get_alias(self, alias: str) -> str | None: ...

    def set_alias(
        self,
        alias: str,
        version: str | None,
        *,
        reason: str,
        action: str,
        expected: str | None = ...,
        actor: str | None = None,
    ) -> None: ...

    def mark(self, version: str, status: str) -> None: ...

    def history(self) -> list[HistoryEntry]: ...

    def save_comparison(self, comparison_id: str, comparison: dict[str, Any]) -> Path | str: ...

    def load_comparison(self, comparison_id: str) -> dict[str, Any]: ...

    def rollback(
        self, *, to_version: str | None = None, reason: str, actor: str | None = None
    ) -> tuple[str, str]: ...

    def claim_request(self, request_id: str) -> bool: ...

    def verify(self) -> RegistryCheck: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def sample_rows_of(frame: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """At most limit rows of frame, drawn without replacement with a fixed seed, in their order."""
    if limit is None or len(frame) <= limit:
        return frame
    chosen = np.random.default_rng(seed).choice(len(frame), size=limit, replace=False)
    chosen.sort()
    return frame.iloc[chosen].reset_index(drop=True)


def fingerprint_frame(frame: pd.DataFrame) -> str:
    """A stable digest of a DataFrame's content, for lineage."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:16]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_path(path: Path) -> None:
    """Flush a file or directory to disk, so a rename that follows never points at nothing."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _write_json_atomic(path: Path, data: Any) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(data, out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


@contextlib.contextmanager
def _lock_file(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _drop_partial_line(path: Path) -> None:
    """Cut a last line without its newline: its write never finished, so it never committed."""
    if not path.is_file():
        return
    content = path.read_bytes()
    if content and not content.endswith(b"\n"):
        keep = content.rfind(b"\n") + 1
        logger.warning("dropping a half-written last line of %s", path)
        with path.open("r+b") as out:
            out.truncate(keep)
            out.flush()
            os.fsync(out.fileno())


def _append_line(path: Path, entry: HistoryEntry) -> None:
    with path.open("a") as out:
        out.write(json.dumps(asdict(entry)) + "\n")
        out.flush()
        os.fsync(out.fileno())


def check_model_name(model_name: str) -> str:
    """The model name, if it is safe as a directory name inside the registry; else RegistryError."""
    if not isinstance(model_name, str) or not MODEL_NAME.fullmatch(model_name):
        raise RegistryError(
            f"{model_name!r} is not a model name: use lower-case letters, digits and '-', "
            "starting with a letter or digit, at most 100 characters (the config's name)"
        )
    return model_name


def model_directory(registry_path: Path, model_name: str) -> Path:
    """Where the registry at registry_path keeps model_name's versions, aliases and history."""
    return Path(registry_path) / MODELS_DIRECTORY / check_model_name(model_name)


def list_models(registry_path: Path) -> list[str]:
    """The models that have a namespace in the registry at registry_path, by name."""
    models = Path(registry_path) / MODELS_DIRECTORY
    if not models.is_dir():
        return []
    return sorted(p.name for p in models.iterdir() if p.is_dir() and MODEL_NAME.fullmatch(p.name))


def _root_layout_entries(registry_path: Path) -> list[str]:
    return [name for name in ROOT_LAYOUT_ENTRIES if os.path.lexists(registry_path / name)]


def _interrupted_migrations(registry_path: Path) -> list[Path]:
    models = registry_path / MODELS_DIRECTORY
    if not models.is_dir():
        return []
    return sorted(models.glob(f"{MIGRATING_PREFIX}*"))


def _owner_of_root_layout(registry_path: Path, opener: str) -> str:
    """The one model the top-level versions belong to; RegistryError if they are mixed.

    With no versions at all, the model opening the registry takes what is there.
    """
    owners: dict[str, list[str]] = {}
    unreadable: list[str] = []
    versions = registry_path / "versions"
    directories = sorted(
        (p for p in versions.glob("v[0-9]*") if VERSION_ID.fullmatch(p.name)),
        key=lambda p: int(p.name[1:]),
    )
    for directory in directories:
        try:
            owner = json.loads((directory / "metadata.json").read_text())["model_name"]
        except (OSError, ValueError, KeyError, TypeError):
            unreadable.append(directory.name)
            continue
        owners.setdefault(str(owner), []).append(directory.name)
    if unreadable:
        raise RegistryError(
            f"the registry at {registry_path} keeps its versions at the top (the layout before "
            f"one namespace per model), and the metadata.json of {', '.join(unreadable)} is "
            "unreadable, so it cannot tell which model they belong to; restore those files from "
            "a backup and run again"
        )
    if len(owners) > 1:
        listed = "; ".join(
            f"'{name}': {', '.join(found)}" for name, found in sorted(owners.items())
        )
        aliases = _read_root_aliases(registry_path)
        raise RegistryError(
            f"the registry at {registry_path} mixes versions of {len(owners)} models in one "
            f"directory (they shared registry.path before each model had its own namespace): "
            f"{listed}. Its aliases.json ({aliases}), history.jsonl and comparisons are shared "
            "by them, so autoretrain will not guess whose they are and changes nothing. "
            "To separate them, with no run in progress: for each model NAME, "
            f"`mkdir -p {registry_path}/{MODELS_DIRECTORY}/NAME/versions` and move its versions "
            "listed here into it; move aliases.json, history.jsonl, comparisons/ and requests/ "
            f"into {registry_path}/{MODELS_DIRECTORY}/NAME/ of the model whose version the "
            "champion alias names and remove the lines of the other models' versions from that "
            "history.jsonl; the other models bootstrap a champion of their own on their next "
            "monitor run. Then run `python -m tasks.cli.registry verify --config CONFIG` for "
            "each model's config."
        )
    if not owners:
        return opener
    return check_model_name(next(iter(owners)))


def _read_root_aliases(registry_path: Path) -> str:
    try:
        aliases = json.loads((registry_path / "aliases.json").read_text())
    except (OSError, ValueError):
        return "missing or unreadable"
    if not isinstance(aliases, dict):
        return "unreadable"
    return (
        ", ".join(f"{alias} -> {version}" for alias, version in sorted(aliases.items())) or "empty"
    )


def migrate_root_layout(registry_path: Path, opener: str) -> str | None:
    """Move a registry written before namespaces into its model's namespace; the model's name.

    Nothing to move returns None. Runs under the registry's top-level lock, which writers of
    the layout before namespaces took too; an interrupted move is finished first.
    """
    registry_path = Path(registry_path)
    # Entries move from the top to models/.migrating-<name>/ to models/<name>/: looking in that
    # order, a registry with neither is one whose move (if any) is complete.
    if not _root_layout_entries(registry_path) and not _interrupted_migrations(registry_path):
        return None
    with _lock_file(registry_path / ".lock"):
        interrupted = _interrupted_migrations(registry_path)
        if interrupted:
            staging = interrupted[0]
            owner = check_model_name(staging.name.removeprefix(MIGRATING_PREFIX))
            logger.warning("finishing the interrupted move of %s into its namespace", owner)
        elif _root_layout_entries(registry_path):
            owner = _owner_of_root_layout(registry_path, opener)
            target = model_directory(registry_path, owner)
            if target.exists():
                raise RegistryError(
                    f"the registry at {registry_path} holds versions of '{owner}' both at its "
                    f"top (the layout before namespaces) and in {target}; an older autoretrain "
                    f"wrote to it after the move. Move the top-level versions, aliases.json and "
                    f"history.jsonl aside and merge them by hand; {target} is the current one"
                )
            staging = registry_path / MODELS_DIRECTORY / f"{MIGRATING_PREFIX}{owner}"
            staging.parent.mkdir(exist_ok=True)
            staging.mkdir()
            _fsync_path(staging.parent)
        else:
            return None
        _finish_migration(registry_path, staging, owner)
        return owner


def _finish_migration(registry_path: Path, staging: Path, owner: str) -> None:
    """Move what is left at the top into staging, record the move, commit it by a rename."""
    for name in ROOT_LAYOUT_ENTRIES:
        source = registry_path / name
        if not os.path.lexists(source):
            continue
        if os.path.lexists(staging / name):
            raise RegistryError(
                f"{source} and {staging / name} both exist: something wrote to the top of the "
                f"registry while it was being moved into {owner}'s namespace; merge them by hand"
            )
        os.rename(source, staging / name)
    _fsync_path(staging)
    _fsync_path(registry_path)
    history = staging / "history.jsonl"
    _drop_partial_line(history)
    lines = history.read_text().splitlines() if history.is_file() else []
    last_action = None
    champion: str | None = None
    for line in lines:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            entry = json.loads(line)
            last_action = entry.get("action")
            if entry.get("alias") == "champion":
                champion = entry.get("to_version")
    if last_action != "migrate":  # a move killed after this line was appended already has it
        _append_line(
            history,
            HistoryEntry(
                _now(),
                "migrate",
                "champion",
                champion,
                champion,
                f"moved from the top of {registry_path} into {MODELS_DIRECTORY}/{owner}/ "
                "(one namespace per model)",
                _actor(),
            ),
        )
    for directory in ("versions", "comparisons"):
        (staging / directory).mkdir(exist_ok=True)
    os.rename(staging, model_directory(registry_path, owner))
    _fsync_path(staging.parent)
    logger.warning(
        "moved the registry at %s into %s's namespace (%s)",
        registry_path,
        owner,
        model_directory(registry_path, owner),
    )


class LocalRegistry:
    """A registry on the local file system (the embedded default)."""

    def __init__(self, path: Path, model_name: str) -> None:
        self.path = Path(path)
        self.model_name = check_model_name(model_name)
        self.root = model_directory(self.path, model_name)
        self.path.mkdir(parents=True, exist_ok=True)
        migrate_root_layout(self.path, model_name)
        (self.root / "versions").mkdir(parents=True, exist_ok=True)
        (self.root / "comparisons").mkdir(exist_ok=True)
        self._clean_temporary()
        with self._locked():
            self._recover_locked(on_open=True)

    # -- locking -----------------------------------------------------------------
    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return _lock_file(self.root / ".lock")

    def _clean_temporary(self) -> None:
        """Remove leftovers of writers that died mid-write; they were never visible."""
        # Only old ones: a young staging directory may belong to a writer still at work.
        cutoff = time.time() - STALE_STAGING_SECONDS
        for leftover in (self.root / "versions").glob(".tmp-*"):
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    shutil.rmtree(leftover, ignore_errors=True)
        for directory in (self.root, self.root / "comparisons", *self._version_dirs()):
            for leftover in directory.glob(".*.tmp"):  # from _write_json_atomic
                with contextlib.suppress(FileNotFoundError):
                    if leftover.stat().st_mtime < cutoff:
                        leftover.unlink()

    def _version_dirs(self) -> list[Path]:
        return [p for p in (self.root / "versions").glob("v[0-9]*") if VERSION_ID.fullmatch(p.name)]

    # -- recovery after a crash -------------------------------------------------------
    def _recover_locked(self, *, on_open: bool = False) -> None:
        """Finish what a writer killed mid-change left undone; call with the lock held.

        Before every alias change: complete an alias change whose history line was written.
        On opening the registry also: drop a challenger alias that is already the champion,
        and bring statuses in line with the champion alias (steps a promotion takes after
        the alias move, outside the lock). Only states a crash can produce are repaired;
        anything else is left for verify().
        """
        self._drop_partial_history_line()
        try:
            aliases, entries = self._aliases(), self.history()
        except RegistryError as error:
            logger.error("registry %s needs attention: %s", self.root, error)
            return
        changed = False
        for alias in ALIASES:
            last = next((e for e in reversed(entries) if e.alias == alias), None)
            current = aliases.get(alias)
            if last is None or last.to_version == current or last.from_version != current:
                continue
            if last.to_version is not None and not self._is_own_version(last.to_version):
                continue
            # The history line was written, the alias not: the writer died in between.
            logger.warning(
                "completing an interrupted alias change: %s %s -> %s (%s)",
                alias,
                current,
                last.to_version,
                last.reason,
            )
            if last.to_version is None:
                aliases.pop(alias, None)
            else:
                aliases[alias] = last.to_version
            changed = True
        if changed:
            _write_json_atomic(self.root / "aliases.json", aliases)
        if not on_open:
            return
        champion = aliases.get("champion")
        if champion is not None and aliases.get("challenger") == champion:
            # A promotion died after moving the champion alias: finish it.
            self._set_alias_locked(
                "challenger",
                None,
                reason=f"{champion} is already the champion (an interrupted promotion)",
                action="recover",
            )
        self._recover_statuses(champion, entries)

    def _is_own_version(self, version: str) -> bool:
        try:
            self.get_version(version)
        except RegistryError:
            return False
        return True

    def _drop_partial_history_line(self) -> None:
        _drop_partial_line(self.root / "history.jsonl")

    def _recover_statuses(self, champion: str | None, entries: list[HistoryEntry]) -> None:
        """Statuses follow the champion alias (a writer may die between alias and mark)."""
        for directory in self._version_dirs():
            try:
                record = self.get_version(directory.name)
            except (RegistryError, ValueError, TypeError):
                continue  # verify() reports unreadable metadata
            if record.version == champion and record.status != "champion":
                self._write_status(record, "champion")
            elif record.version != champion and record.status == "champion":
                rolled_back = any(
                    e.action == "rollback" and e.from_version == record.version for e in entries
                )
                self._write_status(record, "rolled-back" if rolled_back else "retired")

    def _write_status(self, record: ModelVersion, status: str) -> None:
        logger.warning(
            "status of %s: %s -> %s (catching up with the aliases)",
            record.version,
            record.status,
            status,
        )
        updated = {**record.to_dict(), "status": status}
        _write_json_atomic(self._version_dir(record.version) / "metadata.json", updated)

    # -- versions ----------------------------------------------------------------
    def _version_dir(self, version: str) -> Path:
        if not isinstance(version, str) or not VERSION_ID.fullmatch(version):
            raise RegistryError(f"'{version}' is not a version id (they look like v0001)")
        return self.root / "versions" / version

    def _next_version(self) -> str:
        numbers = [int(p.name[1:]) for p in self._version_dirs()]
        return f"v{max(numbers, default=0) + 1:04d}"

    def register(
        self,
        model: Any,
        reference: pd.DataFrame,
        metadata: dict[str, Any],
        calibration: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Store model, reference data, metadata and (if any) the calibration as a new
        version, all or nothing."""
        staging = Path(tempfile.mkdtemp(dir=self.root / "versions", prefix=".tmp-"))
        try:
            with (staging / "model.pkl").open("wb") as out:
                pickle.dump(model, out, protocol=pickle.HIGHEST_PROTOCOL)
            reference.to_parquet(staging / "reference.parquet", index=False)
            files = ["model.pkl", "reference.parquet"]
            if calibration is not None:
                (staging / CALIBRATION_FILE).write_text(
                    json.dumps(calibration, indent=2, sort_keys=True)
                )
                files.append(CALIBRATION_FILE)
            for name in files:
                _fsync_path(staging / name)
            with self._locked():
                version = self._next_version()  # under the lock: concurrent writers never share one
                record = ModelVersion(
                    version=version,
                    model_name=self.model_name,
                    created_at=_now(),
                    model_sha256=_sha256(staging / "model.pkl"),
                    reference_sha256=_sha256(staging / "reference.parquet"),
                    calibration_sha256=(
                        _sha256(staging / CALIBRATION_FILE) if calibration is not None else ""
                    ),
                    **metadata,
                )
                (staging / "metadata.json").write_text(json.dumps(record.to_dict(), indent=2))
                _fsync_path(staging / "metadata.json")
                _fsync_path(staging)
                os.rename(staging, self._version_dir(version))
                _fsync_path(self.root / "versions")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return record

    def get_version(self, version: str) -> ModelVersion:
        """A version's metadata; RegistryError if it is missing, unreadable or another model's."""
        record = self._read_metadata(version)
        if record.model_name != self.model_name:
            raise RegistryError(
                f"version {version} in {self.root} belongs to model '{record.model_name}', not "
                f"to '{self.model_name}' (the config's name): refusing to use another model's "
                f"version. Move it back to {self.path / MODELS_DIRECTORY / record.model_name}, "
                "or check the name in the config"
            )
        return record

    def _read_metadata(self, version: str) -> ModelVersion:
        path = self._version_dir(version) / "metadata.json"
        if not path.is_file():
            raise RegistryError(f"no model version {version} in {self.root}")
        try:
            return ModelVersion(**json.loads(path.read_text()))
        except (ValueError, TypeError) as error:
            raise RegistryError(
                f"metadata of {version} is unreadable ({path}: {error}); restore it from a "
                "backup, or roll back to another version"
            ) from None

    def list_versions(self) -> list[ModelVersion]:
        names = sorted((p.name for p in self._version_dirs()), key=lambda n: int(n[1:]))
        return [self.get_version(name) for name in names]

    def mark(self, version: str, status: str) -> None:
        """Record a version's status (registered, champion, rejected, retired)."""
        with self._locked():
            record = self.get_version(version)
            updated = {**record.to_dict(), "status": status}
            _write_json_atomic(self._version_dir(version) / "metadata.json", updated)

    def load_model(self, version: str) -> Any:
        """Load a version's model after checking its SHA-256 against the registered one."""
        record = self.get_version(version)
        path = self._checked_file(
            version, "model.pkl", record.model_sha256, "model file", "load", ModelError
        )
        try:
            with path.open("rb") as handle:
                return pickle.load(handle)
        except Exception as error:
            raise ModelError(f"cannot load model file of {version}: {error}") from None

    def _checked_file(
        self,
        version: str,
        name: str,
        expected: str,
        what: str,
        verb: str,
        error: type[AutoretrainError],
    ) -> Path:
        """A version's file, present and matching its registered SHA-256; else error, naming
        what the file is and what was refused (to load it, to use it)."""
        path = self._version_dir(version) / name
        if not path.is_file():
            raise error(f"{what} of {version} is missing: {path}")
        actual = _sha256(path)
        if actual != expected:
            raise error(
                f"{what} of {version} does not match its registered SHA-256 "
                f"({actual[:12]} != {expected[:12]}); refusing to {verb} it. "
                "Restore the file or roll back to another version."
            )
        return path

    def load_calibration(self, version: str) -> dict[str, Any] | None:
        """A version's calibration after checking its SHA-256; None when it was registered
        without one."""
        record = self.get_version(version)
        if not record.calibration_sha256:
            return None
        path = self._checked_file(
            version,
            CALIBRATION_FILE,
            record.calibration_sha256,
            "calibration",
            "use",
            RegistryError,
        )
        try:
            data = json.loads(path.read_text())
        except ValueError as error:
            raise RegistryError(f"calibration of {version} is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise RegistryError(f"calibration of {version} is not a JSON object")
        return data

    def load_reference(
        self, version: str, sample_rows: int | None = None, seed: int = 0
    ) -> pd.DataFrame:
        """The version's reference data; with sample_rows, a seeded sample of at most that many
        rows, computed once per version and kept next to it. The reference file's SHA-256 is
        checked first (when one was recorded); the kept sample is used only while its own
        digest, and the reference digest it was drawn from, still match."""
        record = self.get_version(version)
        path = self._version_dir(version) / "reference.parquet"
        if not path.is_file():
            raise RegistryError(f"reference data of {version} is missing: {path}")
        reference_sha256 = _sha256(path)
        if record.reference_sha256 and reference_sha256 != record.reference_sha256:
            raise RegistryError(
                f"reference data of {version} does not match its registered SHA-256; refusing "
                "to measure drift against it. Restore the file or roll back to another version."
            )
        if sample_rows is None:
            return pd.read_parquet(path)
        cached = path.with_name(f"reference-sample-{sample_rows}-{seed}.parquet")
        stamp = cached.with_name(f"{cached.stem}.sha256.json")
        expected = {"reference_sha256": reference_sha256}
        if cached.is_file() and stamp.is_file():
            with contextlib.suppress(ValueError, OSError):
                kept = json.loads(stamp.read_text())
                if kept == {**expected, "sample_sha256": _sha256(cached)}:
                    return pd.read_parquet(cached)
            logger.warning(
                "the kept reference sample %s of %s does not match its digest; drawing it again",
                cached.name,
                version,
            )
        sample = sample_rows_of(pd.read_parquet(path), sample_rows, seed)
        handle, temporary = tempfile.mkstemp(dir=cached.parent, prefix=".sample-", suffix=".tmp")
        os.close(handle)
        try:
            sample.to_parquet(temporary, index=False)
            os.replace(temporary, cached)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        # The stamp is written last: a sample without a matching stamp is drawn again.
        _write_json_atomic(stamp, {**expected, "sample_sha256": _sha256(cached)})
        return sample

    # -- aliases and history --------------------------------------------------------
    def _aliases(self) -> dict[str, str]:
        path = self.root / "aliases.json"
        if not path.is_file():
            return {}
        try:
            aliases = json.loads(path.read_text())
        except ValueError as error:
            raise RegistryError(
                f"{path} is unreadable ({error}); run `python -m tasks.cli.registry verify` and "
                "restore it from history.jsonl"
            ) from None
        if not isinstance(aliases, dict):
            raise RegistryError(f"{path} must hold a mapping of alias to version")
        return aliases

    def get_alias(self, alias: str) -> str | None:
        return self._aliases().get(alias)

    def set_alias(
        self,
        alias: str,
        version: str | None,
        *,
        reason: str,
        action: str,
        expected: str | object | None = ...,
        actor: str | None = None,
    ) -> None:
        """Point alias at version (None removes it); with expected, only if it still points there.

        The check and the change happen under one lock: a compare-and-swap. actor defaults to
        the user running the process.
        """
        if alias not in ALIASES:
            raise RegistryError(f"unknown alias '{alias}'; aliases are {ALIASES}")
        with self._locked():
            self._recover_locked()
            self._set_alias_locked(
                alias, version, reason=reason, action=action, expected=expected, actor=actor
            )

    def _set_alias_locked(
        self,
        alias: str,
        version: str | None,
        *,
        reason: str,
        action: str,
        expected: Any = ...,
        actor: str | None = None,
    ) -> None:
        aliases = self._aliases()
        current = aliases.get(alias)
        if expected is not ... and current != expected:
            raise RegistryError(
                f"{alias} is {current}, not {expected} as expected: another run changed it; "
                "run the comparison again"
            )
        if version is not None:
            self.get_version(version)
            aliases[alias] = version
        else:
            aliases.pop(alias, None)
        entry = HistoryEntry(_now(), action, alias, current, version, reason, actor or _actor())
        # History first, then the alias: the fsynced history line commits the change. A crash
        # in between leaves a line whose alias write is missing; _recover_locked completes it.
        _append_line(self.root / "history.jsonl", entry)
        _write_json_atomic(self.root / "aliases.json", aliases)

    def history(self) -> list[HistoryEntry]:
        path = self.root / "history.jsonl"
        if not path.is_file():
            return []
        entries = []
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line:
                continue
            try:
                entries.append(HistoryEntry(**json.loads(line)))
            except (ValueError, TypeError) as error:
                raise RegistryError(
                    f"{path} line {number} is not a history entry ({error}); it was edited or "
                    "damaged: restore it from a backup"
                ) from None
        return entries

    def rollback(
        self, *, to_version: str | None = None, reason: str, actor: str | None = None
    ) -> tuple[str, str]:
        """Make the previous champion (or to_version) champion again; return (from, to)."""
        with self._locked():
            self._recover_locked()
            current = self._aliases().get("champion")
            if current is None:
                raise RegistryError("there is no champion to roll back")
            target = to_version or self._previous_champion(current)
            if target is None:
                raise RegistryError(
                    f"{current} is the first champion: there is no earlier one to roll back to"
                )
            if target == current:
                raise RegistryError(f"{target} is already the champion")
            try:
                current_owner: str | None = self._read_metadata(current).model_name
            except RegistryError:
                current_owner = None  # unreadable: roll back from it all the same
            if current_owner not in (None, self.model_name):
                self.get_version(current)  # another model's champion: refuse, naming both
            self.load_model(target)  # refuse a target that would not load
            self._set_alias_locked(
                "champion", target, reason=reason, action="rollback", actor=actor
            )
        if current_owner is not None:
            self.mark(current, "rolled-back")
        self.mark(target, "champion")
        return current, target

    def _previous_champion(self, current: str) -> str | None:
        for entry in reversed(self.history()):
            # Skip rollbacks, so a second rollback goes further back instead of undoing the first.
            # A line that moved nothing (the migrate line) is no promotion either.
            if (
                entry.alias == "champion"
                and entry.to_version == current
                and entry.from_version != current
                and entry.action != "rollback"
            ):
                return entry.from_version
        return None

    # -- requests ----------------------------------------------------------------------
    def claim_request(self, request_id: str) -> bool:
        """Record that a request (e.g. one retrain.requested event) is being handled; False if
        it already was, so an event delivered twice never retrains twice."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", request_id):
            raise RegistryError(f"'{request_id}' is not a request id")
        requests = self.root / "requests"
        requests.mkdir(exist_ok=True)
        try:
            handle = os.open(requests / request_id, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        with os.fdopen(handle, "w") as out:
            out.write(_now())
        return True

    # -- consistency -------------------------------------------------------------------
    def verify(self) -> RegistryCheck:
        """Check the registry is consistent: aliases, history, files and digests agree."""
        with self._locked():
            return self._verify_locked()

    def _verify_locked(self) -> RegistryCheck:
        problems: list[str] = []
        notes: list[str] = []
        versions: dict[str, ModelVersion] = {}
        foreign: dict[str, str] = {}
        for directory in sorted((self.root / "versions").iterdir()):
            if directory.name.startswith(".tmp-"):
                notes.append(
                    f"staging directory {directory.name} (an unfinished register; never read)"
                )
                continue
            if not VERSION_ID.fullmatch(directory.name):
                problems.append(f"versions/{directory.name} is not a version id")
                continue
            try:
                record = self._read_metadata(directory.name)
            except RegistryError as error:
                problems.append(str(error))
                continue
            if record.model_name != self.model_name:
                problems.append(
                    f"versions/{directory.name} belongs to model '{record.model_name}', not to "
                    f"'{self.model_name}' (the config's name); move it back to "
                    f"{self.path / MODELS_DIRECTORY / record.model_name}"
                )
                foreign[directory.name] = record.model_name
                continue
            versions[record.version] = record
            if record.version != directory.name:
                problems.append(f"versions/{directory.name} holds metadata of {record.version}")
            problems += self._file_problems(record)
        try:
            aliases = self._aliases()
            entries = self.history()
        except RegistryError as error:
            return RegistryCheck((*problems, str(error)), tuple(notes))
        for alias, version in sorted(aliases.items()):
            if alias not in ALIASES:
                problems.append(f"aliases.json has an unknown alias '{alias}'")
            elif version in foreign:
                problems.append(f"{alias} points at {version}, a version of '{foreign[version]}'")
            elif version not in versions:
                problems.append(f"{alias} points at {version}, which is not a registered version")
        replayed: dict[str, str | None] = {}
        for number, entry in enumerate(entries, start=1):
            if entry.alias in replayed and replayed[entry.alias] != entry.from_version:
                problems.append(
                    f"history line {number} moves {entry.alias} from {entry.from_version}, "
                    f"but the line before left it at {replayed[entry.alias]}"
                )
            replayed[entry.alias] = entry.to_version
        for alias in ALIASES:
            if replayed.get(alias) != aliases.get(alias):
                problems.append(
                    f"{alias} is {aliases.get(alias)} in aliases.json but "
                    f"{replayed.get(alias)} after replaying history.jsonl"
                )
        champion = aliases.get("champion")
        if champion in versions:
            try:
                self.load_model(champion)
                self.load_reference(champion)
            except AutoretrainError as error:
                problems.append(f"the champion does not load: {error}")
            if versions[champion].status != "champion":
                notes.append(f"champion {champion} has status '{versions[champion].status}'")
        unaliased = [
            v for v, r in versions.items() if r.status == "registered" and v not in aliases.values()
        ]
        if unaliased:
            notes.append(f"registered but never compared: {', '.join(unaliased)}")
        for path in sorted((self.root / "comparisons").glob("*.json")):
            try:
                json.loads(path.read_text())
            except ValueError:
                problems.append(f"comparison {path.name} is not valid JSON")
        return RegistryCheck(tuple(problems), tuple(notes))

    def _file_problems(self, record: ModelVersion) -> list[str]:
        directory = self._version_dir(record.version)
        problems = []
        model = directory / "model.pkl"
        if not model.is_file():
            problems.append(f"model file of {record.version} is missing")
        elif _sha256(model) != record.model_sha256:
            problems.append(f"model file of {record.version} does not match its SHA-256")
        reference = directory / "reference.parquet"
        if not reference.is_file():
            problems.append(f"reference data of {record.version} is missing")
        elif record.reference_sha256 and _sha256(reference) != record.reference_sha256:
            problems.append(f"reference data of {record.version} does not match its SHA-256")
        if record.calibration_sha256:
            calibration = directory / CALIBRATION_FILE
            if not calibration.is_file():
                problems.append(f"calibration of {record.version} is missing")
            elif _sha256(calibration) != record.calibration_sha256:
                problems.append(f"calibration of {record.version} does not match its SHA-256")
        return problems

    # -- comparisons -----------------------------------------------------------------
    def _comparison_path(self, comparison_id: str) -> Path:
        if not re.fullmatch(r"[a-z0-9-]+", comparison_id):
            raise RegistryError(f"'{comparison_id}' is not a comparison id")
        return self.root / "comparisons" / f"{comparison_id}.json"

    def save_comparison(self, comparison_id: str, comparison: dict[str, Any]) -> Path:
        path = self._comparison_path(comparison_id)
        _write_json_atomic(path, comparison)
        return path

    def load_comparison(self, comparison_id: str) -> dict[str, Any]:
        path = self._comparison_path(comparison_id)
        if not path.is_file():
            raise RegistryError(f"comparison {comparison_id} not found in {path.parent}")
        return json.loads(path.read_text())  # type: ignore[no-any-return]


def open_registry(settings: RegistryConfig | Path, model_name: str) -> ModelRegistry:
    """The registry the config's registry section points at (a bare path: a local one)."""
    if isinstance(settings, Path):
        return LocalRegistry(settings, model_name)
    if settings.kind == "mlflow":
        try:
            from tasks.stores.mlflow_registry import MlflowRegistry
        except ImportError as error:
            raise RegistryError(
                f"registry.kind mlflow needs the MLflow client ({error}): install it with "
                "`pip install .[mlflow]`"
            ) from None
        if not settings.tracking_uri:
            raise RegistryError("registry.kind mlflow needs registry.tracking_uri")
        return MlflowRegistry(settings.path, model_name, settings.tracking_uri)
    return LocalRegistry(settings.path, model_name)
