"""The registry CLI: list versions, show the alias history, verify consistency."""

from __future__ import annotations

import argparse
import sys

from tasks.cli.common import DEFAULT_CONFIG
from tasks.config import load_config
from tasks.errors import AutoretrainError, RegistryError
from tasks.render.registry import render_history, render_models, render_versions
from tasks.stores.registry import LocalRegistry, list_models


def main(argv: list[str] | None = None) -> int:
    """`python -m tasks.cli.registry {list,history,verify}`: the config's model in the configured
    registry: its versions, its alias history, or a consistency check (exit 2 on a problem)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument(
        "command",
        choices=["list", "history", "verify"],
        help="list: versions with status, aliases and lineage; history: every alias change "
        "with who and why; verify: check files, digests and history against the aliases",
    )
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="path of config.yaml")
    parser.add_argument("--last", type=int, help="history: only the last N changes")
    parser.add_argument(
        "--all", action="store_true", help="list: the versions of every model in the registry"
    )
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        if not config.registry.path.is_dir():
            raise RegistryError(f"no registry at {config.registry.path} (check registry.path)")
        registry = LocalRegistry(config.registry.path, config.name)
        if args.command == "list" and args.all:
            models = list_models(config.registry.path)
            print(render_models([LocalRegistry(config.registry.path, name) for name in models]))
            return 0
        others = [n for n in list_models(config.registry.path) if n != config.name]
        if args.command == "list":
            print(f"model {config.name} in {config.registry.path}")
            print(render_versions(registry))
            if others:
                print(f"other models in this registry: {', '.join(others)} (list --all)")
            return 0
        if args.command == "history":
            print(f"model {config.name} in {config.registry.path}")
            print(render_history(registry, args.last))
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
        f"model {config.name} in registry {config.registry.path}: "
        f"{'consistent' if check.ok else 'INCONSISTENT'}"
    )
    return 0 if check.ok else 2


if __name__ == "__main__":
    sys.exit(main())
