"""retrain: fit a challenger on the most recent labelled data before the holdout and register it."""

from __future__ import annotations

import sys

from prefect import flow

from tasks.cli import DEFAULT_CONFIG, base_parser, run_cli
from tasks.config import load_config
from tasks.training import adopt_model, train_challenger
from tasks.windows import plan_bootstrap, plan_windows, resolve_as_of


@flow(name="retrain", log_prints=True)
def retrain_flow(
    config_path: str = DEFAULT_CONFIG,
    as_of: str | None = None,
    reason: str = "requested",
    bootstrap: bool = False,
) -> str:
    """Train (or, when bootstrapping from bootstrap.model_path, adopt) a challenger; return its version."""
    config = load_config(config_path)
    moment = resolve_as_of(config, as_of)
    plan = plan_bootstrap(config, moment) if bootstrap else plan_windows(config, moment)
    if bootstrap and config.bootstrap.model_path is not None:
        record = adopt_model(config, config.bootstrap.model_path, plan.training, reason)
    else:
        record = train_challenger(config, plan.training, reason)
    return record.version


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument(
        "--as-of", help="ISO time the windows end at (default: windows.as_of, else now)"
    )
    parser.add_argument("--reason", default="requested from the command line")
    args = parser.parse_args(argv)
    return run_cli(
        args.config,
        lambda: retrain_flow(args.config, args.as_of, args.reason),
        lambda version: f"registered challenger {version}",
    )


if __name__ == "__main__":
    sys.exit(main())
