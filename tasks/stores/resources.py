"""The stores of one flow run, opened once and handed to the steps, as Dagster hands resources
to its assets: the model registry, the monitoring history and the production log's source.

A flow builds one Stores at its entry and passes it to every step that reads or writes; a step
never opens a store itself. Each store is opened when a step first needs it (a rollback never
touches the history) and then kept for the run. Reopen only across a process boundary: a Dask
worker or a deployment run builds its own.
"""

from __future__ import annotations

import threading

from tasks.config import Config
from tasks.stores.data import LogSource, make_source
from tasks.stores.history import HISTORY_FILE, MonitoringHistory, open_history
from tasks.stores.registry import ModelRegistry, open_registry


class Stores:
    """The registry, history and log source of one model's config, each opened at most once.

    Stores given to the constructor are used as they are (a test's, or ones opened with
    another lock); the others are opened from the config on first use.
    """

    def __init__(
        self,
        config: Config,
        *,
        registry: ModelRegistry | None = None,
        history: MonitoringHistory | None = None,
        source: LogSource | None = None,
    ) -> None:
        self._config = config
        self._registry = registry
        self._history = history
        self._source = source
        self._opening = threading.Lock()  # two threads of one run never open a store twice

    def __repr__(self) -> str:
        opened = [
            name
            for name, store in (
                ("registry", self._registry),
                ("history", self._history),
                ("source", self._source),
            )
            if store is not None
        ]
        return f"Stores({self._config.name!r}, opened: {', '.join(opened) or 'none'})"

    @property
    def registry(self) -> ModelRegistry:
        """The model's registry (registry.kind), opened on first use."""
        with self._opening:
            if self._registry is None:
                self._registry = open_registry(
                    self._config.registry, self._config.name, history=self._config.history
                )
            return self._registry

    @property
    def history(self) -> MonitoringHistory:
        """The monitoring history (history.url, else the file next to the registry), opened on
        first use."""
        with self._opening:
            if self._history is None:
                self._history = open_history(self._config.registry.path, self._config.history)
            return self._history

    def written_history(self) -> MonitoringHistory | None:
        """The monitoring history if there is one to read (history.url, or the SQLite file
        written by an earlier run); None before the first run, so that a read creates nothing
        (a run that fails before it records must leave no file behind)."""
        settings = self._config.history
        local = settings is None or settings.url is None
        written = (self._config.registry.path / HISTORY_FILE).is_file()
        if self._history is None and local and not written:
            return None
        return self.history

    @property
    def source(self) -> LogSource:
        """The production log's source (data.source), made on first use."""
        with self._opening:
            if self._source is None:
                self._source = make_source(self._config.data)
            return self._source

    def serves(self, config: Config) -> bool:
        """Whether these are the stores config names: the same model, registry, history and
        log."""
        mine = self._config
        return (mine.name, mine.registry, mine.history, mine.data) == (
            config.name,
            config.registry,
            config.history,
            config.data,
        )


def open_stores(config: Config) -> Stores:
    """The stores of a flow run on config; each store opens when a step first needs it."""
    return Stores(config)
