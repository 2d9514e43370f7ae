"""The registry CLI: list versions, show the alias history, verify consistency."""

from __future__ import annotations

import argparse
import sys

from tasks.cli.common import DEFAULT_CONFIG
from tasks.config import load_config
from tasks.errors import AutoretrainError, RegistryError
from tasks.render.registry import render_history, render_versions
from tasks.stores.registry import LocalRegistry


def main(argv: list[str] | None = None) -> int:
    """`python -m tasks.cli.registry {list,history,verify}`: the configured registry's versions, its
    alias history, or a consistency check (exit 2 on a problem)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument(
        "command",
        choices=["list", "history", "verify"],
        help="list: versions with status, aliases and lineage; history: every alias change "
        "with who and why; verify: check files, digests and history against the aliases",
    )
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="path of config.yaml")
    parser.add_argument("--last", type=int, help="history: only the last N changes")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        if not config.registry.path.is_dir():
            raise RegistryError(f"no registry at {config.registry.path} (check registry.path)")
        registry = LocalRegistry(config.registry.path, config.name)
        if args.command == "list":
            print(render_versions(registry))
            return 0
        if args.command == "history":
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
    print(f"registry {config.registry.path}: {'consistent' if check.ok else 'INCONSISTENT'}")
    return 0 if check.ok else 2


if __name__ == "__main__":
    sys.exit(main())
