"""The watch after a promotion: scoring the champion it replaced beside it, and rolling back.

The decision is tasks/core/watch.py's; this step finds where the watch stands (the champion's
promotion in the alias history, its monitor runs in the monitoring history), scores both
champions on the window's labelled rows after the promotion's holdout with the gate
(compare_models), saves that comparison, and restores the previous champion when told to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tasks.adapters.modeling import predict_labels
from tasks.config import Config
from tasks.core.gate import Comparison, GateRules, compare_models
from tasks.core.metrics import score_predictions
from tasks.core.quality import QualityReport
from tasks.core.watch import WatchDecision, WatchState, decide_watch
from tasks.core.windows import Window
from tasks.steps.logs import step_logger
from tasks.steps.promotion import collect_outputs
from tasks.stores.data import load_window
from tasks.stores.registry import HistoryEntry, ModelRegistry
from tasks.stores.resources import Stores

WATCH_ACTOR = "autoretrain watch"


@dataclass(frozen=True)
class WatchOutcome:
    """The watch's decision, and the comparison behind it (None when nothing was scored)."""

    decision: WatchDecision
    comparison: Comparison | None


def promoted_over(champion: str, entries: list[HistoryEntry]) -> str | None:
    """The champion the current one replaced by a promotion; None when its last move to
    champion was no promotion over another (the first champion, a rollback that restored it)."""
    for entry in reversed(entries):
        if entry.alias != "champion" or entry.to_version != champion:
            continue
        if entry.from_version == champion:
            continue  # an entry that moved nothing
        if entry.action == "promote":
            return entry.from_version
        return None
    return None


def watch_state(config: Config, stores: Stores, champion: str, as_of: datetime) -> WatchState:
    """Where the watch of champion stands at a monitor run at as_of."""
    windows = config.policy.watch.windows
    previous = promoted_over(champion, stores.registry.history()) if windows else None
    runs = 0
    if previous is not None:
        # The earlier windows monitored with this champion, newest first until another one.
        for run in stores.history.recent(config.name, as_of, windows + 1):
            if run.champion != champion:
                break
            runs += 1
    return WatchState(champion=champion, previous=previous, runs_watched=runs, windows=windows)


def watched_rows(
    window: Window, registry: ModelRegistry, champion: str, previous: str, holdout: timedelta
) -> Window:
    """The part of the window neither champion trained on nor the gate judged the promotion on:
    the rows after the promoted champion's holdout (its own when the change-aware training
    moved it, else the windows.holdout right after its training window) and after both
    training windows."""
    promoted = registry.get_version(champion)
    trained = Window.from_dict(promoted.training_window)
    judged = (
        Window.from_dict(promoted.holdout_window).end
        if promoted.holdout_window
        else trained.end + holdout
    )
    earlier = Window.from_dict(registry.get_version(previous).training_window)
    start = max(window.start, trained.end, judged, earlier.end)
    return Window(min(start, window.end), window.end)


def watch_champion(
    config: Config,
    stores: Stores,
    window: Window,
    champion: str,
    as_of: datetime,
    quality: QualityReport | None = None,
) -> WatchOutcome | None:
    """The watch at a monitor run of window: None when nothing is watched; else its decision,
    with the comparison of both champions on the rows after the promotion's holdout (saved in
    the registry, the previous champion in the challenger's seat).

    quality: the window's data-quality report (Signals.quality); when it blocks (a check failed
    and data_quality.action is block), neither champion is scored on its rows: the run is not
    judged, as the monitor does not judge the champion on them either."""
    state = watch_state(config, stores, champion, as_of)
    rules = GateRules.from_config(config)
    approval = config.promotion.approval.required
    if not state.watching or state.previous is None:
        decision = decide_watch(state, None, approval_required=approval)
        return WatchOutcome(decision, None) if decision is not None else None
    if quality is not None and quality.blocks:
        decision = decide_watch(
            state, None, approval_required=approval, data_issue=quality.summary()
        )
        if decision is not None:
            step_logger(__name__).warning("%s: %s", config.name, "; ".join(decision.reasons))
            return WatchOutcome(decision, None)
    registry = stores.registry
    previous = state.previous
    rows = watched_rows(window, registry, champion, previous, config.windows.holdout)
    frame = load_window(config, rows, labelled_only=True, source=stores.source)
    slice_columns = config.promotion.slices.columns
    outputs = collect_outputs(registry, (champion, previous), config, frame, rows)
    comparison = compare_models(
        comparison_id=f"{datetime.now(UTC):%Y%m%dt%H%M%S}-watch-{previous}-vs-{champion}",
        model_name=config.name,
        holdout_window=rows.to_dict(),
        y_true=frame[config.data.target_column].tolist(),
        rules=rules,
        champion=outputs[0],
        challenger=outputs[1],
        slice_values={column: frame[column].tolist() for column in slice_columns},
    )
    registry.save_comparison(comparison.comparison_id, comparison.to_dict())
    decision = decide_watch(state, comparison, approval_required=approval)
    if decision is None:  # decide_watch decides every watched run
        raise ValueError(f"the watch of {champion} decided nothing on a watched run")
    step_logger(__name__).info("%s: %s", config.name, "; ".join(decision.reasons))
    return WatchOutcome(decision, comparison)


def roll_back_watched(stores: Stores, decision: WatchDecision) -> tuple[str, str]:
    """Restore the previous champion as `autoretrain rollback` does (the registry's rollback,
    under the model's lock), only if the watched champion is still champion."""
    before, after = stores.registry.rollback(
        to_version=decision.previous,
        reason=decision.reason,
        actor=WATCH_ACTOR,
        expected=decision.champion,
    )
    step_logger(__name__).warning("champion %s -> %s: %s", before, after, decision.reason)
    return before, after


def describe_rollback_choices(decision: WatchDecision, timeout_seconds: int) -> str:
    """What each answer of the approval form does to a rollback the watch asks for."""
    return (
        "**The watch after a promotion found the previous champion better. Choose a decision "
        "and give your name; both are required.**\n\n"
        f"- **approve**: {decision.previous} is champion again in place of {decision.champion} "
        f"(a rollback); {decision.champion} is marked rolled-back and never promoted again.\n"
        f"- **reject**: {decision.champion} stays champion; the watch goes on.\n\n"
        f"Why: {'; '.join(decision.reasons)}\n\n"
        "Your name and note are recorded in the comparison and the alias history. "
        f"No answer within {timeout_seconds} s keeps {decision.champion}."
    )


def describe_judged(version: str, status: str) -> str:
    """Why the promote step does nothing for a challenger that is not newly registered."""
    if status == "rolled-back":
        return (
            f"{version} was rolled back after its promotion (status rolled-back): a version "
            "rolled back is never promoted again; nothing to do"
        )
    return f"{version} was already judged (status {status}); nothing to do"


@dataclass(frozen=True)
class PromotionHindsight:
    """A promotion judged after the fact (the backtest): both champions' realised metric on the
    labelled rows of the windows after it."""

    index: int  # the window at whose end it was promoted
    promoted: str
    previous: str
    promoted_score: float | None  # None: no labelled rows after it
    previous_score: float | None
    rows: int
    rolled_back: bool
    higher_is_better: bool = True

    @property
    def good(self) -> bool | None:
        """Whether the realised metric after it confirms it: the promoted champion no worse
        than the one it replaced; None without labelled rows after it."""
        if self.promoted_score is None or self.previous_score is None:
            return None
        if self.higher_is_better:
            return self.promoted_score >= self.previous_score
        return self.promoted_score <= self.previous_score


def judge_in_hindsight(
    config: Config,
    stores: Stores,
    promotions: list[tuple[int, str, str, bool]],
    windows: list[Window],
) -> list[PromotionHindsight]:
    """Each promotion (window index, promoted, previous, rolled back by the watch) judged on
    the labelled rows of the next max(policy.watch.windows, 3) windows after it: the rows
    production saw after the gate's holdout, whether the watch kept the model or not."""
    span = max(config.policy.watch.windows, 3)
    metric = config.policy.performance_metric
    judged = []
    for index, promoted, previous, rolled_back in promotions:
        after = windows[index + 1 : index + 1 + span]
        scores: list[float | None] = [None, None]
        rows = 0
        if after:
            frame = load_window(
                config,
                Window(after[0].start, after[-1].end),
                labelled_only=True,
                source=stores.source,
            )
            rows = len(frame)
            if rows:
                truth = frame[config.data.target_column].tolist()
                for slot, version in enumerate((promoted, previous)):
                    model = stores.registry.load_model(version)
                    predictions = predict_labels(model, frame, config.data.features)
                    scores[slot] = score_predictions(metric, truth, predictions.tolist())
        judged.append(
            PromotionHindsight(
                index=index,
                promoted=promoted,
                previous=previous,
                promoted_score=scores[0],
                previous_score=scores[1],
                rows=rows,
                rolled_back=rolled_back,
                higher_is_better=metric.higher_is_better,
            )
        )
    return judged
