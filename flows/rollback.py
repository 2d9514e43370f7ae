"""rollback: make the previous champion (or a named version) champion again, recorded in the history."""

from __future__ import annotations

import sys

from prefect import flow, get_run_logger

from tasks.cli.common import DEFAULT_CONFIG, base_parser, run_cli
from tasks.orchestration.artifacts import publish_model_card
from tasks.orchestration.runtime import current_run_context, emit_model_event, load_run_config
from tasks.orchestration.stores import run_stores
from tasks.orchestration.tasks import write_model_card
from tasks.render.card import render_card_markdown
from tasks.steps.preflight import check_rollback


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


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument(
        "--to", dest="to_version", help="version to restore (default: the previous champion)"
    )
    parser.add_argument("--reason", required=True, help="why: recorded in the history")
    parser.add_argument("--actor", help="who: recorded in the history (default: your user name)")
    args = parser.parse_args(argv)
    return run_cli(
        args.config,
        lambda: rollback_flow(args.config, args.to_version, args.reason, args.actor),
        str,
        check=lambda config: check_rollback(config, args.to_version),
        debug=args.debug,
    )


if __name__ == "__main__":
    sys.exit(main())
