"""The watch after a promotion: is the champion it replaced better on the rows that came after?

The gate judges a challenger on one holdout, and a holdout can mislead (a short window, a
season, a change right after it). For policy.watch.windows monitor runs after a promotion, the
monitor scores the previous champion beside the promoted one on the window's labelled rows that
postdate the promotion's holdout, and the gate itself compares them (compare_models, with the
previous champion in the challenger's seat): the same paired interval, the same
min_improvement. Only the primary rule decides here (the interval of the previous champion's
advantage clears the required improvement); the guards and slices are recorded in the
comparison but do not block a return to a model that was champion before.

Pure: no Prefect, no I/O. The step (tasks/steps/watch.py) finds the state and scores the models.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from tasks.core.gate import Comparison, improvement_shown
from tasks.core.reasons import Reason, ReasonCode, reason, texts

WatchAction = Literal["expired", "wait", "not-judged", "hold", "rollback", "ask-approval"]
"""expired: the run after the watch's last one (noted once); wait: too few labelled rows after
the holdout yet; not-judged: a model could not be scored; hold: the promoted champion stays;
rollback: the previous champion is better, roll back; ask-approval: it is better, and
promotion.approval.required asks a person first."""


@dataclass(frozen=True)
class WatchState:
    """Where the watch of the champion stands at a monitor run."""

    champion: str
    previous: str | None  # the champion it replaced by a promotion; None: bootstrapped, restored
    runs_watched: int  # earlier monitor runs (windows) of this champion
    windows: int  # policy.watch.windows (0: off)

    @property
    def window(self) -> int:
        """Which watched run this one is (1 is the first run after the promotion)."""
        return self.runs_watched + 1

    @property
    def watching(self) -> bool:
        """Whether this run scores the previous champion."""
        return self.windows > 0 and self.previous is not None and self.runs_watched < self.windows


@dataclass(frozen=True)
class WatchDecision:
    """What the watch decided at one monitor run, with the numbers behind it."""

    action: WatchAction
    champion: str
    previous: str
    window: int
    windows: int
    rows: int = 0  # labelled rows after the promotion's holdout that were compared
    rows_window: dict[str, str] | None = None  # their span (start, end)
    comparison_id: str | None = None  # the comparison that holds every paired number
    advantage: float | None = None  # the previous champion's advantage (the comparison's)
    lower: float | None = None
    upper: float | None = None
    required: float | None = None
    reasons: tuple[str, ...] = ()
    reason_codes: tuple[Reason, ...] = ()

    @property
    def rollback(self) -> bool:
        """Whether the previous champion is to be restored now (no approval asked)."""
        return self.action == "rollback"

    @property
    def found_better(self) -> bool:
        """Whether the previous champion was found better (rolled back, or asked for)."""
        return self.action in ("rollback", "ask-approval")

    @property
    def reason(self) -> str:
        """One line for the alias history and the rollback event."""
        why = "; ".join(self.reasons)
        return f"watch: {why}" + (
            f" (comparison {self.comparison_id})" if self.comparison_id else ""
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reason_codes"] = [
            {"code": item.code.value, "params": dict(item.params)} for item in self.reason_codes
        ]
        return data


def decide_watch(
    state: WatchState,
    comparison: Comparison | None,
    *,
    approval_required: bool = False,
    data_issue: str | None = None,
) -> WatchDecision | None:
    """The watch's decision at a monitor run: None when nothing is watched (watch off, a
    champion that was not promoted over another, or long after its watch).

    comparison: the gate's comparison on the window's rows after the promotion's holdout, the
    champion in the champion's seat and the previous champion in the challenger's; needed while
    watching (ValueError without it), unless data_issue says why the window's rows cannot be
    trusted (its data-quality checks failed and block): then the run is not judged, and the
    window still counts as one of the watch's.
    """
    previous = state.previous
    if state.windows == 0 or previous is None:
        return None
    base: dict[str, Any] = {
        "champion": state.champion,
        "previous": previous,
        "window": state.window,
        "windows": state.windows,
    }
    if not state.watching:
        if state.runs_watched != state.windows:
            return None  # noted once, at the first run after the watch
        return _decided("expired", base, reason(ReasonCode.WATCH_EXPIRED, **base))
    if data_issue is not None:
        problem = f"the window failed its data-quality checks ({data_issue})"
        found = reason(ReasonCode.WATCH_NOT_JUDGED, **base, problem=problem)
        return _decided("not-judged", base, found)
    if comparison is None:
        raise ValueError("a watched run needs the comparison of both champions on its rows")
    rules = comparison.rules
    numbers = {
        **base,
        "rows": comparison.holdout_rows,
        "rows_window": comparison.holdout_window,
        "comparison_id": comparison.comparison_id,
    }
    if comparison.holdout_rows < rules.min_holdout_rows:
        found = reason(
            ReasonCode.WATCH_INSUFFICIENT_DATA,
            **base,
            rows=comparison.holdout_rows,
            min_holdout_rows=rules.min_holdout_rows,
        )
        return _decided("wait", numbers, found)
    interval = comparison.interval
    champion_score = comparison.champion_score
    if interval is None or champion_score is None or comparison.challenger.score is None:
        problems = [r.text for r in comparison.reason_codes if r.code in _UNSCORED] or [
            "a model could not be scored"
        ]
        found = reason(ReasonCode.WATCH_NOT_JUDGED, **base, problem="; ".join(problems))
        return _decided("not-judged", numbers, found)
    required = rules.required_improvement(champion_score)
    better = improvement_shown(interval, required)
    action: WatchAction = (
        ("ask-approval" if approval_required else "rollback") if better else "hold"
    )
    code = {
        "rollback": ReasonCode.WATCH_ROLLBACK,
        "ask-approval": ReasonCode.WATCH_APPROVAL_REQUIRED,
        "hold": ReasonCode.WATCH_CHAMPION_HOLDS,
    }[action]
    window = comparison.holdout_window
    found = reason(
        code,
        **base,
        metric=rules.metric,
        higher_is_better=rules.higher_is_better,
        champion_score=champion_score,
        previous_score=comparison.challenger.score,
        difference=interval.difference,
        confidence=interval.confidence,
        lower=interval.lower,
        upper=interval.upper,
        required=required,
        min_improvement=rules.min_improvement,
        min_relative_improvement=rules.min_relative_improvement,
        rows=comparison.holdout_rows,
        rows_start=window.get("start", "?"),
        rows_end=window.get("end", "?"),
    )
    return _decided(
        action,
        {
            **numbers,
            "advantage": interval.difference,
            "lower": interval.lower,
            "upper": interval.upper,
            "required": required,
        },
        found,
    )


_UNSCORED = (
    ReasonCode.MODEL_NOT_SCORABLE,
    ReasonCode.MODEL_UNUSABLE,
    ReasonCode.CHALLENGER_NOT_SCORED,
    ReasonCode.CHAMPION_NOT_SCORED,
)


def _decided(action: WatchAction, numbers: dict[str, Any], found: Reason) -> WatchDecision:
    return WatchDecision(action=action, reasons=texts([found]), reason_codes=(found,), **numbers)
