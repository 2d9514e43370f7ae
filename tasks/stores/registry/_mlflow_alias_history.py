"""A model's alias history on the MLflow tracking server: all of it in one run of the model's
experiment, the latest entries also on the registered model's page.

What goes where, for a model NAME:

    run "alias history" of experiment     every alias change, one tag per change:
    autoretrain-NAME (tag                 autoretrain.history.NNNNNN-xxxxxx = the entry's JSON
    autoretrain.kind=history)             (NNNNNN numbers the changes, xxxxxx is random)
    registered model NAME's tags          autoretrain.history_run: that run's id, and the latest
                                          HISTORY_TAGS_SHOWN entries under the same keys

One tag per entry, set once and never rewritten: a tag is written in one call, so a writer
killed mid-change leaves the entry whole or absent (a JSON-lines artifact would be downloaded,
appended to and uploaded again, and a writer dying in the upload, or two writers at once, would
lose entries); the run's tags come back together in one call. The run's tag is written first
and commits the change; the model page is a view of its end, brought up to date on each change.

Registries written before the run kept every entry as a registered-model tag: reading merges
both by key, and the first change after the upgrade copies those entries into the run before
it prunes the model page, so no moment of the move loses one.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import asdict, replace
from typing import Any

from tasks.errors import RegistryError
from tasks.stores.registry._mlflow_client import HISTORY_TAG, TAG, MlflowModel
from tasks.stores.registry._types import HistoryEntry

logger = logging.getLogger(__name__)

HISTORY_RUN_TAG = f"{TAG}history_run"
HISTORY_KIND = "history"
# How many alias changes the registered model's page shows as tags (the run keeps them all).
HISTORY_TAGS_SHOWN = 5
# MLflow cuts a run tag's value at 8,000 characters (a registered model's at 100,000).
RUN_TAG_LIMIT = 8000


def fitted_entry(value: str) -> str:
    """The entry's JSON, its reason shortened (and saying so) when the whole would not fit in
    a run tag."""
    if len(value) <= RUN_TAG_LIMIT:
        return value
    entry = HistoryEntry(**json.loads(value))
    note = f" [shortened from {len(entry.reason)} characters to fit an MLflow run tag]"

    def shortened(keep: int) -> str:
        return json.dumps(asdict(replace(entry, reason=entry.reason[:keep] + note)), sort_keys=True)

    fits, too_long = 0, len(entry.reason)  # escapes make some characters cost more: search
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        fits, too_long = (
            (middle, too_long) if len(shortened(middle)) <= RUN_TAG_LIMIT else (fits, middle)
        )
    logger.warning("an alias history entry's reason was %s", note.strip(" []"))
    return shortened(fits)


class MlflowAliasHistory(MlflowModel):
    """The alias history of one registered model: in its run, and the latest on its page."""

    def _history_tags(self, model_tags: dict[str, str]) -> dict[str, str]:
        """Every history entry by key: the run's, merged with those on the model's page (all
        of them in a registry written before the run)."""
        entries = {k: v for k, v in model_tags.items() if k.startswith(HISTORY_TAG)}
        run_id = model_tags.get(HISTORY_RUN_TAG)
        if run_id:
            entries.update(self._run_history_tags(run_id))
        return entries

    def _run_history_tags(self, run_id: str) -> dict[str, str]:
        from mlflow.exceptions import MlflowException

        with self._calling("reading the alias history run"):
            try:
                run = self.client.get_run(run_id)
            except MlflowException as error:
                if not self._missing(error):
                    raise
                run = None
        if run is None:
            raise RegistryError(
                f"the alias history run {run_id} (tag {HISTORY_RUN_TAG} of the {self.location}) "
                f"is gone from experiment {self.experiment_name}: restore it (`mlflow runs "
                "restore`), or the history keeps only the entries on the model's page"
            )
        return {k: v for k, v in run.data.tags.items() if k.startswith(HISTORY_TAG)}

    def _history_entries(self, model_tags: dict[str, str]) -> list[HistoryEntry]:
        """The alias history, oldest first."""
        tags = self._history_tags(model_tags)
        entries = []
        for key in sorted(tags):
            try:
                entries.append(HistoryEntry(**json.loads(tags[key])))
            except (ValueError, TypeError) as error:
                raise RegistryError(
                    f"tag {key} of the {self.location} is not a history entry ({error}); it was "
                    "edited by hand: restore it"
                ) from None
        return entries

    def _history_run(self, model_tags: dict[str, str]) -> str:
        """The id of the model's history run: the one its page names, else the first of its
        experiment (a writer died before naming it), else a new one; named on the page."""
        run_id = model_tags.get(HISTORY_RUN_TAG)
        if run_id:
            return run_id
        experiment_id = self._experiment_id()
        found = self.client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{TAG}kind` = '{HISTORY_KIND}'",
            order_by=["attributes.start_time ASC"],
            max_results=1,
        )
        if found:
            run_id = found[0].info.run_id
        else:
            created = self.client.create_run(
                experiment_id,
                run_name="alias history",
                tags={f"{TAG}kind": HISTORY_KIND, f"{TAG}model": self.model_name},
            )
            run_id = created.info.run_id
            self.client.set_terminated(run_id)
        self.client.set_registered_model_tag(self.model_name, HISTORY_RUN_TAG, run_id)
        return str(run_id)

    def _append_history_entry(self, entry: HistoryEntry) -> None:
        """Append entry to the run (this commits the change), then show the latest entries on
        the model's page and remove the older ones from it; call under the model's lock."""
        registered: Any = self._registered()
        model_tags = dict(registered.tags or {}) if registered is not None else {}
        run_id = self._history_run(model_tags)
        shown = {k: v for k, v in model_tags.items() if k.startswith(HISTORY_TAG)}
        in_run = self._run_history_tags(run_id)
        for key in sorted(shown.keys() - in_run.keys()):  # written before the run: move them
            in_run[key] = fitted_entry(shown[key])
            self.client.set_tag(run_id, key, in_run[key])
        # A random suffix: a writer outside the lock never overwrites an entry of the same number.
        key = f"{HISTORY_TAG}{len(in_run) + 1:06d}-{uuid.uuid4().hex[:6]}"
        value = fitted_entry(json.dumps(asdict(entry), sort_keys=True))
        self.client.set_tag(run_id, key, value)
        in_run[key] = value
        latest = sorted(in_run)[-HISTORY_TAGS_SHOWN:]
        for new in latest:
            if shown.get(new) != in_run[new]:
                self.client.set_registered_model_tag(self.model_name, new, in_run[new])
        for old in sorted(shown.keys() - set(latest)):
            self.client.delete_registered_model_tag(self.model_name, old)
