"""Replaying a time-ordered log window by window through the monitor -> retrain -> promote steps.

Every strategy uses the flows' own task functions (training, Evidently signals, policy with its
history store, holdout comparison, promotion) on its own scratch registry; only *when* to retrain
differs. The metric of a window is the champion's score on the window's labelled rows, measured
before any retraining at the end of that window: what production would have seen.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from statistics import fmean
from typing import Any, TypeGuard

import pandas as pd

from tasks.adapters.evidently_workspace import WorkspaceLocation
from tasks.adapters.modeling import predict_labels
from tasks.config import Config, parse_duration
from tasks.core.faults import Fault
from tasks.core.kinds import STRATEGY_KINDS, StrategyKind
from tasks.core.metrics import score_predictions
from tasks.core.policy import TriggerDecision
from tasks.core.reasons import Reason
from tasks.core.signals import Signals
from tasks.core.windows import Window, plan_bootstrap, plan_windows, to_utc_naive
from tasks.errors import ConfigError, DataError, ModelError
from tasks.steps.dashboards import record_dashboard, replay_location, reset_backtest_dashboard
from tasks.steps.estimation import estimate_window
from tasks.steps.monitoring import decide_on_history, record_run, window_signals
from tasks.steps.promotion import evaluate_on_holdout, promote_challenger
from tasks.steps.training import adopt_model, plan_training, train_challenger
from tasks.steps.watch import (
    PromotionHindsight,
    WatchOutcome,
    judge_in_hindsight,
    roll_back_watched,
    watch_champion,
)
from tasks.stores.data import labelled_rows, load_window, make_source
from tasks.stores.resources import Stores, open_stores

MONITOR_FAILED = "monitor-failed"  # the action of a window whose monitor run refused its data


def _is_strategy_kind(name: str) -> TypeGuard[StrategyKind]:
    """Whether name is one of the strategy kinds (as a StrategyKind for the type checker)."""
    return name in STRATEGY_KINDS


@dataclass(frozen=True)
class Strategy:
    """When to retrain: never, every `every` windows, every window, or when the policy says so."""

    kind: StrategyKind
    every: int = 1

    @classmethod
    def parse(cls, name: str, every: int = 3) -> Strategy:
        """A strategy from its CLI name: policy, never, fixed (every `every` windows), every-window."""
        if not _is_strategy_kind(name):
            raise ConfigError(
                f"unknown backtest strategy '{name}': choose from {', '.join(STRATEGY_KINDS)}"
            )
        if every < 1:
            raise ConfigError(f"the fixed schedule needs every >= 1 window, got {every}")
        return cls(name, every) if name == "fixed" else cls(name)

    @property
    def name(self) -> str:
        return f"fixed-every-{self.every}" if self.kind == "fixed" else self.kind

    def scheduled(self, index: int) -> bool:
        """Whether a baseline retrains at the end of window `index` (0-based)."""
        if self.kind == "every-window":
            return True
        if self.kind == "fixed":
            return (index + 1) % self.every == 0
        return False


@dataclass(frozen=True)
class WindowOutcome:
    """One window of one strategy: the metric production saw, and what the strategy did after."""

    index: int
    window: Window
    champion: str
    metric: float | None  # None: no labelled rows in the window
    labelled_rows: int
    action: str  # the policy's action, or "scheduled" / "none" for baselines
    retrained: bool
    promoted: bool
    reasons: tuple[str, ...] = ()
    # The champion's metric on every row of the window estimated without labels (CBPE); None:
    # no estimate (a regressor, no predict_proba, no calibration, estimate disabled).
    estimate: float | None = None
    reason_codes: tuple[Reason, ...] = ()  # the policy's reasons as codes, in the order of reasons
    # The watch after a promotion (policy only): whether it rolled back, and why.
    rolled_back: bool = False
    watch_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class StrategyResult:
    strategy: str
    outcomes: tuple[WindowOutcome, ...]
    # The policy's promotions judged after the fact (the watch's benchmark); () for baselines.
    hindsight: tuple[PromotionHindsight, ...] = ()

    @property
    def rollbacks(self) -> int:
        """The watch's automatic rollbacks."""
        return sum(o.rolled_back for o in self.outcomes)

    @property
    def rollbacks_of_good(self) -> int:
        """Rollbacks of promotions that the realised metric after them confirms."""
        return sum(1 for h in self.hindsight if h.rolled_back and h.good)

    @property
    def mean_metric(self) -> float | None:
        values = [o.metric for o in self.outcomes if o.metric is not None]
        return fmean(values) if values else None

    @property
    def estimate_error(self) -> float | None:
        """Mean |estimate - realised metric| over the windows that have both."""
        errors = [
            abs(o.estimate - o.metric)
            for o in self.outcomes
            if o.estimate is not None and o.metric is not None
        ]
        return fmean(errors) if errors else None

    @property
    def retrains(self) -> int:
        return sum(o.retrained for o in self.outcomes)

    @property
    def promotions(self) -> int:
        return sum(o.promoted for o in self.outcomes)

    @property
    def fired(self) -> list[WindowOutcome]:
        return [o for o in self.outcomes if o.retrained]

    @property
    def decisions(self) -> tuple[tuple[int, str, bool], ...]:
        """(window, action, promoted) of every window: what reproducibility is checked on."""
        return tuple((o.index, o.action, o.promoted) for o in self.outcomes)


@dataclass(frozen=True)
class BacktestResult:
    model_name: str
    metric: str
    windows: tuple[Window, ...]
    strategies: tuple[StrategyResult, ...] = field(default_factory=tuple)
    output_dir: Path | None = None
    higher_is_better: bool = True  # False for error metrics (mae, rmse, mape, pinball)
    faults: tuple[Fault, ...] = ()  # the faults injected into the replayed log (--faults)

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def faults_in(self, index: int) -> tuple[Fault, ...]:
        """The faults injected into window index."""
        return tuple(fault for fault in self.faults if fault.window == index)

    def get(self, name: str) -> StrategyResult:
        for result in self.strategies:
            if result.strategy == name:
                return result
        raise KeyError(name)


def parse_step(text: str) -> timedelta:
    """A window length like 30d; ConfigError naming the option when it is not one."""
    try:
        step = parse_duration(text)
    except ValueError as error:
        raise ConfigError(f"--step: {error}") from None
    if not isinstance(step, timedelta) or step <= timedelta(0):
        raise ConfigError(f"--step: '{text}' is not a positive duration like 30d")
    return step


def parse_moment(text: str | None, option: str) -> datetime | None:
    """An ISO time given on the command line, or None."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option}: '{text}' is not an ISO time like 2014-01-01") from None


def data_time_range(config: Config) -> Window:
    """The first and last timestamp of the log (end exclusive, one microsecond after the last)."""
    column = config.data.timestamp_column
    everything = Window(datetime(1900, 1, 1), datetime(2200, 1, 1))
    stamps = make_source(config.data).read([column], everything)[column]
    if len(stamps) == 0:
        raise DataError("the log has no rows: nothing to backtest")
    parsed = pd.to_datetime(stamps, utc=True).dt.tz_localize(None)
    return Window(
        parsed.min().to_pydatetime(), parsed.max().to_pydatetime() + timedelta(microseconds=1)
    )


def plan_backtest(
    config: Config,
    step: timedelta,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Window]:
    """Consecutive windows of length step, from after the first champion's holdout to the end."""
    if start is None or end is None:
        span = data_time_range(config)
        if start is None:
            ready = span.start + config.windows.training + config.windows.holdout
            start = plan_bootstrap(config, ready).holdout.end
        end = end or span.end
    start, end = to_utc_naive(start), to_utc_naive(end)
    windows = []
    cursor = start
    while cursor + step <= end:
        windows.append(Window(cursor, cursor + step))
        cursor += step
    if not windows:
        raise DataError(
            f"no whole window of {step} fits between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M}: "
            "use a shorter --step or a longer log"
        )
    return windows


def scratch_config(config: Config, directory: Path) -> Config:
    """The config with its registry, history and reports in a scratch directory; the champion's
    own predictions are scored (a logged prediction column belongs to the real production model).
    The scratch registry is always a local one: a replay never touches an MLflow server's model."""
    if directory.exists():
        shutil.rmtree(directory)
    return config.model_copy(
        update={
            "data": config.data.model_copy(update={"prediction_column": None}),
            "registry": config.registry.model_copy(
                update={"kind": "local", "tracking_uri": None, "path": directory / "registry"}
            ),
            "reports": config.reports.model_copy(update={"path": directory / "reports"}),
        }
    )


def bootstrap_champion(config: Config, stores: Stores, first_window: Window) -> str:
    """Make the first champion as the monitor flow does when the registry is empty."""
    plan = plan_bootstrap(config, first_window.start)
    if config.bootstrap.model_path is not None and config.bootstrap.training_start is not None:
        record = adopt_model(
            config, stores, config.bootstrap.model_path, plan.training, "bootstrap", plan.holdout
        )
    else:
        record = train_challenger(
            config, stores, plan.training, "bootstrap: no champion yet", plan.holdout
        )
    comparison = evaluate_on_holdout(config, stores, plan.holdout, record.version)
    if promote_challenger(config, stores, comparison.comparison_id) != "promoted":
        raise ModelError(
            "the first model failed the promotion gate in the backtest: "
            + "; ".join(comparison.reasons)
            + ". Loosen policy.performance_threshold (lower it for f1/accuracy/r2, raise it "
            "for error metrics like mae), or check the bootstrap window."
        )
    return record.version


def score_window(
    config: Config,
    stores: Stores,
    window: Window,
    champion: str,
    *,
    rows: pd.DataFrame | None = None,
    model: Any = None,
) -> tuple[float | None, int]:
    """The champion's metric on the labelled rows of window, and how many there were.

    rows, model: the window's rows and the champion's model when the caller has them already.
    """
    if rows is None:
        labelled = load_window(config, window, labelled_only=True, source=stores.source)
    else:
        labelled = labelled_rows(config, rows)
    if len(labelled) == 0:
        return None, 0
    if model is None:
        model = stores.registry.load_model(champion)
    predictions = predict_labels(model, labelled, config.data.features)
    value = score_predictions(
        config.policy.performance_metric,
        labelled[config.data.target_column].tolist(),
        predictions.tolist(),
    )
    return value, len(labelled)


def estimate_in_window(
    config: Config,
    stores: Stores,
    window: Window,
    champion: str,
    *,
    rows: pd.DataFrame | None = None,
    model: Any = None,
) -> float | None:
    """The champion's metric on every row of window estimated without labels, or None.

    rows, model: the window's rows and the champion's model when the caller has them already.
    """
    if not config.policy.estimated_performance.enabled:
        return None
    registry = stores.registry
    if rows is None:
        rows = load_window(config, window, source=stores.source)
    if len(rows) == 0:
        return None
    if model is None:
        model = registry.load_model(champion)
    estimate, _ = estimate_window(config, registry, champion, model, rows)
    return estimate.value if estimate else None


def retrain_and_promote(
    config: Config,
    stores: Stores,
    as_of: datetime,
    reason: str,
    breaches: tuple[str, ...] = (),
    champion: str | None = None,
) -> bool:
    """What the retrain and promote flows do at as_of; True when the challenger was promoted.

    breaches: the confirmed breaches that started the retrain (the change-aware training window
    is estimated from their streak); empty for a scheduled retrain.
    """
    plan = plan_windows(config, as_of)
    choice = plan_training(config, stores, plan, breaches, champion)
    record = train_challenger(config, stores, choice.training, reason, choice=choice)
    comparison = evaluate_on_holdout(config, stores, choice.holdout, record.version)
    return promote_challenger(config, stores, comparison.comparison_id) == "promoted"


def replay_window(
    config: Config,
    stores: Stores,
    strategy: Strategy,
    index: int,
    window: Window,
    champion: str,
    workspace: WorkspaceLocation | None = None,
) -> WindowOutcome:
    """Score the window, let the strategy decide at its end, retrain and promote if it says so.

    With workspace, the policy's monitor runs also go to the model's backtest project there.
    """
    # The window's rows read once, the champion loaded once: scoring, the estimate and the
    # policy's measurement share them.
    rows = load_window(config, window, source=stores.source)
    model = stores.registry.load_model(champion)
    metric, labelled = score_window(config, stores, window, champion, rows=rows, model=model)
    estimate = estimate_in_window(config, stores, window, champion, rows=rows, model=model)
    decision: TriggerDecision | None = None
    signals: Signals | None = None
    rolled_back = False
    watch_reasons: tuple[str, ...] = ()
    watch: WatchOutcome | None = None
    action: str
    if strategy.kind == "policy":
        # The monitor looks at its configured current window ending here, as in production.
        current = plan_windows(config, window.end).current
        try:
            signals = window_signals(config, stores, current, champion, None, champion_model=model)
        except DataError as error:
            # Refused as the monitor flow refuses it (e.g. an entirely empty column): that run
            # fails, decides nothing and records nothing; the replay goes on to the next window.
            return WindowOutcome(
                index, window, champion, metric, labelled, MONITOR_FAILED, False, False,
                (str(error),), estimate,
            )  # fmt: skip
        decision = decide_on_history(config, stores, signals, window.end, champion)
        retrain = decision.retrain
        action = decision.action
        watch = watch_champion(config, stores, current, champion, window.end, signals.quality)
        if watch is not None:
            watch_reasons = watch.decision.reasons
            # A backtest has nobody to approve: only a rollback that asks no one happens.
            if watch.decision.rollback:
                roll_back_watched(stores, watch.decision)
                rolled_back, retrain = True, False
    else:
        retrain = strategy.scheduled(index)
        action = "scheduled" if retrain else "none"
    promoted = False
    if retrain:
        reason = decision.trigger if decision else f"{strategy.name} schedule"
        promoted = retrain_and_promote(
            config,
            stores,
            window.end,
            f"backtest: {reason}",
            decision.confirmed if decision else (),
            champion,
        )
    if decision is not None:
        status = "promoted" if promoted else ("rejected" if retrain else action)
        if rolled_back:
            status = "rolled-back"
        record_run(
            config,
            stores,
            window.end,
            champion,
            decision,
            status,
            watch=watch.decision if watch is not None else None,
        )
        if workspace is not None and signals is not None:
            record_dashboard(
                config,
                window.end,
                champion,
                signals,
                decision,
                status,
                workspace=workspace,
                backtest=True,
            )
    return WindowOutcome(
        index=index,
        window=window,
        champion=champion,
        metric=metric,
        labelled_rows=labelled,
        action=action,
        retrained=retrain,
        promoted=promoted,
        reasons=decision.reasons if decision else (),
        estimate=estimate,
        reason_codes=decision.reason_codes if decision else (),
        rolled_back=rolled_back,
        watch_reasons=watch_reasons,
    )


def replay_strategy(
    config: Config,
    strategy: Strategy,
    windows: list[Window],
    scratch: Path,
    on_window: Callable[[WindowOutcome], None] | None = None,
    workspace: WorkspaceLocation | None = None,
) -> StrategyResult:
    """Bootstrap a champion in a fresh scratch registry, then replay every window in order.

    Calls the plain step functions, not the Prefect tasks: one task run per step and window
    would cost more than the work. on_window is called after each window (progress). With
    workspace, the policy's replay replaces the model's backtest project in that Evidently
    workspace, a directory or a service (the other strategies have no monitor runs to show).
    """
    if workspace is not None and strategy.kind == "policy":
        ready = reset_backtest_dashboard(config, workspace)
        workspace = replay_location(workspace) if ready else None
    else:
        workspace = None
    config = scratch_config(config, scratch / strategy.name)
    stores = open_stores(config)  # one scratch registry, history and log per replay
    champion = bootstrap_champion(config, stores, windows[0])
    outcomes = []
    for index, window in enumerate(windows):
        outcome = replay_window(config, stores, strategy, index, window, champion, workspace)
        outcomes.append(outcome)
        champion = stores.registry.get_alias("champion") or champion
        if on_window is not None:
            on_window(outcome)
    hindsight: list[PromotionHindsight] = []
    if strategy.kind == "policy":
        promotions = []
        for o in outcomes[:-1]:
            if o.promoted:
                promoted = outcomes[o.index + 1].champion
                undone = any(
                    later.rolled_back and later.champion == promoted
                    for later in outcomes[o.index + 1 :]
                )
                promotions.append((o.index, promoted, o.champion, undone))
        hindsight = judge_in_hindsight(config, stores, promotions, windows)
    return StrategyResult(
        strategy=strategy.name, outcomes=tuple(outcomes), hindsight=tuple(hindsight)
    )
