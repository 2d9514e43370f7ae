"""The stores of a flow run, shared with the subflows it runs inline.

A flow builds its stores once, at its entry (run_stores). A subflow called inline (monitor ->
retrain -> promote) runs in the same process, so it takes its parent's stores instead of
opening them again; they cannot be a subflow parameter (Prefect records parameters as JSON),
so the parent lends them for the duration of the call (sharing_stores) and the subflow's
run_stores finds them. A deployment run, an events-mode run or a Dask worker is another
process and opens its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from tasks.config import Config
from tasks.stores.resources import Stores, open_stores

_LENT: ContextVar[Stores | None] = ContextVar("autoretrain_lent_stores", default=None)


def run_stores(config: Config) -> Stores:
    """The stores of this flow run: those its inline parent lent, when they are the stores of
    the same model, registry and log; else this run's own, each opened on first use."""
    lent = _LENT.get()
    if lent is not None and lent.serves(config):
        return lent
    return open_stores(config)


@contextlib.contextmanager
def sharing_stores(stores: Stores) -> Iterator[None]:
    """Lend stores to the subflows called inline inside the block."""
    token = _LENT.set(stores)
    try:
        yield
    finally:
        _LENT.reset(token)
