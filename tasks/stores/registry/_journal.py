"""The alias journal both backends share: how an alias moves, and how a crash is rolled forward.

An alias change is a history entry first and the alias second: the history entry commits the
change, the alias is the state derived from it. A writer killed between the two leaves an entry
whose alias write is missing; the next change, or opening the registry, completes it (rolls it
forward). Every read-check-write of the aliases runs under the model's AliasLock, so a change
with `expected` is a compare-and-swap among the writers that take that lock.

ModelRegistry is what the flows need from a model store and the base every backend extends:
with its versions, comparisons and checks, and with how it reads its aliases and history,
appends a history entry, writes one alias and brings version statuses in line; the journal
does the rest: the compare-and-swap, the roll-forward, clearing a challenger that is already the
champion, the rollback and its target, the request-id check, and replaying the history in
verify(). register() is written here too: it stages a version's files and digests them, and
the backend saves the model its way and stores the staged version.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mmap
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.errors import RegistryError
from tasks.stores.registry._files import actor_name, sha256_file, utc_now
from tasks.stores.registry._lock import AliasLock
from tasks.stores.registry._types import (
    ALIASES,
    ATTACHMENTS_DIRECTORY,
    CALIBRATION_FILE,
    UNCHECKED,
    HistoryEntry,
    JsonDict,
    Lineage,
    ModelVersion,
    RegistryCheck,
    StoredCard,
    Unchecked,
    check_attachment_name,
)

logger = logging.getLogger(__name__)

REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class ModelRegistry(ABC):
    """What the flows need from a model store, with the aliases, their history and the rollback
    written once for every backend; LocalRegistry is the embedded default.

    A registry opened for one model sees only that model's versions, aliases and history.
    """

    model_name: str
    lock: AliasLock
    # How verify() names the history's items and where the aliases are kept, per backend.
    history_item = "entry"
    replay_mismatch = "{alias} is {stored} but {replayed} after replaying the history"

    # -- what a backend offers -----------------------------------------------------------
    def register(
        self,
        model: Any,
        reference: pd.DataFrame,
        lineage: Lineage,
        calibration: JsonDict | None = None,
        attachments: Mapping[str, bytes] | None = None,
    ) -> ModelVersion:
        """Store model, reference data, lineage, (if any) the calibration and the attachments
        (name -> the file's bytes) as a new version, all or nothing: written and digested in a
        staging directory, then stored by the backend."""
        attachments = dict(attachments or {})
        for name in attachments:
            check_attachment_name(name)
        with self._staging() as staging:
            model_sha256 = self._save_model(model, reference, lineage, staging)
            reference.to_parquet(staging / "reference.parquet", index=False)
            calibration_sha256 = ""
            if calibration is not None:
                (staging / CALIBRATION_FILE).write_text(
                    json.dumps(calibration, indent=2, sort_keys=True)
                )
                calibration_sha256 = sha256_file(staging / CALIBRATION_FILE)
            attachment_sha256: dict[str, str] = {}
            if attachments:
                (staging / ATTACHMENTS_DIRECTORY).mkdir()
                for name, content in sorted(attachments.items()):
                    (staging / ATTACHMENTS_DIRECTORY / name).write_bytes(content)
                    attachment_sha256[name] = sha256_file(staging / ATTACHMENTS_DIRECTORY / name)
            record = ModelVersion(
                **lineage.lineage_fields(),
                version="v0000",  # the backend numbers it when it stores it
                model_name=self.model_name,
                created_at=utc_now(),
                model_sha256=model_sha256,
                reference_sha256=sha256_file(staging / "reference.parquet"),
                calibration_sha256=calibration_sha256,
                attachments=attachment_sha256,
            )
            return self._store_version(staging, record)

    @abstractmethod
    def load_calibration(self, version: str) -> JsonDict | None: ...

    @abstractmethod
    def load_attachment(self, version: str, name: str) -> bytes | None:
        """The version's attachment called name, after checking its SHA-256; None when the
        version was registered without one of that name (RegistryError when it is recorded but
        missing or changed)."""

    def map_attachment(self, version: str, name: str) -> bytes | mmap.mmap | None:
        """load_attachment's content, checked the same way, as a buffer that may be a
        read-only memory map of the stored file (LocalRegistry): arrays read from it then need
        no copy of their own."""
        return self.load_attachment(version, name)

    @abstractmethod
    def get_version(self, version: str) -> ModelVersion: ...

    @abstractmethod
    def list_versions(self) -> list[ModelVersion]: ...

    @abstractmethod
    def load_model(self, version: str) -> Any: ...

    @abstractmethod
    def load_reference(
        self, version: str, sample_rows: int | None = None, seed: int = 0
    ) -> pd.DataFrame: ...

    @abstractmethod
    def get_alias(self, alias: str) -> str | None: ...

    @abstractmethod
    def mark(self, version: str, status: str) -> None: ...

    @abstractmethod
    def history(self) -> list[HistoryEntry]:
        """Every alias change, oldest first."""

    @abstractmethod
    def save_comparison(self, comparison_id: str, comparison: JsonDict) -> Path | str: ...

    @abstractmethod
    def load_comparison(self, comparison_id: str) -> JsonDict: ...

    @abstractmethod
    def save_card(self, version: str, markdown: str, record: JsonDict) -> StoredCard:
        """Store the version's model card (Markdown and its JSON record); a later card of the
        same version replaces it."""

    @abstractmethod
    def load_card(self, version: str) -> StoredCard: ...

    @staticmethod
    def _card_missing(version: str, where: str) -> RegistryError:
        """The error for a version without a model card; where: where it was looked for."""
        return RegistryError(
            f"{version} has no model card in {where}: a card is written when a version "
            "becomes champion (promotion, bootstrap or rollback), and versions that became "
            "champion before cards existed have none"
        )

    @staticmethod
    def _read_card(
        version: str, markdown: Path, record: Path, location: str, record_name: str
    ) -> StoredCard:
        """The card from its two files (location: where it is kept, as StoredCard reports it;
        record_name: the record as an unreadable-record error names it)."""
        try:
            data = json.loads(record.read_text())
        except ValueError as error:
            raise RegistryError(f"model card {record_name} is unreadable: {error}") from None
        return StoredCard(version, markdown.read_text(encoding="utf-8"), data, location)

    @abstractmethod
    def version_ids(self, version: str) -> dict[str, str]:
        """The backend's own ids of a version (for the card's lineage)."""

    @abstractmethod
    def claim_request(self, request_id: str) -> bool: ...

    @abstractmethod
    def verify(self) -> RegistryCheck: ...

    # -- how a backend stores a version ---------------------------------------------------
    @abstractmethod
    def _staging(self) -> contextlib.AbstractContextManager[Path]:
        """A directory to write a new version's files in; removed if the registration fails."""

    @abstractmethod
    def _save_model(
        self, model: Any, reference: pd.DataFrame, lineage: Lineage, staging: Path
    ) -> str:
        """Write the model into staging, as the backend keeps it; its SHA-256."""

    @abstractmethod
    def _store_version(self, staging: Path, record: ModelVersion) -> ModelVersion:
        """Store the staged files (the model, reference.parquet, and CALIBRATION_FILE when the
        record has a calibration digest) as a new version the backend numbers; the record as
        stored."""

    # -- what a backend says for the journal ---------------------------------------------
    @property
    @abstractmethod
    def location(self) -> str:
        """Where the model's registry is, for messages."""

    @abstractmethod
    def _read_aliases(self) -> dict[str, str]:
        """The aliases as stored now, by alias."""

    def _read_state(self) -> tuple[dict[str, str], list[HistoryEntry]]:
        """Aliases and history together (a backend may read both in one call)."""
        return self._read_aliases(), self.history()

    @abstractmethod
    def _append_history(self, entry: HistoryEntry) -> None:
        """Append entry to the history, durably: this commits the change."""

    @abstractmethod
    def _write_alias(self, alias: str, version: str | None) -> None:
        """Point alias at version (None removes it) in the store."""

    @abstractmethod
    def _recover_statuses(self, champion: str | None, entries: list[HistoryEntry]) -> None:
        """Bring the versions' statuses in line with the champion alias (caught_up_status)."""

    @abstractmethod
    def _champion_for_rollback(self) -> str | None:
        """The champion a rollback moves away from (None: there is none)."""

    @abstractmethod
    def _may_mark_rolled_back(self, champion: str) -> bool:
        """Whether the champion rolled back from can be marked rolled-back; RegistryError if it
        must not be rolled back from at all."""

    def _calling(self, what: str) -> contextlib.AbstractContextManager[None]:
        """Around a write to the store: a backend turns its client's errors into RegistryError."""
        return contextlib.nullcontext()

    def _before_alias_write(self) -> None:
        """What the store needs before its first alias write (MLflow: the registered model)."""
        return None

    # -- the journal --------------------------------------------------------------------
    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return self.lock.hold()

    def set_alias(
        self,
        alias: str,
        version: str | None,
        *,
        reason: str,
        action: str,
        expected: str | Unchecked | None = UNCHECKED,
        actor: str | None = None,
    ) -> None:
        """Point alias at version (None removes it); with expected (a version, or None for
        "nowhere"), only if it still points there.

        The check and the change happen under the model's lock: a compare-and-swap among the
        writers that take it (see each backend for who they are). actor defaults to the user
        running the process.
        """
        if alias not in ALIASES:
            raise RegistryError(f"unknown alias '{alias}'; aliases are {ALIASES}")
        with self._locked():
            self._recover_locked()
            self._set_alias_locked(alias, version, reason, action, actor, expected=expected)

    def _set_alias_locked(
        self,
        alias: str,
        version: str | None,
        reason: str,
        action: str,
        actor: str | None = None,
        *,
        expected: str | Unchecked | None = UNCHECKED,
        current: str | Unchecked | None = UNCHECKED,
    ) -> None:
        if current is UNCHECKED:  # else the caller read it under this lock
            current = self._read_aliases().get(alias)
        if expected is not UNCHECKED and current != expected:
            raise RegistryError(
                f"{alias} is {current}, not {expected} as expected: another run changed it; "
                "run the comparison again"
            )
        if version is not None:
            self.get_version(version)
        self._before_alias_write()
        entry = HistoryEntry(
            utc_now(), action, alias, current, version, reason, actor or actor_name()
        )
        # History first, then the alias: the history entry commits the change. A crash in
        # between leaves an entry whose alias write is missing; _recover_locked completes it.
        with self._calling(f"moving {alias} to {version}"):
            self._append_history(entry)
            self._write_alias(alias, version)

    def _recover_locked(self, *, on_open: bool = False) -> None:
        """Finish what a writer killed mid-change left undone; call with the lock held.

        Before every alias change: complete an alias change whose history entry was written.
        On opening the registry also: drop a challenger alias that is already the champion,
        and bring statuses in line with the champion alias (steps a promotion takes after
        the alias move, outside the lock). Only states a crash can produce are repaired;
        anything else is left for verify().
        """
        try:
            aliases, entries = self._read_state()
        except RegistryError as error:
            logger.error("registry %s needs attention: %s", self.location, error)
            return
        for alias in ALIASES:
            last = next((e for e in reversed(entries) if e.alias == alias), None)
            current = aliases.get(alias)
            if last is None or last.to_version == current or last.from_version != current:
                continue
            if last.to_version is not None and not self._is_own_version(last.to_version):
                continue  # deleted since, or another model's: left for verify() to report
            # The history entry was written, the alias not: the writer died in between.
            logger.warning(
                "completing an interrupted alias change: %s %s -> %s (%s)",
                alias,
                current,
                last.to_version,
                last.reason,
            )
            with self._calling(f"completing the move of {alias}"):
                self._write_alias(alias, last.to_version)
            if last.to_version is None:
                aliases.pop(alias, None)
            else:
                aliases[alias] = last.to_version
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

    @staticmethod
    def caught_up_status(
        version: str, status: str | None, champion: str | None, entries: list[HistoryEntry]
    ) -> str | None:
        """The status a version must have after the aliases' last change (None: it has it)."""
        wanted = None
        if version == champion and status != "champion":
            wanted = "champion"
        elif version != champion and status == "champion":
            rolled_back = any(e.action == "rollback" and e.from_version == version for e in entries)
            wanted = "rolled-back" if rolled_back else "retired"
        if wanted is not None:
            logger.warning(
                "status of %s: %s -> %s (catching up with the aliases)", version, status, wanted
            )
        return wanted

    def rollback(
        self,
        *,
        to_version: str | None = None,
        reason: str,
        actor: str | None = None,
        expected: str | None = None,
    ) -> tuple[str, str]:
        """Make the previous champion (or to_version) champion again; return (from, to).

        With expected, only if the champion is still that version (a compare-and-swap under
        the lock, as a promotion's): RegistryError, nothing changed, when another run moved it.
        """
        with self._locked():
            self._recover_locked()
            current, target = self.rollback_target(to_version)
            if expected is not None and current != expected:
                raise RegistryError(
                    f"champion is {current}, not {expected} as expected: another run changed "
                    "it; nothing was rolled back"
                )
            mark_current = self._may_mark_rolled_back(current)
            self.load_model(target)  # refuse a target that would not load
            self._set_alias_locked("champion", target, reason, "rollback", actor, current=current)
        if mark_current:
            self.mark(current, "rolled-back")
        self.mark(target, "champion")
        return current, target

    def rollback_target(self, to_version: str | None = None) -> tuple[str, str]:
        """(champion, version a rollback would restore), changing nothing; RegistryError when
        there is no champion, no earlier one, or to_version is missing or already champion."""
        current = self._champion_for_rollback()
        if current is None:
            raise RegistryError("there is no champion to roll back")
        target = to_version or self._previous_champion(current, self.history())
        if target is None:
            raise RegistryError(
                f"{current} is the first champion: there is no earlier one to roll back to"
            )
        if target == current:
            raise RegistryError(f"{target} is already the champion")
        self.get_version(target)
        return current, target

    @staticmethod
    def _previous_champion(current: str, entries: list[HistoryEntry]) -> str | None:
        for entry in reversed(entries):
            # Skip rollbacks, so a second rollback goes further back instead of undoing the first.
            # An entry that moved nothing (the migrate line) is no promotion either.
            if (
                entry.alias == "champion"
                and entry.to_version == current
                and entry.from_version != current
                and entry.action != "rollback"
            ):
                return entry.from_version
        return None

    @staticmethod
    def check_request_id(request_id: str) -> str:
        """The request id, if it is one (it names a file or a tag); else RegistryError."""
        if not REQUEST_ID.fullmatch(request_id):
            raise RegistryError(f"'{request_id}' is not a request id")
        return request_id

    # -- verify ---------------------------------------------------------------------------
    def replay_problems(self, aliases: dict[str, str], entries: list[HistoryEntry]) -> list[str]:
        """Where replaying the history does not chain, or does not end at the stored aliases."""
        problems = []
        item = self.history_item
        replayed: dict[str, str | None] = {}
        for number, entry in enumerate(entries, start=1):
            if entry.alias in replayed and replayed[entry.alias] != entry.from_version:
                problems.append(
                    f"history {item} {number} moves {entry.alias} from {entry.from_version}, "
                    f"but the {item} before left it at {replayed[entry.alias]}"
                )
            replayed[entry.alias] = entry.to_version
        for alias in ALIASES:
            if replayed.get(alias) != aliases.get(alias):
                problems.append(
                    self.replay_mismatch.format(
                        alias=alias, stored=aliases.get(alias), replayed=replayed.get(alias)
                    )
                )
        return problems

    @staticmethod
    def status_notes(aliases: dict[str, str], versions: dict[str, ModelVersion]) -> list[str]:
        """Harmless findings: a champion whose status lags, versions never compared."""
        notes = []
        champion = aliases.get("champion")
        if champion in versions and versions[champion].status != "champion":
            notes.append(f"champion {champion} has status '{versions[champion].status}'")
        unaliased = [
            v for v, r in versions.items() if r.status == "registered" and v not in aliases.values()
        ]
        if unaliased:
            notes.append(f"registered but never compared: {', '.join(unaliased)}")
        return notes
