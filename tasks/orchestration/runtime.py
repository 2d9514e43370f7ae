"""The thin Prefect layer for running unattended: events, model-wide locks and the run mode."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.events import Event
from prefect.events.related import related_resources_from_run_context
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.utilities.asyncutils import run_coro_as_sync

from tasks.config import Config, load_config
from tasks.core.card import RunContext
from tasks.errors import AutoretrainError, ConfigError
from tasks.orchestration import heartbeats, tls
from tasks.orchestration.retries import call_api
from tasks.orchestration.secrets import read_secret_block

logger = logging.getLogger(__name__)

# Every flow module imports this one: its flow runs (subflows too, in a terminal, a deployment
# run or a Dask worker) end without waiting out the heartbeat thread's nap (heartbeats.py).
heartbeats.install()
# ... and their Prefect clients share one TLS context instead of reading the CA bundle each (tls.py).
tls.install()

EVENT_PREFIX = "autoretrain"
Step = Literal["retrain", "promote"]
RunMode = Literal["auto", "inline", "events"]


class Busy(AutoretrainError):
    """Another run holds the model's retrain or promotion slot and on_busy is 'drop'."""


def model_resource(config: Config) -> dict[str, str]:
    """The event resource of a model: one id per model name."""
    return {
        "prefect.resource.id": f"{EVENT_PREFIX}.model.{config.name}",
        "prefect.resource.name": config.name,
    }


def emit_model_event(config: Config, name: str, payload: dict[str, Any]) -> None:
    """Emit autoretrain.<name> about the config's model, e.g. retrain.requested.

    A payload's `confirmed` flag is also a resource label (autoretrain.confirmed: true/false):
    automation triggers match labels, not payloads, so alerts can ask for confirmed breaches.

    The event is posted to the API and retried like any call: Prefect's emit_event hands it to
    a background worker that drops it, with a log line, when the server does not take it.
    Sent twice, it is one event: it keeps its id, and triggers skip an id they have seen.
    """
    resource = model_resource(config)
    if isinstance(payload.get("confirmed"), bool):
        resource["autoretrain.confirmed"] = str(payload["confirmed"]).lower()
    event = Event.model_validate(
        {"event": f"{EVENT_PREFIX}.{name}", "resource": resource, "payload": payload}
    )
    call_api(
        f"emitting {event.event} for {config.name}",
        lambda: run_coro_as_sync(_post_event(event)),
        idempotent=True,
    )
    logger.info("emitted %s (%s)", event.event, event.id)


async def _post_event(event: Event) -> None:
    """Post the event with the run's flow run, flow, deployment and tags as related resources,
    as Prefect's emit_event does (deployment triggers match on them)."""
    async with get_client() as client:
        exclude = {resource.id for resource in event.involved_resources}
        related = await related_resources_from_run_context(client, exclude=exclude)
        sent = event.model_copy(update={"related": [*event.related, *related]})
        await client.request("POST", "/events", json=[sent.model_dump(mode="json")])


def _deployment_id() -> str | None:
    """The deployment that started this run (or the run whose subflow this is), else None.

    Inside a run, read from what the engine already knows: `prefect.runtime.deployment.id`
    looks for the id on the run's context under a name the context does not have, so in every
    run a deployment did not start it read the flow run from the API again (two requests per
    monitor run, each a model's in a fleet). The engine sets the id for a deployment's run and
    its subflows (the context variable it reads first), and the run's own flow run has it.
    """
    from prefect.context import FlowRunContext
    from prefect.context import _deployment_id as started_by  # what deployment.id reads first
    from prefect.runtime import deployment

    context = FlowRunContext.get()
    if context is not None and context.flow_run is not None:
        found = started_by.get() or context.flow_run.deployment_id
        return str(found) if found is not None else None
    return deployment.id


def check_config_path(config_path: str) -> None:
    """In a deployment run, accept only a config inside the working directory (the project).

    Event triggers take config_path from the event's payload: without this check, anyone who
    can emit an event could point a run at a config (and a model file to unpickle) of theirs.
    """
    if _deployment_id() is None:
        return  # run from a terminal or a test: the person chose the path
    root = Path.cwd().resolve()
    if not (root / config_path).resolve().is_relative_to(root):
        raise ConfigError(
            f"config_path '{config_path}' is outside the project directory {root}: a deployment "
            "run reads only a config inside it (events cannot point it elsewhere); put it there"
        )


def load_run_config(config_path: str) -> Config:
    """Every flow's first step: check where the config comes from, then load and validate it.

    Its {secret: name} references are read from Prefect Secret blocks here, on the worker.
    """
    check_config_path(config_path)
    return load_config(config_path, read_secret_block)


def is_deployment_run() -> bool:
    """Whether this flow run was started by a deployment (a schedule, a trigger, the UI)."""
    return _deployment_id() is not None


def resolve_mode(
    config: Config, override: RunMode | str | None = None
) -> Literal["inline", "events"]:
    """The run mode: the flow parameter, else the config; 'auto' follows how the run started."""
    mode = override or config.orchestration.mode
    if mode not in ("auto", "inline", "events"):
        raise AutoretrainError(f"mode must be auto, inline or events, not {mode!r}")
    if mode == "auto":
        return "events" if _deployment_id() is not None else "inline"
    return "inline" if mode == "inline" else "events"


def limit_name(config: Config, step: Step) -> str:
    return f"autoretrain-{step}-{config.name}"


def _ensure_limit(name: str) -> None:
    """Create the one-slot global concurrency limit if it does not exist yet (safe to repeat)."""
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):  # another run created it first
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1)
                )


@contextlib.contextmanager
def model_slot(config: Config, step: Step) -> Iterator[None]:
    """Hold the model's single retrain (or promotion) slot, inline subflows included.

    A deployment's concurrency limit does not cover a flow called inline as a subflow, so the
    flows take a global concurrency limit of one slot themselves. With on_busy 'queue' a second
    request waits up to queue_timeout; with 'drop' it raises Busy at once.
    """
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError

    name = limit_name(config, step)
    call_api(
        f"creating the {step} slot of {config.name}", lambda: _ensure_limit(name), idempotent=True
    )
    settings = config.orchestration
    lease = settings.slot_lease.total_seconds()  # a killed run's slot frees after this

    def take_slot() -> None:
        if settings.on_busy == "drop":
            manager = concurrency(name, occupy=1, strict=True, max_retries=0, lease_duration=lease)
        else:
            timeout = settings.queue_timeout.total_seconds()
            manager = concurrency(
                name, occupy=1, strict=True, timeout_seconds=timeout, lease_duration=lease
            )
        slot.enter_context(manager)

    slot = contextlib.ExitStack()
    try:
        # Not idempotent (a second slot), so sent again only when it certainly was not taken.
        call_api(f"taking the {step} slot of {config.name}", take_slot, idempotent=False)
    except ConcurrencySlotAcquisitionError as error:
        cause = error.__cause__
        locked = isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code == 423
        if settings.on_busy == "drop" and locked:
            raise Busy(
                f"another {step} of {config.name} is running; this request is dropped (on_busy: drop)"
            ) from error
        raise
    except TimeoutError as error:
        raise AutoretrainError(
            f"waited {settings.queue_timeout} for the running {step} of {config.name} to finish; "
            "giving up (raise orchestration.queue_timeout, or use on_busy: drop)"
        ) from error
    with slot:
        yield


def current_run_context(reason: str, request_id: str | None, config_path: str) -> RunContext:
    """What a model card records of this flow run: its id and the run that started it inline."""
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    parent = (
        call_api("reading the parent flow run", flow_run.get_parent_flow_run_id, idempotent=True)
        if run_id
        else None
    )
    return RunContext(
        reason=reason,
        request_id=request_id,
        flow_run_id=run_id,
        parent_flow_run_id=parent,
        config_path=config_path,
    )
