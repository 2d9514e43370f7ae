"""retrain: fit a challenger on the most recent labelled data before the holdout and register it."""

from __future__ import annotations

import argparse
import sys

if __name__ == "__main__":
    # The options, the config and the stores are checked before the imports below (Prefect,
    # scikit-learn: seconds): --help or a bad config answers at once (tasks/cli/scripts.py).
    from tasks.cli.scripts import launch

    sys.exit(launch("retrain"))

from dataclasses import dataclass

from prefect import flow, get_run_logger

from tasks.cli.common import run_flow_call
from tasks.cli.scripts import DEFAULT_CONFIG, launch
from tasks.core.change import configured_span, parse_breaches
from tasks.core.outcomes import RetrainStatus, describe_trigger
from tasks.core.windows import plan_bootstrap, plan_windows, resolve_as_of
from tasks.orchestration.artifacts import publish_step_outcome
from tasks.orchestration.runtime import Busy, emit_model_event, load_run_config, model_slot
from tasks.orchestration.stores import run_stores
from tasks.orchestration.tasks import (
    adopt_model,
    plan_training,
    record_request_outcome,
    train_challenger,
)


@dataclass(frozen=True)
class RetrainOutcome:
    status: RetrainStatus
    version: str | None
    message: str


@flow(name="retrain", log_prints=True)
def retrain_flow(
    config_path: str = DEFAULT_CONFIG,
    as_of: str | None = None,
    reason: str = "requested",
    bootstrap: bool = False,
    request_id: str | None = None,
    breaches: str = "",
) -> RetrainOutcome:
    """Train (or, when bootstrapping from bootstrap.model_path, adopt) a challenger.

    Args:
        config_path: Path of the config.yaml to run, relative to the working directory (a
            deployment run accepts only a config inside the project).
        as_of: ISO time the windows end at; default windows.as_of, else now. The challenger
            trains on windows.training before the holdout that ends here.
        reason: Why the retrain runs; recorded in the version's lineage and the alias history.
        bootstrap: Train the first model on the bootstrap window (or adopt
            bootstrap.model_path) instead of the most recent one.
        request_id: Id of the request that asked for this retrain (the monitor's flow run);
            a second run with the same id does nothing, so a re-delivered event is harmless
            (a retrain dropped as busy says so on that monitor run's history record).
        breaches: The confirmed breaches that started the retrain, like "performance,drift"
            (the monitor passes them; "" or "none" for a manual retrain). With
            training.change_aware, the challenger then trains on the rows since the change
            their streak points to, when there are training.min_rows of them.
    """
    logger = get_run_logger()
    config = load_run_config(config_path)
    moment = resolve_as_of(config, as_of)
    plan = plan_bootstrap(config, moment) if bootstrap else plan_windows(config, moment)
    stores = run_stores(config)
    trigger = describe_trigger(reason, request_id)
    logger.info("retrain of %s %s", config.name, trigger)
    if request_id and not stores.registry.claim_request(f"retrain-{request_id}"):
        message = f"request {request_id} was already handled; not retraining twice for it"
        logger.warning(message)
        publish_step_outcome(config.name, "retrain", "duplicate", message, trigger)
        return RetrainOutcome("duplicate", None, message)
    try:
        with model_slot(config, "retrain"):
            if bootstrap and config.bootstrap.model_path is not None:
                record = adopt_model(
                    config, stores, config.bootstrap.model_path, plan.training, reason, plan.holdout
                )
            else:
                choice = (
                    configured_span(plan, "bootstrap: the bootstrap training span")
                    if bootstrap
                    else plan_training(
                        config,
                        stores,
                        plan,
                        parse_breaches(breaches),
                        stores.registry.get_alias("champion"),
                    )
                )
                record = train_challenger(config, stores, choice.training, reason, choice=choice)
    except Busy as busy:
        logger.warning(str(busy))
        publish_step_outcome(config.name, "retrain", "dropped", str(busy), trigger)
        record_request_outcome(config, stores, request_id, "retrain-dropped")
        return RetrainOutcome("dropped", None, str(busy))
    emit_model_event(
        config,
        "challenger.registered",
        {
            "config_path": config_path,
            "as_of": plan.as_of.isoformat(),
            "version": record.version,
            "reason": reason,
            "bootstrap": bootstrap,
            "training_window": record.training_window,
            "training_rows": record.training_rows,
            # The promote deployment's trigger passes these on, so its run names the request.
            **({"request_id": request_id} if request_id else {}),
        },
    )
    message = f"registered challenger {record.version}"
    logger.info("%s; emitted autoretrain.challenger.registered", message)
    publish_step_outcome(config.name, "retrain", "registered", message, trigger)
    return RetrainOutcome("registered", record.version, message)


def run(args: argparse.Namespace) -> int:
    """The command line's run, its options parsed and checked (tasks/cli/scripts.py)."""
    return run_flow_call(
        lambda: retrain_flow(args.config, args.as_of, args.reason),
        lambda outcome: outcome.message,
        debug=args.debug,
    )


def main(argv: list[str] | None = None) -> int:
    """`python flows/retrain.py` with argv: its options, its checks, then run."""
    return launch("retrain", argv)
