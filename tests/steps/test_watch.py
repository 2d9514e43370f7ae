"""The watch step's view of the alias history: which champion a promotion replaced."""

from __future__ import annotations

import pytest

from tasks.steps.watch import PromotionHindsight, promoted_over
from tasks.stores.registry import HistoryEntry


def _entry(action: str, alias: str, before: str | None, after: str | None) -> HistoryEntry:
    return HistoryEntry("2026-12-03T12:00:00", action, alias, before, after, "why", "me")


BOOTSTRAP = _entry("promote", "champion", None, "v0001")
PROMOTION = _entry("promote", "champion", "v0001", "v0002")


@pytest.mark.parametrize(
    ("entries", "champion", "previous"),
    [
        ([BOOTSTRAP], "v0001", None),
        ([BOOTSTRAP, PROMOTION], "v0002", "v0001"),
        # The challenger alias moves around the promotion: only the champion's moves count.
        (
            [
                BOOTSTRAP,
                _entry("register", "challenger", None, "v0002"),
                PROMOTION,
                _entry("promote", "challenger", "v0002", None),
            ],
            "v0002",
            "v0001",
        ),
        # Restored by a rollback: no promotion to undo.
        ([BOOTSTRAP, PROMOTION, _entry("rollback", "champion", "v0002", "v0001")], "v0001", None),
        # Promoted again over a restored champion: watched against that one.
        (
            [
                BOOTSTRAP,
                PROMOTION,
                _entry("rollback", "champion", "v0002", "v0001"),
                _entry("promote", "champion", "v0001", "v0003"),
            ],
            "v0003",
            "v0001",
        ),
        # A migration line that moved nothing is no promotion.
        ([BOOTSTRAP, PROMOTION, _entry("migrate", "champion", "v0002", "v0002")], "v0002", "v0001"),
    ],
    ids=["bootstrap", "promotion", "challenger-moves", "rollback", "after-rollback", "migrate"],
)
def test_the_champion_a_promotion_replaced(
    entries: list[HistoryEntry], champion: str, previous: str | None
) -> None:
    assert promoted_over(champion, entries) == previous


@pytest.mark.parametrize(
    ("promoted", "previous", "higher_is_better", "good"),
    [
        (0.9, 0.8, True, True),
        (0.8, 0.8, True, True),
        (0.7, 0.8, True, False),
        (2.0, 3.0, False, True),
        (3.5, 3.0, False, False),
        (None, 0.8, True, None),
    ],
)
def test_a_promotion_is_good_in_hindsight_when_the_metric_after_it_confirms_it(
    promoted: float | None, previous: float, higher_is_better: bool, good: bool | None
) -> None:
    judged = PromotionHindsight(
        index=3,
        promoted="v0002",
        previous="v0001",
        promoted_score=promoted,
        previous_score=previous,
        rows=100,
        rolled_back=False,
        higher_is_better=higher_is_better,
    )

    assert judged.good is good
