"""The alerts CLI: apply the project's Prefect automations with a notification block."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tasks.errors import AutoretrainError
from tasks.orchestration.alerts import DEFAULT_FILE, apply_automations


def main(argv: list[str] | None = None) -> int:
    """`python -m tasks.cli.alerts apply --block <type-slug>/<name>`: create (or replace) the
    automations of automations.yaml on the Prefect server of PREFECT_API_URL, sending through
    that notification block."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument(
        "command", choices=["apply"], help="apply: create or replace the automations"
    )
    parser.add_argument(
        "--block",
        required=True,
        help="the notification block as <block-type-slug>/<block-name>, e.g. "
        "slack-webhook/autoretrain-alerts or custom-webhook/autoretrain-alerts",
    )
    parser.add_argument(
        "--file", type=Path, default=Path(DEFAULT_FILE), help="automations file (%(default)s)"
    )
    args = parser.parse_args(argv)
    try:
        names = apply_automations(args.file, args.block)
    except AutoretrainError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name in names:
        print(f"applied {name}")
    print(f"{len(names)} automations notify through {args.block}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
