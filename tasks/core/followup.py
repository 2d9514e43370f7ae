"""Recovery that keeps improving: one follow-up retrain after a change-aware promotion.

After an abrupt change the first challenger that wins is trained on the few rows since the
change (`since-change-split`: half of them to train on, the rest for the gate). The breach that
started it is gone once it is champion, so nothing would retrain it while the rows since the
change grow. Once a challenger could train on `training.min_rows` more labelled rows since that
change (before the configured holdout) than the champion was trained on, one retrain is allowed without a breach (and without waiting for the cooldown),
trained since the same change and judged by the gate like any other. One per champion: a
champion that has retrained once (promoted or not) gets no follow-up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tasks.core.reasons import Reason, ReasonCode, reason

# The champion's training choice that a follow-up retrain comes after.
FOLLOWED = "since-change-split"


class EarlierRun(Protocol):
    """What the follow-up rule reads of an earlier monitor run (a PastRun of the policy)."""

    @property
    def retrained(self) -> bool: ...


@dataclass(frozen=True)
class ChampionChange:
    """The change a champion was trained after, from its lineage's training choice."""

    start: datetime
    training_rows: int  # the labelled rows since the change the champion was trained on
    chosen: str


def champion_change(training_choice: Mapping[str, Any]) -> ChampionChange | None:
    """The change a champion was trained since (its lineage's training_choice), or None: trained
    on the configured span, or registered before the choice was recorded."""
    chosen = training_choice.get("chosen")
    change = training_choice.get("change")
    rows = training_choice.get("training_rows")
    if chosen not in ("since-change", FOLLOWED) or not isinstance(change, Mapping) or rows is None:
        return None
    try:
        start = datetime.fromisoformat(str(change["start"]))
    except (KeyError, ValueError):
        return None
    return ChampionChange(start, int(rows), str(chosen))


@dataclass(frozen=True)
class FollowUpEvidence:
    """What the monitor measured for the follow-up rule: the champion's change and the labelled
    rows since it that a challenger could train on now (before the configured holdout)."""

    change: ChampionChange
    rows_now: int
    min_rows: int  # training.min_rows


def follow_up(
    enabled: bool, evidence: FollowUpEvidence | None, champion_runs: Sequence[EarlierRun]
) -> Reason | None:
    """The follow-up-retrain reason when this run is to retrain without a breach, else None."""
    if not enabled or evidence is None or evidence.change.chosen != FOLLOWED:
        return None
    if any(run.retrained for run in champion_runs):
        return None
    change = evidence.change
    more = evidence.rows_now - change.training_rows
    if more < evidence.min_rows:
        return None
    return reason(
        ReasonCode.FOLLOW_UP_RETRAIN,
        change_start=change.start.isoformat(),
        rows_at_training=change.training_rows,
        rows_now=evidence.rows_now,
        min_rows=evidence.min_rows,
    )
