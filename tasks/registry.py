"""The model registry: versions, aliases, audit history and comparisons.

The local implementation keeps everything in one directory:

    versions/v0001/model.pkl, reference.parquet, metadata.json
    aliases.json           {"champion": "v0001", "challenger": "v0002"}
    history.jsonl          one line per alias change, append-only
    comparisons/<id>.json  champion-challenger comparisons
    .lock                  serialises writers

A version directory is written under a temporary name and renamed into place, and
aliases.json is replaced atomically, so a crash never leaves a half-written version or
alias that a later run would trust.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import json
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

from tasks.errors import ModelError, RegistryError

ALIASES = ("champion", "challenger")
STALE_STAGING_SECONDS = 3600


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


class ModelRegistry(Protocol):
    """What the flows need from a model store; LocalRegistry is the embedded default."""

    def register(
        self, model: Any, reference: pd.DataFrame, metadata: dict[str, Any]
    ) -> ModelVersion: ...

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

    def save_comparison(self, comparison_id: str, comparison: dict[str, Any]) -> Path: ...

    def load_comparison(self, comparison_id: str) -> dict[str, Any]: ...

    def rollback(
        self, *, to_version: str | None = None, reason: str, actor: str | None = None
    ) -> tuple[str, str]: ...

    def claim_request(self, request_id: str) -> bool: ...


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


class LocalRegistry:
    """A registry on the local file system (the embedded default)."""

    def __init__(self, root: Path, model_name: str) -> None:
        self.root = Path(root)
        self.model_name = model_name
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "versions").mkdir(exist_ok=True)
        (self.root / "comparisons").mkdir(exist_ok=True)
        self._clean_temporary()

    # -- locking -----------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _clean_temporary(self) -> None:
        """Remove leftovers of writers that died mid-write; they were never visible."""
        # Only old ones: a young staging directory may belong to a writer still at work.
        cutoff = time.time() - STALE_STAGING_SECONDS
        for leftover in (self.root / "versions").glob(".tmp-*"):
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    shutil.rmtree(leftover, ignore_errors=True)

    # -- versions ----------------------------------------------------------------
    def _version_dir(self, version: str) -> Path:
        if not re.fullmatch(r"v\d{4,}", version):
            raise RegistryError(f"'{version}' is not a version id (they look like v0001)")
        return self.root / "versions" / version

    def _next_version(self) -> str:
        numbers = [int(p.name[1:]) for p in (self.root / "versions").glob("v[0-9]*")]
        return f"v{max(numbers, default=0) + 1:04d}"

    def register(
        self, model: Any, reference: pd.DataFrame, metadata: dict[str, Any]
    ) -> ModelVersion:
        """Store model, reference data and metadata as a new version, all or nothing."""
        staging = Path(tempfile.mkdtemp(dir=self.root / "versions", prefix=".tmp-"))
        try:
            with (staging / "model.pkl").open("wb") as out:
                pickle.dump(model, out, protocol=pickle.HIGHEST_PROTOCOL)
            reference.to_parquet(staging / "reference.parquet", index=False)
            with self._locked():
                version = self._next_version()
                record = ModelVersion(
                    version=version,
                    model_name=self.model_name,
                    created_at=_now(),
                    model_sha256=_sha256(staging / "model.pkl"),
                    **metadata,
                )
                (staging / "metadata.json").write_text(json.dumps(record.to_dict(), indent=2))
                os.rename(staging, self._version_dir(version))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return record

    def get_version(self, version: str) -> ModelVersion:
        path = self._version_dir(version) / "metadata.json"
        if not path.is_file():
            raise RegistryError(f"no model version {version} in {self.root}")
        return ModelVersion(**json.loads(path.read_text()))

    def list_versions(self) -> list[ModelVersion]:
        names = sorted(
            (p.name for p in (self.root / "versions").glob("v[0-9]*")), key=lambda n: int(n[1:])
        )
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
        path = self._version_dir(version) / "model.pkl"
        if not path.is_file():
            raise ModelError(f"model file of {version} is missing: {path}")
        actual = _sha256(path)
        if actual != record.model_sha256:
            raise ModelError(
                f"model file of {version} does not match its registered SHA-256 "
                f"({actual[:12]} != {record.model_sha256[:12]}); refusing to load it. "
                "Restore the file or roll back to another version."
            )
        try:
            with path.open("rb") as handle:
                return pickle.load(handle)
        except Exception as error:
            raise ModelError(f"cannot load model file of {version}: {error}") from None

    def load_reference(
        self, version: str, sample_rows: int | None = None, seed: int = 0
    ) -> pd.DataFrame:
        """The version's reference data; with sample_rows, a seeded sample of at most that many
        rows, computed once per version and kept next to it."""
        path = self._version_dir(version) / "reference.parquet"
        if not path.is_file():
            raise RegistryError(f"reference data of {version} is missing: {path}")
        if sample_rows is None:
            return pd.read_parquet(path)
        cached = path.with_name(f"reference-sample-{sample_rows}-{seed}.parquet")
        if cached.is_file():
            return pd.read_parquet(cached)
        sample = sample_rows_of(pd.read_parquet(path), sample_rows, seed)
        handle, temporary = tempfile.mkstemp(dir=cached.parent, prefix=".sample-", suffix=".tmp")
        os.close(handle)
        try:
            sample.to_parquet(temporary, index=False)
            os.replace(temporary, cached)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        return sample

    # -- aliases and history --------------------------------------------------------
    def _aliases(self) -> dict[str, str]:
        path = self.root / "aliases.json"
        return json.loads(path.read_text()) if path.is_file() else {}

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
        # History first, then the alias: a crash in between leaves a history line for a
        # change that did not happen, which verify_history reports, never the reverse.
        with (self.root / "history.jsonl").open("a") as out:
            out.write(json.dumps(asdict(entry)) + "\n")
            out.flush()
            os.fsync(out.fileno())
        _write_json_atomic(self.root / "aliases.json", aliases)

    def history(self) -> list[HistoryEntry]:
        path = self.root / "history.jsonl"
        if not path.is_file():
            return []
        return [HistoryEntry(**json.loads(line)) for line in path.read_text().splitlines() if line]

    def rollback(
        self, *, to_version: str | None = None, reason: str, actor: str | None = None
    ) -> tuple[str, str]:
        """Make the previous champion (or to_version) champion again; return (from, to)."""
        with self._locked():
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
            self.load_model(target)  # refuse a target that would not load
            self._set_alias_locked(
                "champion", target, reason=reason, action="rollback", actor=actor
            )
        self.mark(current, "rolled-back")
        self.mark(target, "champion")
        return current, target

    def _previous_champion(self, current: str) -> str | None:
        for entry in reversed(self.history()):
            # Skip rollbacks, so a second rollback goes further back instead of undoing the first.
            if (
                entry.alias == "champion"
                and entry.to_version == current
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


def open_registry(path: Path, model_name: str) -> ModelRegistry:
    """The registry the config points at."""
    return LocalRegistry(path, model_name)
