"""What the policy's follow-up rule needs measured: the labelled rows since the change the
champion was trained after (tasks/core/followup.py decides)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tasks.config import Config
from tasks.core.followup import FOLLOWED, FollowUpEvidence, champion_change
from tasks.core.policy import PastRun
from tasks.core.windows import Window, plan_windows
from tasks.errors import RegistryError
from tasks.stores.data import load_window
from tasks.stores.resources import Stores


def follow_up_evidence(
    config: Config,
    stores: Stores,
    champion: str,
    as_of: datetime,
    champion_runs: Sequence[PastRun],
) -> FollowUpEvidence | None:
    """The champion's change and the labelled rows since it before the holdout of a retrain at
    as_of (what a follow-up challenger would train on); None (and no rows read)
    when no follow-up can be due: policy.follow_up off, the champion not trained on a split of
    the rows since a change, or already retrained once."""
    if not config.policy.follow_up.enabled or any(run.retrained for run in champion_runs):
        return None
    try:
        record = stores.registry.get_version(champion)
    except RegistryError:  # not in this registry (a history kept elsewhere): no follow-up
        return None
    change = champion_change(record.training_choice)
    if change is None or change.chosen != FOLLOWED or change.start >= as_of:
        return None
    holdout = plan_windows(config, as_of).holdout  # a challenger trains before it
    if change.start >= holdout.start:
        return FollowUpEvidence(change, 0, config.training.min_rows)
    since = Window(change.start, holdout.start)
    rows = load_window(config, since, labelled_only=True, source=stores.source)
    return FollowUpEvidence(change, len(rows), config.training.min_rows)
