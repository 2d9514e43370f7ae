"""What the flow scripts share when run from a terminal."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from tasks.config import load_config
from tasks.errors import AutoretrainError
from tasks.orchestration.local import describe_prefect_failure, local_run_settings

DEFAULT_CONFIG = os.environ.get("AUTORETRAIN_CONFIG", "config.yaml")


def prepare_environment() -> None:
    """Quiet defaults for a local run: no telemetry from the temporary Prefect server (offline)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        help="path of config.yaml (default: %(default)s, or $AUTORETRAIN_CONFIG)",
    )
    return parser


def run_cli(config_path: str, call: Callable[[], Any], render: Callable[[Any], str]) -> int:
    """Run a flow call; print its summary; turn a user-fixable error into a message and exit 2.

    The config is validated first, so a bad key fails in a second, before any server starts.
    A Prefect server that cannot be reached or started is reported in one line, exit 2.
    """
    prepare_environment()
    with local_run_settings():  # also while describing a failure: it names the timeout used
        try:
            load_config(config_path)
            result = call()
        except AutoretrainError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except Exception as error:
            problem = describe_prefect_failure(error)
            if problem is None:
                raise  # a bug: keep its traceback
            print(f"error: {problem}", file=sys.stderr)
            return 2
    print(render(result))
    return 0
