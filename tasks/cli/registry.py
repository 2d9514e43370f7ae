"""The registry CLI: list versions, show the alias history, verify consistency, print a card."""

from __future__ import annotations

import argparse
import json
import sys

from tasks.cli.scripts import DEFAULT_CONFIG
from tasks.config import load_config
from tasks.errors import AutoretrainError, RegistryError
from tasks.render.registry import render_history, render_models, render_versions
from tasks.secrets import mask_url_password
from tasks.stores.registry import list_models, open_registry


def list_mlflow_models(tracking_uri: str) -> list[str]:
    """The models autoretrain manages on an MLflow server (imports MLflow only when used)."""
    from tasks.stores.registry.mlflow_server import list_mlflow_models as listed

    return listed(tracking_uri)


def main(argv: list[str] | None = None) -> int:
    """`python -m tasks.cli.registry {list,history,verify,card}`: the config's model in the
    configured registry: its versions, its alias history, a consistency check (exit 2 on a
    problem), or a version's model card (default: the champion's)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument(
        "command",
        choices=["list", "history", "verify", "card"],
        help="list: versions with status, aliases and lineage; history: every alias change "
        "with who and why; verify: check files, digests and history against the aliases; "
        "card: a version's model card, written when it became champion",
    )
    parser.add_argument(
        "version", nargs="?", help="card: the version, like v0002 (default: the champion)"
    )
    parser.add_argument(
        "--json", action="store_true", help="card: its JSON record instead of the Markdown"
    )
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="path of config.yaml")
    parser.add_argument("--last", type=int, help="history: only the last N changes")
    parser.add_argument(
        "--all", action="store_true", help="list: the versions of every model in the registry"
    )
    args = parser.parse_args(argv)
    if args.command != "card" and (args.version is not None or args.json):
        parser.error(f"{args.command} takes no version and no --json (only card does)")
    try:
        # {secret: name} in history.url (the alias lock's database): read as the flows do.
        from tasks.orchestration.secrets import read_secret_block

        config = load_config(args.config, read_secret_block)
        settings = config.registry
        if settings.kind == "mlflow":
            uri = str(settings.tracking_uri)
            where = mask_url_password(uri)  # shown; the URI itself goes only to MLflow
            registry = open_registry(settings, config.name, history=config.history)
            models = list_mlflow_models(uri)
            if config.name not in models and not (args.command == "list" and args.all):
                raise RegistryError(
                    f"no registered model '{config.name}' in the MLflow registry at {where}: run "
                    "the monitor flow first (it registers the first champion), or check the "
                    "config's name and registry.tracking_uri"
                )
        else:
            where = str(settings.path)
            if not settings.path.is_dir():
                raise RegistryError(f"no registry at {settings.path} (check registry.path)")
            registry = open_registry(settings, config.name)
            models = list_models(settings.path)
        if args.command == "list" and args.all:
            print(
                render_models(
                    [open_registry(settings, name, history=config.history) for name in models]
                )
            )
            return 0
        others = [n for n in models if n != config.name]
        if args.command == "list":
            print(f"model {config.name} in {where}")
            print(render_versions(registry))
            if others:
                print(f"other models in this registry: {', '.join(others)} (list --all)")
            return 0
        if args.command == "history":
            print(f"model {config.name} in {where}")
            print(render_history(registry, args.last))
            return 0
        if args.command == "card":
            version = args.version or registry.get_alias("champion")
            if version is None:
                raise RegistryError(
                    f"model {config.name} has no champion in {where}: name a version "
                    "(`registry card v0001`), or run the monitor flow first"
                )
            card = registry.load_card(version)
            print(json.dumps(card.record, indent=2) if args.json else card.markdown.rstrip("\n"))
            return 0
        check = registry.verify()
    except AutoretrainError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for note in check.notes:
        print(f"note: {note}")
    for problem in check.problems:
        print(f"problem: {problem}")
    print(
        f"model {config.name} in registry {where}: {'consistent' if check.ok else 'INCONSISTENT'}"
    )
    return 0 if check.ok else 2


if __name__ == "__main__":
    sys.exit(main())
