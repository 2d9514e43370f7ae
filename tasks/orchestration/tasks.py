"""The steps as Prefect tasks: each one the plain function of `tasks.steps`, under its own name.

A task here adds only what Prefect needs for the run graph: no caching (the inputs are frames
and configs, hashing them costs more than the work) and the name of the function, so the UI
shows the same name as the code. The backtest and the tests call the plain functions.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.steps import (
    cards,
    monitoring,
    promotion,
    recording,
    reports,
    training,
    watch,
)

measure_window = task(cache_policy=NO_CACHE)(monitoring.measure_window)
decide_on_history = task(cache_policy=NO_CACHE)(monitoring.decide_on_history)
record_request_outcome = task(cache_policy=NO_CACHE)(monitoring.record_request_outcome)
draw_reports = task(cache_policy=NO_CACHE)(monitoring.draw_reports)
publish_reports = task(cache_policy=NO_CACHE)(reports.publish_reports)
record_monitor_run = task(cache_policy=NO_CACHE)(recording.record_monitor_run)
plan_training = task(cache_policy=NO_CACHE)(training.plan_training)
train_challenger = task(cache_policy=NO_CACHE)(training.train_challenger)
adopt_model = task(cache_policy=NO_CACHE)(training.adopt_model)
evaluate_on_holdout = task(cache_policy=NO_CACHE)(promotion.evaluate_on_holdout)
record_approval = task(cache_policy=NO_CACHE)(promotion.record_approval)
promote_challenger = task(cache_policy=NO_CACHE)(promotion.promote_challenger)
write_model_card = task(cache_policy=NO_CACHE)(cards.write_model_card)
watch_champion = task(cache_policy=NO_CACHE)(watch.watch_champion)

__all__ = [
    "adopt_model",
    "decide_on_history",
    "draw_reports",
    "evaluate_on_holdout",
    "measure_window",
    "plan_training",
    "promote_challenger",
    "publish_reports",
    "record_approval",
    "record_monitor_run",
    "record_request_outcome",
    "train_challenger",
    "watch_champion",
    "write_model_card",
]
