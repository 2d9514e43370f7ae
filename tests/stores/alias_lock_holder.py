"""One machine's writer for tests/stores/test_advisory_lock.py: `python -m
tests.stores.alias_lock_holder LABEL`, run in a project directory of its own (config.yaml there,
history.url from the environment). It takes the model's alias lock as open_registry picks it,
records `LABEL acquired` in the lock_events table of the history's database, waits for a line on
stdin, records `LABEL released` and lets the lock go."""

from __future__ import annotations

import sys

import sqlalchemy as sa

from tasks.config import load_config
from tasks.stores.registry import AdvisoryAliasLock, shared_alias_lock


def main(label: str) -> int:
    config = load_config("config.yaml")
    lock = shared_alias_lock(config.history, config.name)
    if not isinstance(lock, AdvisoryAliasLock):
        print(f"not an advisory lock: {lock!r}", file=sys.stderr)
        return 1
    assert config.history.url is not None
    engine = sa.create_engine(config.history.url.reveal(), poolclass=sa.pool.NullPool)

    def event(what: str) -> None:
        with engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO lock_events (label, what) VALUES (:label, :what)"),
                {"label": label, "what": what},
            )

    with lock.hold():
        event("acquired")
        sys.stdin.readline()  # the test says when to let go
        event("released")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
