"""rollback: make the previous champion (or a named version) champion again, recorded in the history."""

from __future__ import annotations

import argparse
import sys

if __name__ == "__main__":
    # The options, the config and the stores are checked before the imports below (Prefect,
    # scikit-learn: seconds): --help or a bad config answers at once (tasks/cli/scripts.py).
    from tasks.cli.scripts import launch

    sys.exit(launch("rollback"))

from prefect import flow, get_run_logger

from tasks.cli.common import run_flow_call
from tasks.cli.scripts import DEFAULT_CONFIG, launch
from tasks.orchestration.artifacts import publish_model_card
from tasks.orchestration.runtime import current_run_context, emit_model_event, load_run_config
from tasks.orchestration.stores import run_stores
from tasks.orchestration.tasks import write_model_card
from tasks.render.card import render_card_markdown


@flow(name="rollback")
def rollback_flow(
    config_path: str = DEFAULT_CONFIG,
    to_version: str | None = None,
    reason: str = "manual rollback",
    actor: str | None = None,
    expected_champion: str | None = None,
) -> str:
    """Restore the previous champion, write its model card (restored, and why); return a
    one-line account of the change.

    Args:
        config_path: Path of the config.yaml to run, relative to the working directory (a
            deployment run accepts only a config inside the project).
        to_version: Version to restore, like v0001; default the previous champion.
        reason: Why; recorded in the alias history.
        actor: Who; recorded in the alias history (default: the user running it).
        expected_champion: Roll back only if this version is still the champion (the watch
            after a promotion passes the champion it watched); default: whichever is.
    """
    config = load_run_config(config_path)
    stores = run_stores(config)
    registry = stores.registry
    before, after = registry.rollback(
        to_version=to_version, reason=reason, actor=actor, expected=expected_champion
    )
    who = registry.history()[-1].actor
    message = f"champion of {config.name}: {before} -> {after} (rollback by {who}: {reason})"
    get_run_logger().info(message)
    card = write_model_card(
        config,
        stores,
        after,
        "rollback",
        current_run_context(reason, None, config_path),
        render_card_markdown,
    )
    publish_model_card(config.name, card, after)
    emit_model_event(
        config,
        "model.rolled-back",
        {"config_path": config_path, "from": before, "to": after, "reason": reason},
    )
    return message


def run(args: argparse.Namespace) -> int:
    """The command line's run, its options parsed and checked (tasks/cli/scripts.py)."""
    return run_flow_call(
        lambda: rollback_flow(args.config, args.to_version, args.reason, args.actor),
        str,
        debug=args.debug,
    )


def main(argv: list[str] | None = None) -> int:
    """`python flows/rollback.py` with argv: its options, its checks, then run."""
    return launch("rollback", argv)
