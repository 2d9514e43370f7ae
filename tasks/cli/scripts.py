"""The flow scripts' command lines: their options, the checks before Prefect, and the launch.

`python flows/monitor.py`, `autoretrain monitor` and `flows.monitor.main()` all start here. The
options are parsed and the config and the stores are checked before the flow's module is
imported: that import (Prefect, scikit-learn, scipy, Evidently) takes seconds, so `--help`, an
unknown option or a bad config key answer at once, and a missing data directory or version
fails before the seconds of a temporary Prefect server. Only then is the flow's module imported
and its `run(args)` called. This module imports no more than argparse and the project's errors
at the top; a check imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tasks.errors import AutoretrainError, ConfigError
from tasks.exiting import skip_exit_collection

if TYPE_CHECKING:
    from tasks.config import Config

DEFAULT_CONFIG = os.environ.get("AUTORETRAIN_CONFIG", "config.yaml")
DEFAULT_FLEET = os.environ.get("AUTORETRAIN_FLEET", "examples/fleet/fleet.yaml")


def report_error(error: AutoretrainError, debug: bool = False) -> int:
    """Print a user-fixable error as one `error: ...` message (its traceback too under --debug);
    the exit code 2."""
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    print(f"error: {error}", file=sys.stderr)
    return 2


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        help="path of config.yaml (default: %(default)s, or $AUTORETRAIN_CONFIG)",
    )
    add_debug_option(parser)
    return parser


def add_debug_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an error, show Prefect's tracebacks and the error's own (default: one line; "
        "the run's log on the Prefect server keeps the tracebacks either way)",
    )


def module_docstring(module: str) -> str:
    """A module's docstring, read from its source without importing it (nor what it imports)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return ""
    return ast.get_docstring(ast.parse(Path(spec.origin).read_text(encoding="utf-8"))) or ""


# The options of each script, beyond --config and --debug.


def _monitor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as-of", help="ISO time the current window ends at (default: windows.as_of, else now)"
    )
    parser.add_argument(
        "--mode",
        choices=["auto", "inline", "events"],
        help="override orchestration.mode (default: the config's)",
    )


def _retrain_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as-of", help="ISO time the windows end at (default: windows.as_of, else now)"
    )
    parser.add_argument("--reason", default="requested from the command line")


def _promote_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as-of", help="ISO time the holdout ends at (default: windows.as_of, else now)"
    )
    parser.add_argument("--challenger", help="version to compare (default: the challenger alias)")


def _rollback_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--to", dest="to_version", help="version to restore (default: the previous champion)"
    )
    parser.add_argument("--reason", required=True, help="why: recorded in the history")
    parser.add_argument("--actor", help="who: recorded in the history (default: your user name)")


def _backtest_options(parser: argparse.ArgumentParser) -> None:
    from tasks.core.kinds import FAULT_KINDS, STRATEGY_KINDS

    parser.add_argument(
        "--step",
        help="length of each replayed window, like 30d (default: windows.current, 90d in the "
        "demo config.yaml; the published demo backtest numbers use --step 30d). The summary's "
        "first line names the step it used",
    )
    parser.add_argument(
        "--every", type=int, default=3, help="the fixed schedule retrains every K windows (3)"
    )
    parser.add_argument("--start", help="ISO time of the first window (default: after bootstrap)")
    parser.add_argument("--end", help="ISO time the last window ends by (default: end of the log)")
    parser.add_argument(
        "--output",
        help="directory of the CSV, PNG and scratch registries "
        "(default: <reports.path>/<name>/backtest)",
    )
    parser.add_argument(
        "--strategy",
        action="append",
        choices=STRATEGY_KINDS,
        help="replay only these strategies (repeatable; default: all four)",
    )
    parser.add_argument(
        "--workspace",
        action="store_true",
        help="also write the policy's replay to the Evidently workspace of reports.workspace "
        "(default <reports.path>/workspace, or an `evidently ui` service), project "
        "'<name> (backtest)'",
    )
    parser.add_argument(
        "--faults",
        metavar="PLAN",
        help="break these windows of a copy of the log first (the fault-injection backtest): "
        "WINDOW:KIND[:COLUMN],... with WINDOW counted from 0 and KIND one of "
        + ", ".join(FAULT_KINDS)
        + "; e.g. 3:unit-x1000:temp_max,7:duplicated-rows",
    )


def _fleet_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fleet",
        default=DEFAULT_FLEET,
        help="path of the fleet file (default: %(default)s, or $AUTORETRAIN_FLEET)",
    )
    parser.add_argument(
        "--as-of", help="ISO time every window ends at (default: each config's windows.as_of)"
    )
    add_debug_option(parser)


def _plain_parser(description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=description)


# The checks before Prefect (tasks/steps/preflight.py): an AutoretrainError says what to fix.
# The config is read first, so a bad key is reported before the stores' modules are imported.


def _load_config(args: argparse.Namespace) -> Config:
    from tasks.config import load_config

    return load_config(args.config)


def _check_run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    config = _load_config(args)
    from tasks.steps.preflight import check_run

    check_run(config)


def _check_promote(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    config = _load_config(args)
    from tasks.steps.preflight import check_challenger

    check_challenger(config, args.challenger)


def _check_rollback(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    config = _load_config(args)
    from tasks.steps.preflight import check_rollback

    check_rollback(config, args.to_version)


def _check_backtest(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    from tasks.core.faults import parse_fault_plan
    from tasks.steps.backtest import parse_moment, parse_step

    if args.every < 1:
        parser.error("--every must be 1 or more")
    try:  # an option's error is the parser's: usage, then the message
        parse_step(args.step) if args.step else None
        parse_moment(args.start, "--start"), parse_moment(args.end, "--end")
        parse_fault_plan(args.faults) if args.faults else None
    except ConfigError as error:
        parser.error(str(error))
    config = _load_config(args)
    from tasks.steps.preflight import check_log

    check_log(config)


def _check_fleet(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    # A bad fleet file, or no model that could run, fails before any server.
    from tasks.config import load_fleet, read_fleet_config
    from tasks.orchestration.forkserver import start_for_fleet, stop_forkserver

    # The fleet file's own settings first: a local Dask cluster's workers are forked from a
    # server that imports what every model needs (tasks/orchestration/forkserver.py), started
    # now so that its imports run on the other core while the models are checked (scikit-learn
    # imported for their estimators) and the flow is imported.
    settings = read_fleet_config(Path(args.fleet))
    started = start_for_fleet(settings)
    try:
        fleet = load_fleet(Path(args.fleet), settings)
        from tasks.steps.preflight import check_fleet

        check_fleet(fleet)
    except BaseException:
        if started:  # no model can run: the server's imports would only hold the output open
            stop_forkserver()
        raise


@dataclass(frozen=True)
class Script:
    """One flow script: the module whose run(args) runs it, its options, its check."""

    module: str
    options: Callable[[argparse.ArgumentParser], None]
    check: Callable[[argparse.ArgumentParser, argparse.Namespace], None]
    base: Callable[[str], argparse.ArgumentParser] = base_parser  # --config and --debug

    def parser(self) -> argparse.ArgumentParser:
        parser = self.base(module_docstring(self.module))
        self.options(parser)
        return parser


SCRIPTS: dict[str, Script] = {
    "monitor": Script("flows.monitor", _monitor_options, _check_run),
    "retrain": Script("flows.retrain", _retrain_options, _check_run),
    "promote": Script("flows.promote", _promote_options, _check_promote),
    "rollback": Script("flows.rollback", _rollback_options, _check_rollback),
    "backtest": Script("flows.backtest", _backtest_options, _check_backtest),
    "fleet": Script("flows.fleet", _fleet_options, _check_fleet, base=_plain_parser),
}


def launch(command: str, argv: list[str] | None = None) -> int:
    """Parse argv for a flow script, check, then import its module and return its run(args).

    An AutoretrainError of the check is one `error: ...` line (its traceback under --debug),
    exit 2, before the flow's module (and Prefect) is imported.
    """
    script = SCRIPTS[command]
    parser = script.parser()
    args = parser.parse_args(argv)
    try:
        script.check(parser, args)
    except AutoretrainError as error:
        return report_error(error, args.debug)
    run: Callable[[argparse.Namespace], int] = importlib.import_module(script.module).run
    skip_exit_collection()  # the flow's imports: ~1 s of garbage collection at exit otherwise
    return run(args)
