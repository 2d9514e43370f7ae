"""The steps as Prefect tasks: each one the plain function of `tasks.steps`, under its own name.

A task here adds only what Prefect needs for the run graph: no caching (the inputs are frames
and configs, hashing them costs more than the work) and the name of the function, so the UI
shows the same name as the code. The backtest and the tests call the plain functions.

Whether a step is a task run is the config's `orchestration.task_runs`: each task run is three
state events the server turns into rows (Pending, Running, Completed), half the server's CPU of
a fleet's monitor-only model (docs/fleet.md), so a fleet's models run their steps inside their
flow runs unless their config says steps.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE

from tasks.config import Config
from tasks.steps import (
    cards,
    monitoring,
    promotion,
    recording,
    reports,
    training,
    watch,
)

P = ParamSpec("P")
R = TypeVar("R")

# Set while a fleet's worker runs one of its models (flows/fleet.py): task_runs auto reads it.
_FLEET_MODEL: ContextVar[bool] = ContextVar("autoretrain_fleet_model", default=False)


@contextlib.contextmanager
def fleet_model_run() -> Iterator[None]:
    """The runs inside are a fleet's model: `orchestration.task_runs: auto` runs their steps
    inside their flow runs."""
    token = _FLEET_MODEL.set(True)
    try:
        yield
    finally:
        _FLEET_MODEL.reset(token)


def steps_are_task_runs(setting: Literal["auto", "steps", "none"], fleet_model: bool) -> bool:
    """orchestration.task_runs: steps always, none never, auto unless a fleet runs the model."""
    return setting == "steps" or (setting == "auto" and not fleet_model)


# Every step's Prefect task, for checks of their options (tests/stores/test_data.py: no retries).
STEP_TASKS: list[Task[..., Any]] = []


def step(function: Callable[Concatenate[Config, P], R]) -> Callable[Concatenate[Config, P], R]:
    """The step as a Prefect task run, or called in the flow run, as its config says."""
    as_task = task(cache_policy=NO_CACHE)(function)
    STEP_TASKS.append(as_task)

    @functools.wraps(function)
    def run(config: Config, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if steps_are_task_runs(config.orchestration.task_runs, _FLEET_MODEL.get()):
            return as_task(config, *args, **kwargs)
        return function(config, *args, **kwargs)

    return run


measure_window = step(monitoring.measure_window)
decide_on_history = step(monitoring.decide_on_history)
record_request_outcome = step(monitoring.record_request_outcome)
draw_reports = step(monitoring.draw_reports)
publish_reports = step(reports.publish_reports)
record_monitor_run = step(recording.record_monitor_run)
plan_training = step(training.plan_training)
train_challenger = step(training.train_challenger)
adopt_model = step(training.adopt_model)
evaluate_on_holdout = step(promotion.evaluate_on_holdout)
record_approval = step(promotion.record_approval)
promote_challenger = step(promotion.promote_challenger)
write_model_card = step(cards.write_model_card)
watch_champion = step(watch.watch_champion)

__all__ = [
    "adopt_model",
    "decide_on_history",
    "draw_reports",
    "evaluate_on_holdout",
    "fleet_model_run",
    "measure_window",
    "plan_training",
    "promote_challenger",
    "publish_reports",
    "record_approval",
    "record_monitor_run",
    "record_request_outcome",
    "steps_are_task_runs",
    "train_challenger",
    "watch_champion",
    "write_model_card",
]
