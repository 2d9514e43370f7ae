"""The model registry on an MLflow tracking server: the same ModelRegistry, seen in MLflow's UI.

What goes where, for a model NAME (the config's name, also the registered model's name):

    registered model NAME                 one MLflow model version per autoretrain version:
                                          v0001 is MLflow version 1, v0012 is version 12
    its aliases champion, challenger      MLflow registered-model aliases, so a serving system
                                          loads models:/NAME@champion
    its tags autoretrain.history.NNNNNN   the latest alias changes, one JSON entry each (who,
                                          why); all of them are tags of the experiment's run
                                          "alias history" (_mlflow_alias_history.py)
    experiment autoretrain-NAME           one run per version: the model (scikit-learn flavour,
                                          signature, input example) under model/, the reference
                                          data under reference/, the calibration of its
                                          probabilities (if any) under calibration/, its
                                          attachments under attachments/, the
                                          lineage under lineage/, its model card
                                          under card/ (card.md, card.json; the card is also
                                          the model version's description), the
                                          training metrics and the estimator's params; one run per
                                          comparison (comparison.json and its numbers as metrics);
                                          one run per monitor run (its HTML reports and summary,
                                          _mlflow_monitor_runs.py)
    the experiment's tags                 autoretrain.request.ID: retrain requests already handled
    a version's tags                      autoretrain.metadata (the lineage, JSON),
                                          autoretrain.status, autoretrain.model_sha256,
                                          autoretrain.reference_sha256,
                                          autoretrain.comparison.ID (the run of each comparison)

model_sha256 is the SHA-256 of the logged model directory (every file's path and SHA-256, in
order); the files are downloaded to a temporary directory and checked against it before any
load, so a model changed in the artifact store is refused. The reference data is checked the
same way against reference_sha256.

MLflow has no compare-and-swap on aliases. An alias change re-reads the alias and compares it
with the expected one under the model's AliasLock (by default a lock file in registry.path,
which serialises this machine's writers; see _lock.py), and the flows hold the model's Prefect concurrency slot around a promotion (which
serialises autoretrain's writers everywhere). The window that remains: a writer that uses
neither (someone moving the alias in the MLflow UI, or another tool) between the re-read and
the change. Its change is then overwritten, and `verify` reports the history and the alias
disagreeing.

As in the local registry (both extend the alias journal, _journal.py), an alias change writes
its history entry first and the alias second; opening the registry completes a change whose
alias write is missing. The connection, its errors and the names autoretrain uses on the server
are in _mlflow_client.py.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.core.frames import sample_rows_of
from tasks.errors import AutoretrainError, ModelError, RegistryError
from tasks.secrets import mask_url_password, redact_url_password
from tasks.stores.registry._files import (
    read_calibration,
    read_parquet_file,
    sha256_file,
    utc_now,
)
from tasks.stores.registry._journal import ModelRegistry
from tasks.stores.registry._lock import AliasLock, FileAliasLock
from tasks.stores.registry._mlflow_alias_history import MlflowAliasHistory
from tasks.stores.registry._mlflow_client import (
    COMPARISON_TAG,
    MLFLOW_ENVIRONMENT,
    REQUEST_TAG,
    TAG,
    VERSION_ID,
    metric_key,
    metric_values,
    tree_sha256,
    version_id,
    version_number,
)
from tasks.stores.registry._mlflow_monitor_runs import MlflowMonitorRuns
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
)

logger = logging.getLogger(__name__)

# What MLflow keeps of a model version's description (a String(5000) column).
DESCRIPTION_CHARACTERS = 5000


class MlflowRegistry(MlflowMonitorRuns, MlflowAliasHistory, ModelRegistry):
    """A registry on an MLflow tracking server (registry.kind: mlflow)."""

    replay_mismatch = (
        "{alias} is {stored} in MLflow but {replayed} after replaying the history: it was moved "
        "outside autoretrain, or its version was deleted by hand"
    )

    def __init__(
        self, path: Path, model_name: str, tracking_uri: str, lock: AliasLock | None = None
    ) -> None:
        """lock: what serialises the model's writers (default: the file
        registry.path/.mlflow-<name>.lock, which serialises this machine's)."""
        super().__init__(model_name, tracking_uri)
        self.path = Path(path)
        self.lock = lock or FileAliasLock(self.path / f".mlflow-{self.model_name}.lock")
        self.path.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self._recover_locked(on_open=True)

    def __repr__(self) -> str:
        return f"MlflowRegistry({self.shown_uri!r}, {self.model_name!r})"

    def _before_alias_write(self) -> None:
        self._ensure_registered()

    # -- versions ----------------------------------------------------------------------
    @contextlib.contextmanager
    def _staging(self) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="autoretrain-mlflow-") as scratch:
            yield Path(scratch)

    def _save_model(
        self, model: Any, reference: pd.DataFrame, lineage: Lineage, staging: Path
    ) -> str:
        import mlflow.sklearn
        from mlflow.models import infer_signature

        features = list(lineage.features or reference.columns)
        inputs = reference[features].head(100)
        mlflow.sklearn.save_model(
            model,
            staging / "model",
            serialization_format="cloudpickle",  # like the local registry: digest-guarded
            signature=infer_signature(inputs, model.predict(inputs)),
            input_example=reference[features].head(5),
            pip_requirements=_requirements(),
        )
        return tree_sha256(staging / "model")

    def _store_version(self, staging: Path, record: ModelVersion) -> ModelVersion:
        """Log the staged files and the lineage on a run, then register it as a new version.

        The version is created last, in one call with its tags: a writer that dies before it
        leaves a run that no version points at (never read), not a half-written version.
        """
        experiment_id = self._experiment_id()
        with self._calling("logging the version's run"):
            run = self.client.create_run(
                experiment_id,
                run_name=f"{self.model_name} {record.reason}"[:250],
                tags={
                    f"{TAG}kind": "version",
                    f"{TAG}code_version": record.code_version,
                    f"{TAG}data_fingerprint": record.data_fingerprint,
                    f"{TAG}training_window": json.dumps(record.training_window),
                    f"{TAG}source": record.source[:5000],
                    f"{TAG}data_source": record.data_source[:5000],
                },
            )
            run_id = run.info.run_id
            for key, value in sorted(record.params.items()):
                self.client.log_param(run_id, metric_key(key)[:250], str(value)[:6000])
            for key, number in metric_values(record.metrics).items():
                self.client.log_metric(run_id, key, number)
            self.client.log_metric(run_id, "training_rows", record.training_rows)
            self.client.log_artifacts(run_id, str(staging / "model"), "model")
            self.client.log_artifact(run_id, str(staging / "reference.parquet"), "reference")
            if record.calibration_sha256:
                self.client.log_artifact(run_id, str(staging / CALIBRATION_FILE), "calibration")
            if record.attachments:
                self.client.log_artifacts(
                    run_id, str(staging / ATTACHMENTS_DIRECTORY), ATTACHMENTS_DIRECTORY
                )
            self.client.set_terminated(run_id)
        with self._locked():
            self._ensure_registered()
            with self._calling("creating the model version"):
                created = self.client.create_model_version(
                    self.model_name,
                    f"runs:/{run_id}/model",
                    run_id=run_id,
                    tags=self._version_tags(record),
                    description=record.reason,
                )
        record = ModelVersion(**{**record.to_dict(), "version": version_id(created.version)})
        with self._calling("logging the lineage"):
            self.client.log_dict(run_id, record.to_dict(), "lineage/metadata.json")
        return record

    @staticmethod
    def _version_tags(record: ModelVersion) -> dict[str, str]:
        lineage = {k: v for k, v in record.to_dict().items() if k not in ("version", "status")}
        return {
            f"{TAG}metadata": json.dumps(lineage, sort_keys=True),
            f"{TAG}status": record.status,
            f"{TAG}model_sha256": record.model_sha256,
            f"{TAG}reference_sha256": record.reference_sha256,
        }

    def _record(self, found: Any) -> ModelVersion:
        version = version_id(found.version)
        tags = dict(found.tags or {})
        try:
            lineage = json.loads(tags[f"{TAG}metadata"])
            return ModelVersion(
                **{
                    **lineage,
                    "version": version,
                    "status": tags.get(f"{TAG}status", "registered"),
                }
            )
        except (KeyError, ValueError, TypeError) as error:
            raise RegistryError(
                f"MLflow version {found.version} of '{self.model_name}' has no readable "
                f"{TAG}metadata tag ({type(error).__name__}: {error}): it was not registered by "
                "autoretrain, or its tags were edited. Restore the tag, or delete that version"
            ) from None

    def get_version(self, version: str) -> ModelVersion:
        """A version's metadata; RegistryError if it is missing or not autoretrain's."""
        return self._record(self._model_version(version))

    def list_versions(self) -> list[ModelVersion]:
        return [self._record(found) for found in self._search_versions()]

    def mark(self, version: str, status: str) -> None:
        """Record a version's status (a version tag, shown in MLflow's UI)."""
        self.get_version(version)
        with self._calling(f"marking {version} {status}"):
            self.client.set_model_version_tag(
                self.model_name, version_number(version), f"{TAG}status", status
            )

    def load_model(self, version: str) -> Any:
        """Download a version's model, check its SHA-256 against the registered one, load it."""
        import mlflow.sklearn

        found = self._model_version(version)
        record = self._record(found)
        with tempfile.TemporaryDirectory(prefix="autoretrain-mlflow-") as scratch:
            local = self._download(found.source, Path(scratch), f"model files of {version} are")
            actual = tree_sha256(local)
            if actual != record.model_sha256:
                raise ModelError(
                    f"model of {version} (its files) does not match its registered SHA-256 "
                    f"({actual[:12]} != {record.model_sha256[:12]}) in the {self.location}; "
                    "refusing to load it. Restore the files or roll back to another version."
                )
            try:
                return mlflow.sklearn.load_model(str(local))
            except Exception as error:
                raise ModelError(f"cannot load model of {version}: {error}") from None

    def _download_checked(
        self, uri: str, target: Path, what: str, expected_sha256: str = "", refusal: str = ""
    ) -> Path:
        """An artifact in target, matching expected_sha256 (when one was recorded); else
        RegistryError naming what it is and what was refused."""
        try:
            path = self._download(uri, target, f"{what} is")
        except ModelError as error:
            raise RegistryError(str(error)) from None
        if expected_sha256 and sha256_file(path) != expected_sha256:
            raise RegistryError(
                f"{what} does not match its registered SHA-256; refusing to {refusal}. Restore "
                "the file or roll back to another version."
            )
        return path

    def load_calibration(self, version: str) -> JsonDict | None:
        """The version's calibration (SHA-256 checked); None when it was registered without."""
        found = self._model_version(version)
        record = self._record(found)
        if not record.calibration_sha256:
            return None
        uri = f"runs:/{found.run_id}/calibration/{CALIBRATION_FILE}"
        with tempfile.TemporaryDirectory(prefix="autoretrain-mlflow-") as scratch:
            path = self._download_checked(
                uri, Path(scratch), f"calibration of {version}", record.calibration_sha256, "use it"
            )
            return read_calibration(path, version)

    def load_attachment(self, version: str, name: str) -> bytes | None:
        """The version's attachment (SHA-256 checked); None when it was registered without one
        of that name."""
        check_attachment_name(name)
        found = self._model_version(version)
        expected = self._record(found).attachments.get(name)
        if expected is None:
            return None
        uri = f"runs:/{found.run_id}/{ATTACHMENTS_DIRECTORY}/{name}"
        with tempfile.TemporaryDirectory(prefix="autoretrain-mlflow-") as scratch:
            path = self._download_checked(
                uri, Path(scratch), f"attachment {name} of {version}", expected, "use it"
            )
            return path.read_bytes()

    def load_reference(
        self, version: str, sample_rows: int | None = None, seed: int = 0
    ) -> pd.DataFrame:
        """The version's reference data (SHA-256 checked); with sample_rows, a seeded sample."""
        found = self._model_version(version)
        record = self._record(found)
        uri = f"runs:/{found.run_id}/reference/reference.parquet"
        with tempfile.TemporaryDirectory(prefix="autoretrain-mlflow-") as scratch:
            path = self._download_checked(
                uri,
                Path(scratch),
                f"reference data of {version}",
                record.reference_sha256,
                "measure drift against it",
            )
            frame = read_parquet_file(path)
        return sample_rows_of(frame, sample_rows, seed)

    # -- aliases and history -----------------------------------------------------------
    def _state(self) -> tuple[dict[str, str], list[HistoryEntry]]:
        """Aliases (as version ids) and the history, from the registered model and its history
        run."""
        registered = self._registered()
        if registered is None:
            return {}, []
        aliases = {
            alias: version_id(number) for alias, number in (registered.aliases or {}).items()
        }
        return aliases, self._history_entries(dict(registered.tags or {}))

    def get_alias(self, alias: str) -> str | None:
        """The version alias points at; RegistryError if MLflow lost an alias the history set
        (its version was deleted by hand), rather than starting over without a champion."""
        aliases, entries = self._state()
        current = aliases.get(alias)
        last = next((e for e in reversed(entries) if e.alias == alias), None)
        if current is None and last is not None and last.to_version is not None:
            raise RegistryError(
                f"the {alias} alias is gone from the {self.location}, but its history last set "
                f"it to {last.to_version} ({last.at}): that version was deleted by hand, or the "
                f"alias removed. Roll back (`python flows/rollback.py --to VERSION --reason ...`) "
                f"or set the alias back in MLflow"
            )
        return current

    def _read_aliases(self) -> dict[str, str]:
        registered = self._registered()
        if registered is None:
            return {}
        return {alias: version_id(n) for alias, n in (registered.aliases or {}).items()}

    def _read_state(self) -> tuple[dict[str, str], list[HistoryEntry]]:
        return self._state()

    def history(self) -> list[HistoryEntry]:
        return self._state()[1]

    def _append_history(self, entry: HistoryEntry) -> None:
        self._append_history_entry(entry)

    def _write_alias(self, alias: str, version: str | None) -> None:
        if version is None:
            with contextlib.suppress(Exception):  # already gone is what we want
                self.client.delete_registered_model_alias(self.model_name, alias)
        else:
            self.client.set_registered_model_alias(self.model_name, alias, version_number(version))

    def _recover_statuses(self, champion: str | None, entries: list[HistoryEntry]) -> None:
        if champion is None:
            return
        for found in self._search_versions():
            status = dict(found.tags or {}).get(f"{TAG}status")
            version = version_id(found.version)
            wanted = self.caught_up_status(version, status, champion, entries)
            if wanted is not None:
                with self._calling(f"marking {version} {wanted}"):
                    self.client.set_model_version_tag(
                        self.model_name, found.version, f"{TAG}status", wanted
                    )

    def _champion_for_rollback(self) -> str | None:
        """The champion alias; a champion whose version was deleted by hand (the alias went
        with it) is the one the history last set, so it can be rolled back from."""
        aliases, entries = self._state()
        last = next((e for e in reversed(entries) if e.alias == "champion"), None)
        if aliases.get("champion") is None and last is not None:
            return last.to_version
        return aliases.get("champion")

    def _may_mark_rolled_back(self, champion: str) -> bool:
        return self._read_aliases().get("champion") is not None  # else its version is gone

    # -- requests ----------------------------------------------------------------------
    def claim_request(self, request_id: str) -> bool:
        """Record that a request is being handled (a tag of the experiment); False if it was."""
        self.check_request_id(request_id)
        experiment_id = self._experiment_id()
        key = f"{REQUEST_TAG}{request_id}"
        with self._locked(), self._calling(f"claiming request {request_id}"):
            experiment = self.client.get_experiment(experiment_id)
            if key in (experiment.tags or {}):
                return False
            self.client.set_experiment_tag(experiment_id, key, utc_now())
        return True

    # -- model cards -------------------------------------------------------------------
    def save_card(self, version: str, markdown: str, record: JsonDict) -> StoredCard:
        """Log the version's model card on its run (card/card.json, card/card.md) and make it
        the model version's description (cut to what MLflow stores, with a pointer to the
        artifact); a later card of the version (a rollback's) replaces both."""
        found = self._model_version(version)
        location = f"runs:/{found.run_id}/card/{CARD_MARKDOWN}"
        description = markdown
        if len(description) > DESCRIPTION_CHARACTERS:
            pointer = f"\n\n... (cut: the whole card is the artifact {location})\n"
            description = description[: DESCRIPTION_CHARACTERS - len(pointer)] + pointer
        with self._calling(f"saving the model card of {version}"):
            self.client.log_dict(found.run_id, record, f"card/{CARD_RECORD}")
            self.client.log_text(found.run_id, markdown, f"card/{CARD_MARKDOWN}")
            self.client.update_model_version(
                self.model_name, version_number(version), description=description
            )
        return StoredCard(version, markdown, record, location)

    def load_card(self, version: str) -> StoredCard:
        """The version's model card from its run; RegistryError when it has none."""
        found = self._model_version(version)
        location = f"runs:/{found.run_id}/card/{CARD_MARKDOWN}"
        with tempfile.TemporaryDirectory(prefix="autoretrain-mlflow-") as scratch:
            try:
                markdown = self._download(location, Path(scratch), "model card")
                record = self._download(
                    f"runs:/{found.run_id}/card/{CARD_RECORD}", Path(scratch), "model card"
                )
            except ModelError:
                where = (
                    f"the {self.location} (no artifact card/{CARD_MARKDOWN} on run {found.run_id})"
                )
                raise self._card_missing(version, where) from None
            return self._read_card(version, markdown, record, location, f"of {version}")

    def version_ids(self, version: str) -> dict[str, str]:
        """Where the version is kept: MLflow's model version, its run and its model URI."""
        found = self._model_version(version)
        return {
            "registry": "mlflow",
            "mlflow_model_version": str(found.version),
            "mlflow_run_id": str(found.run_id),
            "model_uri": f"models:/{self.model_name}/{found.version}",
        }

    # -- comparisons -------------------------------------------------------------------
    @staticmethod
    def _check_comparison_id(comparison_id: str) -> str:
        if not isinstance(comparison_id, str) or not re.fullmatch(r"[a-z0-9-]+", comparison_id):
            raise RegistryError(f"'{comparison_id}' is not a comparison id")
        return comparison_id

    def _comparison_run(self, comparison_id: str) -> Any | None:
        with self._calling(f"finding comparison {comparison_id}"):
            runs = self.client.search_runs(
                [self._experiment_id()],
                filter_string=f"tags.`{TAG}comparison_id` = '{comparison_id}'",
                max_results=1,
            )
        return runs[0] if runs else None

    def save_comparison(self, comparison_id: str, comparison: JsonDict) -> str:
        """Log the comparison (JSON artifact and its numbers as metrics) on a run of its own,
        linked from the compared versions' tags; saving it again (an approval) replaces it."""
        self._check_comparison_id(comparison_id)
        run = self._comparison_run(comparison_id)
        with self._calling(f"saving comparison {comparison_id}"):
            if run is None:
                created = self.client.create_run(
                    self._experiment_id(),
                    run_name=f"comparison {comparison_id}"[:250],
                    tags={f"{TAG}kind": "comparison", f"{TAG}comparison_id": comparison_id},
                )
                run_id = created.info.run_id
            else:
                run_id = run.info.run_id
            self.client.log_dict(run_id, comparison, "comparison.json")
            self.client.set_tag(run_id, f"{TAG}verdict", str(comparison.get("verdict", "")))
            for key, number in metric_values(comparison).items():
                self.client.log_metric(run_id, key, number)
            self.client.set_terminated(run_id)
        for side in ("challenger", "champion"):
            compared = comparison.get(side)
            version = compared.get("version") if isinstance(compared, dict) else None
            if isinstance(version, str) and VERSION_ID.fullmatch(version):
                with contextlib.suppress(RegistryError), self._calling("linking the comparison"):
                    self.client.set_model_version_tag(
                        self.model_name,
                        version_number(version),
                        f"{COMPARISON_TAG}{comparison_id}",
                        run_id,
                    )
        return f"runs:/{run_id}/comparison.json"

    def load_comparison(self, comparison_id: str) -> JsonDict:
        self._check_comparison_id(comparison_id)
        run = self._comparison_run(comparison_id)
        if run is None:
            raise RegistryError(f"comparison {comparison_id} not found in the {self.location}")
        with tempfile.TemporaryDirectory(prefix="autoretrain-mlflow-") as scratch:
            uri = f"runs:/{run.info.run_id}/comparison.json"
            path = self._download_checked(uri, Path(scratch), f"comparison {comparison_id}")
            return json.loads(path.read_text())

    # -- consistency -------------------------------------------------------------------
    def verify(self) -> RegistryCheck:
        """Check aliases, history, every version's files and digests, and that the champion loads."""
        problems: list[str] = []
        notes: list[str] = []
        if not self.exists():
            raise RegistryError(
                f"no registered model '{self.model_name}' in the MLflow registry at "
                f"{self.shown_uri}: run the monitor flow first (it registers the first "
                "champion), or check the config's name and registry.tracking_uri"
            )
        versions: dict[str, ModelVersion] = {}
        for found in self._search_versions():
            try:
                record = self._record(found)
            except RegistryError as error:
                problems.append(str(error))
                continue
            versions[record.version] = record
            try:
                self.load_model(record.version)
            except AutoretrainError as error:
                problems.append(str(error))
            for load in (self.load_reference, self.load_calibration):
                try:
                    load(record.version)
                except AutoretrainError as error:
                    problems.append(str(error))
            for name in sorted(record.attachments):
                try:
                    self.load_attachment(record.version, name)
                except AutoretrainError as error:
                    problems.append(str(error))
        with self._locked():
            try:
                aliases, entries = self._state()
            except RegistryError as error:
                return RegistryCheck((*problems, str(error)), tuple(notes))
        for alias, version in sorted(aliases.items()):
            if alias not in ALIASES:
                notes.append(f"alias '{alias}' is not one of autoretrain's; it is left alone")
            elif version not in versions:
                problems.append(f"{alias} points at {version}, which is not a registered version")
        problems += self.replay_problems(aliases, entries)
        notes += self.status_notes(aliases, versions)
        return RegistryCheck(tuple(problems), tuple(notes))


def _requirements() -> list[str]:
    """What a serving system needs to load the model (pinned to this environment's versions)."""
    from importlib.metadata import version

    return [
        f"{name}=={version(name)}" for name in ("scikit-learn", "pandas", "numpy", "cloudpickle")
    ]


def list_mlflow_models(tracking_uri: str) -> list[str]:
    """The registered models autoretrain manages on a tracking server, by name."""
    for key, value in MLFLOW_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        found = client.search_registered_models(max_results=1000)
    except Exception as error:
        raise RegistryError(
            f"listing the models of the MLflow registry at {mask_url_password(tracking_uri)} "
            f"failed: {redact_url_password(str(error), tracking_uri)}"
        ) from None
    return sorted(m.name for m in found if (m.tags or {}).get(f"{TAG}managed") == "true")
