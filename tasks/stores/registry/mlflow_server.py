"""The model registry on an MLflow tracking server: the same ModelRegistry, seen in MLflow's UI.

What goes where, for a model NAME (the config's name, also the registered model's name):

    registered model NAME                 one MLflow model version per autoretrain version:
                                          v0001 is MLflow version 1, v0012 is version 12
    its aliases champion, challenger      MLflow registered-model aliases, so a serving system
                                          loads models:/NAME@champion
    its tags autoretrain.history.NNNNNN   the alias history, one JSON entry per change (who, why)
    experiment autoretrain-NAME           one run per version: the model (scikit-learn flavour,
                                          signature, input example) under model/, the reference
                                          data under reference/, the calibration of its
                                          probabilities (if any) under calibration/, the
                                          lineage under lineage/, the
                                          training metrics and the estimator's params; one run per
                                          comparison (comparison.json and its numbers as metrics)
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
with the expected one under a lock file in registry.path (which serialises this machine's
writers), and the flows hold the model's Prefect concurrency slot around a promotion (which
serialises autoretrain's writers everywhere). The window that remains: a writer that uses
neither (someone moving the alias in the MLflow UI, or another tool) between the re-read and
the change. Its change is then overwritten, and `verify` reports the history and the alias
disagreeing.

As in the local registry, an alias change writes its history entry first and the alias second;
opening the registry completes a change whose alias write is missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.config import MLFLOW_SCHEMES
from tasks.core.frames import sample_rows_of
from tasks.errors import AutoretrainError, ModelError, RegistryError
from tasks.secrets import mask_url_password, redact_url_password
from tasks.stores.registry._files import actor_name, lock_file, sha256_file, utc_now
from tasks.stores.registry._types import (
    ALIASES,
    CALIBRATION_FILE,
    HistoryEntry,
    ModelVersion,
    RegistryCheck,
    check_model_name,
)

logger = logging.getLogger(__name__)

TAG = "autoretrain."
HISTORY_TAG = f"{TAG}history."
REQUEST_TAG = f"{TAG}request."
COMPARISON_TAG = f"{TAG}comparison."
VERSION_ID = re.compile(r"v(\d{4,})")
# MLflow retries a failed request for minutes by default, writes included; autoretrain fails
# fast and closed instead (a run that fails is started again; a retried write could register
# twice). An operator may still set these in the environment.
MLFLOW_ENVIRONMENT = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}


def check_tracking_uri(uri: str) -> str:
    """The URI, if its scheme is one MLflow's model registry works with; else RegistryError."""
    scheme = urllib.parse.urlparse(uri).scheme.split("+")[0]
    if scheme not in MLFLOW_SCHEMES:
        raise RegistryError(
            f"registry.tracking_uri {mask_url_password(uri)!r} is not an MLflow tracking URI "
            "with a model registry: "
            f"use one of the schemes {', '.join(MLFLOW_SCHEMES)}, like http://127.0.0.1:5000"
        )
    return uri


def version_number(version: str) -> str:
    """MLflow's version number of an autoretrain version id: v0012 is "12"."""
    match = VERSION_ID.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise RegistryError(f"'{version}' is not a version id (they look like v0001)")
    return str(int(match.group(1)))


def version_id(number: str | int) -> str:
    """The autoretrain version id of an MLflow version number: "12" is v0012."""
    return f"v{int(number):04d}"


def tree_sha256(directory: Path) -> str:
    """SHA-256 over every file under directory: relative path and content digest, in order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(directory).as_posix()}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def _metric_key(name: str) -> str:
    """A metric name MLflow accepts (letters, digits, _ - . / and spaces)."""
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", name)


def _numbers(values: dict[str, Any]) -> dict[str, float]:
    return {
        _metric_key(k): float(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


class MlflowRegistry:
    """A registry on an MLflow tracking server (registry.kind: mlflow)."""

    def __init__(self, path: Path, model_name: str, tracking_uri: str) -> None:
        for key, value in MLFLOW_ENVIRONMENT.items():
            os.environ.setdefault(key, value)
        self.path = Path(path)
        self.model_name = check_model_name(model_name)
        self.tracking_uri = check_tracking_uri(tracking_uri)
        self.shown_uri = mask_url_password(tracking_uri)  # for messages: no password
        self.experiment_name = f"autoretrain-{model_name}"
        self._check_reachable()
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.path.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self._recover_locked(on_open=True)

    def __repr__(self) -> str:
        return f"MlflowRegistry({self.shown_uri!r}, {self.model_name!r})"

    @property
    def location(self) -> str:
        """Where the model lives, for messages."""
        return f"MLflow registry {self.shown_uri} (registered model '{self.model_name}')"

    # -- connection and errors -------------------------------------------------------
    def _check_reachable(self) -> None:
        if urllib.parse.urlparse(self.tracking_uri).scheme not in ("http", "https"):
            return
        url = f"{self.tracking_uri.rstrip('/')}/health"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.status == 200:
                    return
                problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            problem = f"HTTP {error.code}"
        except (OSError, ValueError) as error:
            problem = str(getattr(error, "reason", error))
        problem = redact_url_password(problem, self.tracking_uri)
        raise RegistryError(
            f"cannot reach the MLflow tracking server at {self.shown_uri} ({problem}): start "
            "it (see the MLflow page of the docs: `mlflow server --host 127.0.0.1 --port 5000 "
            "...`) or fix registry.tracking_uri"
        )

    @contextlib.contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """Turn MLflow's and the network's errors into a RegistryError that names the call."""
        from mlflow.exceptions import MlflowException

        try:
            yield
        except AutoretrainError:
            raise
        except (MlflowException, OSError) as error:
            message = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            message = redact_url_password(message, self.tracking_uri)
            raise RegistryError(
                f"{what} failed in the {self.location}: {message}. Check that the server "
                "is up (`python -m tasks.cli.registry verify`) and registry.tracking_uri"
            ) from None

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return lock_file(self.path / f".mlflow-{self.model_name}.lock")

    @staticmethod
    def _missing(error: Exception) -> bool:
        return getattr(error, "error_code", "") == "RESOURCE_DOES_NOT_EXIST"

    def _registered(self) -> Any | None:
        """The registered model, or None if there is none yet."""
        from mlflow.exceptions import MlflowException

        with self._calling(f"reading registered model '{self.model_name}'"):
            try:
                return self.client.get_registered_model(self.model_name)
            except MlflowException as error:
                if self._missing(error):
                    return None
                raise

    def exists(self) -> bool:
        """Whether the registered model exists (the first registration creates it)."""
        return self._registered() is not None

    @staticmethod
    def _exists_already(error: Exception) -> bool:
        return getattr(error, "error_code", "") == "RESOURCE_ALREADY_EXISTS"

    def _ensure_registered(self) -> None:
        from mlflow.exceptions import MlflowException

        if self._registered() is None:
            with self._calling(f"creating registered model '{self.model_name}'"):
                try:
                    self.client.create_registered_model(
                        self.model_name,
                        tags={f"{TAG}managed": "true"},
                        description=f"Managed by autoretrain: versions, aliases and their "
                        f"history (tags {HISTORY_TAG}*); runs in experiment "
                        f"{self.experiment_name}.",
                    )
                except MlflowException as error:
                    if not self._exists_already(error):  # another machine created it first
                        raise

    def _experiment_id(self) -> str:
        """The model's experiment, created on first use; a writer that loses the race to
        create it (another thread or machine) reads the winner's."""
        from mlflow.exceptions import MlflowException

        with self._calling(f"reading experiment {self.experiment_name}"):
            experiment = self.client.get_experiment_by_name(self.experiment_name)
            if experiment is not None:
                return str(experiment.experiment_id)
            try:
                return str(self.client.create_experiment(self.experiment_name))
            except MlflowException as error:
                if not self._exists_already(error):
                    raise
            experiment = self.client.get_experiment_by_name(self.experiment_name)
            if experiment is None:
                raise RegistryError(
                    f"experiment {self.experiment_name} was created and is gone again in the "
                    f"{self.location}: was it deleted by hand?"
                )
            return str(experiment.experiment_id)

    # -- versions ----------------------------------------------------------------------
    def register(
        self,
        model: Any,
        reference: pd.DataFrame,
        metadata: dict[str, Any],
        calibration: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Log model, reference data, lineage and (if any) the calibration on a run, then
        register it as a new version.

        The version is created last, in one call with its tags: a writer that dies before it
        leaves a run that no version points at (never read), not a half-written version.
        """
        import mlflow.sklearn
        from mlflow.models import infer_signature

        ModelVersion(  # unknown or missing metadata fails here, before anything is written
            version="v0000", model_name=self.model_name, created_at="", model_sha256="", **metadata
        )
        features = list(metadata.get("features") or reference.columns)
        experiment_id = self._experiment_id()
        with tempfile.TemporaryDirectory(prefix="autoretrain-mlflow-") as scratch:
            staging = Path(scratch)
            inputs = reference[features].head(100)
            mlflow.sklearn.save_model(
                model,
                staging / "model",
                serialization_format="cloudpickle",  # like the local registry: digest-guarded
                signature=infer_signature(inputs, model.predict(inputs)),
                input_example=reference[features].head(5),
                pip_requirements=_requirements(),
            )
            reference.to_parquet(staging / "reference.parquet", index=False)
            model_sha256 = tree_sha256(staging / "model")
            reference_sha256 = sha256_file(staging / "reference.parquet")
            calibration_path = staging / CALIBRATION_FILE
            if calibration is not None:
                calibration_path.write_text(json.dumps(calibration, indent=2, sort_keys=True))
            record = ModelVersion(
                version="v0000",
                model_name=self.model_name,
                created_at=utc_now(),
                model_sha256=model_sha256,
                reference_sha256=reference_sha256,
                calibration_sha256=sha256_file(calibration_path) if calibration is not None else "",
                **metadata,
            )
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
                    self.client.log_param(run_id, _metric_key(key)[:250], str(value)[:6000])
                for key, number in _numbers(record.metrics).items():
                    self.client.log_metric(run_id, key, number)
                self.client.log_metric(run_id, "training_rows", record.training_rows)
                self.client.log_artifacts(run_id, str(staging / "model"), "model")
                self.client.log_artifact(run_id, str(staging / "reference.parquet"), "reference")
                if calibration is not None:
                    self.client.log_artifact(run_id, str(calibration_path), "calibration")
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

    def _model_version(self, version: str) -> Any:
        from mlflow.exceptions import MlflowException

        number = version_number(version)
        with self._calling(f"reading version {version}"):
            try:
                return self.client.get_model_version(self.model_name, number)
            except MlflowException as error:
                if not self._missing(error):
                    raise
        raise RegistryError(
            f"no model version {version} in the {self.location} (MLflow version {number}): "
            "it was never registered, or was deleted by hand. Run `python -m tasks.cli.registry "
            "verify`; roll back to another version if it was the champion"
        )

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

    def _search_versions(self) -> list[Any]:
        found: list[Any] = []
        token = None
        with self._calling("listing the versions"):
            while True:
                page = self.client.search_model_versions(
                    f"name='{self.model_name}'", max_results=1000, page_token=token
                )
                found += list(page)
                token = page.token
                if not token:
                    break
        return sorted(found, key=lambda v: int(v.version))

    def list_versions(self) -> list[ModelVersion]:
        return [self._record(found) for found in self._search_versions()]

    def mark(self, version: str, status: str) -> None:
        """Record a version's status (a version tag, shown in MLflow's UI)."""
        self.get_version(version)
        with self._calling(f"marking {version} {status}"):
            self.client.set_model_version_tag(
                self.model_name, version_number(version), f"{TAG}status", status
            )

    def _download(self, artifact_uri: str, target: Path, what: str) -> Path:
        import mlflow.artifacts

        try:
            return Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=artifact_uri, dst_path=str(target), tracking_uri=self.tracking_uri
                )
            )
        except Exception as error:
            first = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            raise ModelError(
                f"{what} missing or unreadable in the artifact store of the {self.location} "
                f"({artifact_uri}: {first}); restore it, or roll back to another version"
            ) from None

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

    def load_calibration(self, version: str) -> dict[str, Any] | None:
        """The version's calibration (SHA-256 checked); None when it was registered without."""
        found = self._model_version(version)
        record = self._record(found)
        if not record.calibration_sha256:
            return None
        uri = f"runs:/{found.run_id}/calibration/{CALIBRATION_FILE}"
        with tempfile.TemporaryDirectory(prefix="autoretrain-mlflow-") as scratch:
            try:
                path = self._download(uri, Path(scratch), f"calibration of {version} is")
            except ModelError as error:
                raise RegistryError(str(error)) from None
            if sha256_file(path) != record.calibration_sha256:
                raise RegistryError(
                    f"calibration of {version} does not match its registered SHA-256; refusing "
                    "to use it. Restore the file or roll back to another version."
                )
            try:
                data = json.loads(path.read_text())
            except ValueError as error:
                raise RegistryError(
                    f"calibration of {version} is not valid JSON: {error}"
                ) from None
        if not isinstance(data, dict):
            raise RegistryError(f"calibration of {version} is not a JSON object")
        return data

    def load_reference(
        self, version: str, sample_rows: int | None = None, seed: int = 0
    ) -> pd.DataFrame:
        """The version's reference data (SHA-256 checked); with sample_rows, a seeded sample."""
        found = self._model_version(version)
        record = self._record(found)
        uri = f"runs:/{found.run_id}/reference/reference.parquet"
        with tempfile.TemporaryDirectory(prefix="autoretrain-mlflow-") as scratch:
            try:
                path = self._download(uri, Path(scratch), f"reference data of {version} is")
            except ModelError as error:
                raise RegistryError(str(error)) from None
            if record.reference_sha256 and sha256_file(path) != record.reference_sha256:
                raise RegistryError(
                    f"reference data of {version} does not match its registered SHA-256; "
                    "refusing to measure drift against it. Restore the file or roll back to "
                    "another version."
                )
            frame = pd.read_parquet(path)
        return sample_rows_of(frame, sample_rows, seed)

    # -- aliases and history -----------------------------------------------------------
    def _state(self) -> tuple[dict[str, str], list[HistoryEntry]]:
        """Aliases (as version ids) and the history, from the registered model."""
        registered = self._registered()
        if registered is None:
            return {}, []
        aliases = {
            alias: version_id(number) for alias, number in (registered.aliases or {}).items()
        }
        tags = dict(registered.tags or {})
        return aliases, self._history_of(tags)

    def _history_of(self, tags: dict[str, str]) -> list[HistoryEntry]:
        entries = []
        for key in sorted(k for k in tags if k.startswith(HISTORY_TAG)):
            try:
                entries.append(HistoryEntry(**json.loads(tags[key])))
            except (ValueError, TypeError) as error:
                raise RegistryError(
                    f"tag {key} of the {self.location} is not a history entry ({error}); it was "
                    "edited by hand: restore it"
                ) from None
        return entries

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

        The alias is re-read and compared under this machine's lock; see the module docstring
        for the window that remains.
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
        current: str | object | None = ...,
    ) -> None:
        aliases, entries = self._state()
        if current is ...:
            current = aliases.get(alias)
        if expected is not ... and current != expected:
            raise RegistryError(
                f"{alias} is {current}, not {expected} as expected: another run changed it; "
                "run the comparison again"
            )
        if version is not None:
            self.get_version(version)
        self._ensure_registered()
        entry = HistoryEntry(
            utc_now(),
            action,
            alias,
            current,  # type: ignore[arg-type]
            version,
            reason,
            actor or actor_name(),
        )
        # History first, then the alias: the history tag commits the change (see _recover_locked).
        # A random suffix: a writer outside the lock never overwrites an entry of the same number.
        key = f"{HISTORY_TAG}{len(entries) + 1:06d}-{uuid.uuid4().hex[:6]}"
        with self._calling(f"moving {alias} to {version}"):
            self.client.set_registered_model_tag(
                self.model_name, key, json.dumps(asdict(entry), sort_keys=True)
            )
            self._write_alias(alias, version)

    def _write_alias(self, alias: str, version: str | None) -> None:
        if version is None:
            with contextlib.suppress(Exception):  # already gone is what we want
                self.client.delete_registered_model_alias(self.model_name, alias)
        else:
            self.client.set_registered_model_alias(self.model_name, alias, version_number(version))

    def history(self) -> list[HistoryEntry]:
        return self._state()[1]

    def _recover_locked(self, *, on_open: bool = False) -> None:
        """Complete an alias change whose history entry was written but not its alias; on
        opening, also clear a challenger that is the champion and bring statuses in line."""
        try:
            aliases, entries = self._state()
        except RegistryError as error:
            logger.error("registry %s needs attention: %s", self.location, error)
            return
        for alias in ALIASES:
            last = next((e for e in reversed(entries) if e.alias == alias), None)
            current = aliases.get(alias)
            if last is None or last.to_version == current or last.from_version != current:
                continue
            if last.to_version is not None:
                try:
                    self.get_version(last.to_version)
                except RegistryError:
                    continue  # deleted since: left for verify() and get_alias() to report
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
            self._set_alias_locked(
                "challenger",
                None,
                reason=f"{champion} is already the champion (an interrupted promotion)",
                action="recover",
            )
        if champion is None:
            return
        for found in self._search_versions():
            tags = dict(found.tags or {})
            status = tags.get(f"{TAG}status")
            version = version_id(found.version)
            wanted = None
            if version == champion and status != "champion":
                wanted = "champion"
            elif version != champion and status == "champion":
                rolled_back = any(
                    e.action == "rollback" and e.from_version == version for e in entries
                )
                wanted = "rolled-back" if rolled_back else "retired"
            if wanted is not None:
                logger.warning(
                    "status of %s: %s -> %s (catching up with the aliases)", version, status, wanted
                )
                with self._calling(f"marking {version} {wanted}"):
                    self.client.set_model_version_tag(
                        self.model_name, found.version, f"{TAG}status", wanted
                    )

    def rollback(
        self, *, to_version: str | None = None, reason: str, actor: str | None = None
    ) -> tuple[str, str]:
        """Make the previous champion (or to_version) champion again; return (from, to).

        A champion whose version was deleted by hand can be rolled back from, with to_version.
        """
        with self._locked():
            self._recover_locked()
            aliases, entries = self._state()
            current = aliases.get("champion")
            last = next((e for e in reversed(entries) if e.alias == "champion"), None)
            deleted = current is None and last is not None and last.to_version is not None
            if deleted and last is not None:
                current = last.to_version
            if current is None:
                raise RegistryError("there is no champion to roll back")
            target = to_version or self._previous_champion(current, entries)
            if target is None:
                raise RegistryError(
                    f"{current} is the first champion: there is no earlier one to roll back to"
                )
            if target == current:
                raise RegistryError(f"{target} is already the champion")
            self.load_model(target)  # refuse a target that would not load
            self._set_alias_locked(
                "champion",
                target,
                reason=reason,
                action="rollback",
                actor=actor,
                current=current,
            )
        if not deleted:
            self.mark(current, "rolled-back")
        self.mark(target, "champion")
        return current, target

    @staticmethod
    def _previous_champion(current: str, entries: list[HistoryEntry]) -> str | None:
        for entry in reversed(entries):
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
        """Record that a request is being handled (a tag of the experiment); False if it was."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", request_id):
            raise RegistryError(f"'{request_id}' is not a request id")
        experiment_id = self._experiment_id()
        key = f"{REQUEST_TAG}{request_id}"
        with self._locked(), self._calling(f"claiming request {request_id}"):
            experiment = self.client.get_experiment(experiment_id)
            if key in (experiment.tags or {}):
                return False
            self.client.set_experiment_tag(experiment_id, key, utc_now())
        return True

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

    def save_comparison(self, comparison_id: str, comparison: dict[str, Any]) -> str:
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
            for key, number in _numbers(comparison).items():
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

    def load_comparison(self, comparison_id: str) -> dict[str, Any]:
        self._check_comparison_id(comparison_id)
        run = self._comparison_run(comparison_id)
        if run is None:
            raise RegistryError(f"comparison {comparison_id} not found in the {self.location}")
        with tempfile.TemporaryDirectory(prefix="autoretrain-mlflow-") as scratch:
            try:
                path = self._download(
                    f"runs:/{run.info.run_id}/comparison.json",
                    Path(scratch),
                    f"comparison {comparison_id} is",
                )
            except ModelError as error:
                raise RegistryError(str(error)) from None
            return json.loads(path.read_text())  # type: ignore[no-any-return]

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
        replayed: dict[str, str | None] = {}
        for number, entry in enumerate(entries, start=1):
            if entry.alias in replayed and replayed[entry.alias] != entry.from_version:
                problems.append(
                    f"history entry {number} moves {entry.alias} from {entry.from_version}, "
                    f"but the entry before left it at {replayed[entry.alias]}"
                )
            replayed[entry.alias] = entry.to_version
        for alias in ALIASES:
            if replayed.get(alias) != aliases.get(alias):
                problems.append(
                    f"{alias} is {aliases.get(alias)} in MLflow but {replayed.get(alias)} after "
                    "replaying the history: it was moved outside autoretrain, or its version "
                    "was deleted by hand"
                )
        champion = aliases.get("champion")
        if champion in versions and versions[champion].status != "champion":
            notes.append(f"champion {champion} has status '{versions[champion].status}'")
        unaliased = [
            v for v, r in versions.items() if r.status == "registered" and v not in aliases.values()
        ]
        if unaliased:
            notes.append(f"registered but never compared: {', '.join(unaliased)}")
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
