"""The local registry (the default): a directory on this machine, one namespace per model.

It keeps each model in its own directory under registry.path:

    models/<name>/versions/v0001/model.pkl, reference.parquet, metadata.json,
                                   calibration.json (classifiers: the probabilities' calibration
                                   on the holdout, for the label-free estimate; optional),
                                   card.md, card.json (its model card, written when it becomes
                                   champion: promotion, bootstrap or rollback),
                                   attachments/<name> (files kept with the version by other
                                   parts of the loop; SHA-256 in metadata.json)
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


The move of a registry written before namespaces is in _migration.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import mmap
import os
import pickle
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.core.frames import sample_rows_of
from tasks.errors import AutoretrainError, ModelError, RegistryError
from tasks.stores.files import write_bytes_atomic
from tasks.stores.registry._files import (
    append_line,
    drop_partial_line,
    fsync_path,
    read_calibration,
    read_parquet_file,
    sha256_file,
    utc_now,
    write_json_atomic,
    write_text_atomic,
)
from tasks.stores.registry._journal import ModelRegistry
from tasks.stores.registry._layout import MODELS_DIRECTORY, VERSION_ID, model_directory
from tasks.stores.registry._lock import AliasLock, FileAliasLock
from tasks.stores.registry._migration import migrate_root_layout
from tasks.stores.registry._types import (
    ALIASES,
    ATTACHMENTS_DIRECTORY,
    CALIBRATION_FILE,
    CARD_MARKDOWN,
    CARD_RECORD,
    HistoryEntry,
    JsonDict,
    Lineage,
    ModelVersion,
    RegistryCheck,
    StoredCard,
    check_attachment_name,
    check_model_name,
)

logger = logging.getLogger(__name__)

STALE_STAGING_SECONDS = 3600


class LocalRegistry(ModelRegistry):
    """A registry on the local file system (the embedded default)."""

    history_item = "line"
    replay_mismatch = (
        "{alias} is {stored} in aliases.json but {replayed} after replaying history.jsonl"
    )

    def __init__(self, path: Path, model_name: str, lock: AliasLock | None = None) -> None:
        """lock: what serialises the model's writers (default: the file models/<name>/.lock)."""
        self.path = Path(path)
        self.model_name = check_model_name(model_name)
        self.root = model_directory(self.path, model_name)
        self.lock = lock or FileAliasLock(self.root / ".lock")
        self.path.mkdir(parents=True, exist_ok=True)
        migrate_root_layout(self.path, model_name)
        (self.root / "versions").mkdir(parents=True, exist_ok=True)
        (self.root / "comparisons").mkdir(exist_ok=True)
        self._clean_temporary()
        with self._locked():
            self._recover_locked(on_open=True)

    @property
    def location(self) -> str:
        """Where the model lives, for messages."""
        return str(self.root)

    def _clean_temporary(self) -> None:
        """Remove leftovers of writers that died mid-write; they were never visible."""
        # Only old ones: a young staging directory may belong to a writer still at work.
        cutoff = time.time() - STALE_STAGING_SECONDS
        for leftover in (self.root / "versions").glob(".tmp-*"):
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    shutil.rmtree(leftover, ignore_errors=True)
        for directory in (self.root, self.root / "comparisons", *self._version_dirs()):
            for leftover in directory.glob(".*.tmp"):  # from write_json_atomic
                with contextlib.suppress(FileNotFoundError):
                    if leftover.stat().st_mtime < cutoff:
                        leftover.unlink()

    def _version_dirs(self) -> list[Path]:
        return [p for p in (self.root / "versions").glob("v[0-9]*") if VERSION_ID.fullmatch(p.name)]

    # -- recovery after a crash -------------------------------------------------------
    def _recover_locked(self, *, on_open: bool = False) -> None:
        # A last line without its newline never committed (only a power cut leaves one).
        drop_partial_line(self.root / "history.jsonl")
        super()._recover_locked(on_open=on_open)

    def _recover_statuses(self, champion: str | None, entries: list[HistoryEntry]) -> None:
        """Statuses follow the champion alias (a writer may die between alias and mark)."""
        for directory in self._version_dirs():
            try:
                record = self.get_version(directory.name)
            except (RegistryError, ValueError, TypeError):
                continue  # verify() reports unreadable metadata
            wanted = self.caught_up_status(record.version, record.status, champion, entries)
            if wanted is not None:
                updated = {**record.to_dict(), "status": wanted}
                write_json_atomic(self._version_dir(record.version) / "metadata.json", updated)

    # -- versions ----------------------------------------------------------------
    def _version_dir(self, version: str) -> Path:
        if not isinstance(version, str) or not VERSION_ID.fullmatch(version):
            raise RegistryError(f"'{version}' is not a version id (they look like v0001)")
        return self.root / "versions" / version

    def _next_version(self) -> str:
        numbers = [int(p.name[1:]) for p in self._version_dirs()]
        return f"v{max(numbers, default=0) + 1:04d}"

    @contextlib.contextmanager
    def _staging(self) -> Iterator[Path]:
        staging = Path(tempfile.mkdtemp(dir=self.root / "versions", prefix=".tmp-"))
        try:
            yield staging  # renamed to the version's directory once stored
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _save_model(
        self, model: Any, reference: pd.DataFrame, lineage: Lineage, staging: Path
    ) -> str:
        with (staging / "model.pkl").open("wb") as out:
            pickle.dump(model, out, protocol=pickle.HIGHEST_PROTOCOL)
        return sha256_file(staging / "model.pkl")

    def _store_version(self, staging: Path, record: ModelVersion) -> ModelVersion:
        """Rename the staged directory to the next version's, with its metadata.json."""
        files = ["model.pkl", "reference.parquet"]
        if record.calibration_sha256:
            files.append(CALIBRATION_FILE)
        files += [f"{ATTACHMENTS_DIRECTORY}/{name}" for name in record.attachments]
        if record.attachments:
            files.append(ATTACHMENTS_DIRECTORY)
        for name in files:
            fsync_path(staging / name)
        with self._locked():
            # Numbered and dated under the lock: concurrent writers never share a number, and a
            # later number has a later time.
            record = replace(record, version=self._next_version(), created_at=utc_now())
            (staging / "metadata.json").write_text(json.dumps(record.to_dict(), indent=2))
            fsync_path(staging / "metadata.json")
            fsync_path(staging)
            os.rename(staging, self._version_dir(record.version))
            fsync_path(self.root / "versions")
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
            write_json_atomic(self._version_dir(version) / "metadata.json", updated)

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
        actual = sha256_file(path)
        if actual != expected:
            raise error(
                f"{what} of {version} does not match its registered SHA-256 "
                f"({actual[:12]} != {expected[:12]}); refusing to {verb} it. "
                "Restore the file or roll back to another version."
            )
        return path

    def load_calibration(self, version: str) -> JsonDict | None:
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
        return read_calibration(path, version)

    def load_attachment(self, version: str, name: str) -> bytes | None:
        """A version's attachment after checking its SHA-256; None when it was registered
        without one of that name."""
        check_attachment_name(name)
        expected = self.get_version(version).attachments.get(name)
        if expected is None:
            return None
        path = self._checked_file(
            version,
            f"{ATTACHMENTS_DIRECTORY}/{name}",
            expected,
            f"attachment {name}",
            "use",
            RegistryError,
        )
        return path.read_bytes()

    def map_attachment(self, version: str, name: str) -> bytes | mmap.mmap | None:
        """A version's attachment as a read-only memory map of its file, after checking the
        SHA-256 of that very map (the file's pages, shared with the page cache, not a copy in
        the process); None when it was registered without one of that name. A version's files
        are never rewritten in place (a registration writes a new directory), so the map keeps
        the checked content."""
        check_attachment_name(name)
        expected = self.get_version(version).attachments.get(name)
        if expected is None:
            return None
        path = self._version_dir(version) / ATTACHMENTS_DIRECTORY / name
        what = f"attachment {name} of {version}"
        if not path.is_file():
            raise RegistryError(f"{what} is missing: {path}")
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            content: bytes | mmap.mmap = (
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
            )
        actual = hashlib.sha256(content).hexdigest()
        if actual != expected:
            raise RegistryError(
                f"{what} does not match its registered SHA-256 ({actual[:12]} != "
                f"{expected[:12]}); refusing to use it. Restore the file or roll back to "
                "another version."
            )
        return content

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
        reference_sha256 = sha256_file(path)
        if record.reference_sha256 and reference_sha256 != record.reference_sha256:
            raise RegistryError(
                f"reference data of {version} does not match its registered SHA-256; refusing "
                "to measure drift against it. Restore the file or roll back to another version."
            )
        if sample_rows is None:
            return read_parquet_file(path)
        cached = path.with_name(f"reference-sample-{sample_rows}-{seed}.parquet")
        stamp = cached.with_name(f"{cached.stem}.sha256.json")
        expected = {"reference_sha256": reference_sha256}
        if cached.is_file() and stamp.is_file():
            with contextlib.suppress(ValueError, OSError):
                kept = json.loads(stamp.read_text())
                if kept == {**expected, "sample_sha256": sha256_file(cached)}:
                    return read_parquet_file(cached)
            logger.warning(
                "the kept reference sample %s of %s does not match its digest; drawing it again",
                cached.name,
                version,
            )
        sample = sample_rows_of(read_parquet_file(path), sample_rows, seed)
        # A cache drawn again when its stamp disagrees: replaced in one step, not flushed.
        encoded = io.BytesIO()
        sample.to_parquet(encoded, index=False)
        content = encoded.getvalue()
        write_bytes_atomic(cached, content, durable=False)
        # The stamp is written last: a sample without a matching stamp is drawn again. Its digest
        # is of the bytes just written, not of the file read back.
        digest = hashlib.sha256(content).hexdigest()
        write_json_atomic(stamp, {**expected, "sample_sha256": digest})
        return sample

    # -- aliases and history --------------------------------------------------------
    def _read_aliases(self) -> dict[str, str]:
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
        return self._read_aliases().get(alias)

    def _append_history(self, entry: HistoryEntry) -> None:
        append_line(self.root / "history.jsonl", entry)

    def _write_alias(self, alias: str, version: str | None) -> None:
        aliases = self._read_aliases()
        if version is None:
            aliases.pop(alias, None)
        else:
            aliases[alias] = version
        write_json_atomic(self.root / "aliases.json", aliases)

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

    def _champion_for_rollback(self) -> str | None:
        return self._read_aliases().get("champion")

    def _may_mark_rolled_back(self, champion: str) -> bool:
        try:
            owner: str | None = self._read_metadata(champion).model_name
        except RegistryError:
            return False  # unreadable: roll back from it all the same, unmarked
        if owner != self.model_name:
            self.get_version(champion)  # another model's champion: refuse, naming both
        return True

    # -- requests ----------------------------------------------------------------------
    def claim_request(self, request_id: str) -> bool:
        """Record that a request (e.g. one retrain.requested event) is being handled; False if
        it already was, so an event delivered twice never retrains twice."""
        self.check_request_id(request_id)
        requests = self.root / "requests"
        requests.mkdir(exist_ok=True)
        try:
            handle = os.open(requests / request_id, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        with os.fdopen(handle, "w") as out:
            out.write(utc_now())
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
            aliases = self._read_aliases()
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
        problems += self.replay_problems(aliases, entries)
        champion = aliases.get("champion")
        if champion in versions:
            try:
                self.load_model(champion)
                self.load_reference(champion)
            except AutoretrainError as error:
                problems.append(f"the champion does not load: {error}")
        notes += self.status_notes(aliases, versions)
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
        elif sha256_file(model) != record.model_sha256:
            problems.append(f"model file of {record.version} does not match its SHA-256")
        reference = directory / "reference.parquet"
        if not reference.is_file():
            problems.append(f"reference data of {record.version} is missing")
        elif record.reference_sha256 and sha256_file(reference) != record.reference_sha256:
            problems.append(f"reference data of {record.version} does not match its SHA-256")
        if record.calibration_sha256:
            calibration = directory / CALIBRATION_FILE
            if not calibration.is_file():
                problems.append(f"calibration of {record.version} is missing")
            elif sha256_file(calibration) != record.calibration_sha256:
                problems.append(f"calibration of {record.version} does not match its SHA-256")
        for name, expected in sorted(record.attachments.items()):
            attachment = directory / ATTACHMENTS_DIRECTORY / name
            if not attachment.is_file():
                problems.append(f"attachment {name} of {record.version} is missing")
            elif sha256_file(attachment) != expected:
                problems.append(f"attachment {name} of {record.version} does not match its SHA-256")
        return problems

    # -- model cards -----------------------------------------------------------------
    def save_card(self, version: str, markdown: str, record: JsonDict) -> StoredCard:
        """Write the version's model card beside its files (card.json, then card.md, each
        replaced atomically); a later card of the version (a rollback's) replaces it."""
        with self._locked():
            self.get_version(version)
            directory = self._version_dir(version)
            write_json_atomic(directory / CARD_RECORD, record)
            write_text_atomic(directory / CARD_MARKDOWN, markdown)
        return StoredCard(version, markdown, record, str(directory / CARD_MARKDOWN))

    def load_card(self, version: str) -> StoredCard:
        """The version's model card; RegistryError when it has none or it is unreadable."""
        self.get_version(version)
        directory = self._version_dir(version)
        markdown, record = directory / CARD_MARKDOWN, directory / CARD_RECORD
        if not markdown.is_file() or not record.is_file():
            raise self._card_missing(version, str(directory))
        return self._read_card(version, markdown, record, str(markdown), str(record))

    def version_ids(self, version: str) -> dict[str, str]:
        """Where the version is kept: its directory."""
        self.get_version(version)
        return {"registry": "local", "version_directory": str(self._version_dir(version))}

    # -- comparisons -----------------------------------------------------------------
    def _comparison_path(self, comparison_id: str) -> Path:
        if not re.fullmatch(r"[a-z0-9-]+", comparison_id):
            raise RegistryError(f"'{comparison_id}' is not a comparison id")
        return self.root / "comparisons" / f"{comparison_id}.json"

    def save_comparison(self, comparison_id: str, comparison: JsonDict) -> Path:
        path = self._comparison_path(comparison_id)
        write_json_atomic(path, comparison)
        return path

    def load_comparison(self, comparison_id: str) -> JsonDict:
        path = self._comparison_path(comparison_id)
        if not path.is_file():
            raise RegistryError(f"comparison {comparison_id} not found in {path.parent}")
        return json.loads(path.read_text())
