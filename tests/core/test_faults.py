"""The fault injector on tiny frames: each fault breaks its window its way and nothing else."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from tasks.core.faults import (
    RENAMED_SUFFIX,
    Fault,
    broken_windows,
    inject_faults,
    parse_fault_plan,
    spread_faults,
    touches_fault,
)
from tasks.core.kinds import FAULT_KINDS
from tasks.core.windows import Window
from tasks.errors import ConfigError

START = datetime(2024, 1, 1)
# Three windows of three days, two rows a day (at 06:00 and 18:00).
WINDOWS = [
    Window(START + timedelta(days=3 * i), START + timedelta(days=3 * (i + 1))) for i in range(3)
]


def _frame() -> pd.DataFrame:
    stamps = [START + timedelta(hours=6 + 12 * i) for i in range(18)]
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "size": np.arange(18, dtype=np.float64) + 0.5,
            "count": np.arange(18, dtype=np.int64),
            "colour": ["red", "blue", "red", "green", "red", "blue"] * 3,
            "label": [0, 1] * 9,
        }
    )


def _in(frame: pd.DataFrame, index: int) -> pd.DataFrame:
    window = WINDOWS[index]
    inside = (frame["timestamp"] >= window.start) & (frame["timestamp"] < window.end)
    return frame[inside].reset_index(drop=True)


def _outside(frame: pd.DataFrame, index: int) -> pd.DataFrame:
    window = WINDOWS[index]
    inside = (frame["timestamp"] >= window.start) & (frame["timestamp"] < window.end)
    return frame[~inside].reset_index(drop=True)


def _inject(*faults: Fault, seed: int = 0) -> pd.DataFrame:
    return inject_faults(_frame(), "timestamp", WINDOWS, faults, seed=seed)


def test_empty_column_makes_every_value_of_that_column_in_that_window_missing() -> None:
    broken = _inject(Fault(1, "empty-column", "size"))

    assert _in(broken, 1)["size"].isna().all()
    assert len(_in(broken, 1)) == 6
    original = _in(_frame(), 1)
    pd.testing.assert_frame_equal(
        _in(broken, 1).drop(columns="size"), original.drop(columns="size")
    )
    pd.testing.assert_frame_equal(_outside(broken, 1), _outside(_frame(), 1))


def test_empty_column_of_integers_or_text_is_missing_too() -> None:
    broken = _inject(Fault(0, "empty-column", "count"), Fault(2, "empty-column", "colour"))

    assert _in(broken, 0)["count"].isna().all()
    assert _in(broken, 2)["colour"].isna().all()
    assert _in(broken, 1)["count"].notna().all() and _in(broken, 1)["colour"].notna().all()
    assert _in(broken, 1)["count"].tolist() == list(range(6, 12))


def test_unit_x1000_multiplies_only_that_column_in_that_window() -> None:
    broken = _inject(Fault(2, "unit-x1000", "size"))

    original = _in(_frame(), 2)
    np.testing.assert_allclose(_in(broken, 2)["size"], original["size"] * 1000)
    pd.testing.assert_frame_equal(
        _in(broken, 2).drop(columns="size"), original.drop(columns="size")
    )
    pd.testing.assert_frame_equal(_outside(broken, 2), _outside(_frame(), 2))


def test_renamed_category_renames_the_most_frequent_value_and_nothing_else() -> None:
    broken = _inject(Fault(0, "renamed-category", "colour"))

    # Window 0 holds red x3, blue x2, green x1: red arrives under a new name.
    assert _in(broken, 0)["colour"].tolist() == [
        "red" + RENAMED_SUFFIX,
        "blue",
        "red" + RENAMED_SUFFIX,
        "green",
        "red" + RENAMED_SUFFIX,
        "blue",
    ]
    pd.testing.assert_frame_equal(
        _in(broken, 0).drop(columns="colour"), _in(_frame(), 0).drop(columns="colour")
    )
    pd.testing.assert_frame_equal(_outside(broken, 0), _outside(_frame(), 0))


def test_renamed_category_keeps_missing_values_missing() -> None:
    frame = _frame()
    frame.loc[1, "colour"] = None  # a blue: red is still the most frequent
    broken = inject_faults(frame, "timestamp", WINDOWS, [Fault(0, "renamed-category", "colour")])

    assert broken["colour"].isna().tolist()[:3] == [False, True, False]
    assert broken.loc[2, "colour"] == "red" + RENAMED_SUFFIX


def test_duplicated_rows_repeat_every_row_of_the_window_once_after_itself() -> None:
    broken = _inject(Fault(1, "duplicated-rows"))

    original = _in(_frame(), 1)
    doubled = _in(broken, 1)
    assert len(doubled) == 2 * len(original)
    pd.testing.assert_frame_equal(doubled.iloc[0::2].reset_index(drop=True), original)
    pd.testing.assert_frame_equal(doubled.iloc[1::2].reset_index(drop=True), original)
    pd.testing.assert_frame_equal(_outside(broken, 1), _outside(_frame(), 1))


def test_repeated_day_replaces_the_last_day_by_a_copy_of_the_day_before() -> None:
    broken = _inject(Fault(1, "repeated-day"))

    original = _in(_frame(), 1)  # days 3, 4, 5: rows 0-1, 2-3, 4-5
    repeated = _in(broken, 1)
    assert len(repeated) == len(original)
    pd.testing.assert_frame_equal(repeated.iloc[:4], original.iloc[:4])
    # Day 5 never arrived; day 4's rows came again, timestamps and all.
    pd.testing.assert_frame_equal(
        repeated.iloc[4:].reset_index(drop=True), original.iloc[2:4].reset_index(drop=True)
    )
    assert repeated.duplicated().sum() == 2
    pd.testing.assert_frame_equal(_outside(broken, 1), _outside(_frame(), 1))


def test_half_rows_missing_drops_a_seeded_half_of_the_window_only() -> None:
    broken = _inject(Fault(2, "half-rows-missing"), seed=3)

    original = _in(_frame(), 2)
    kept = _in(broken, 2)
    assert len(kept) == len(original) // 2
    # What is left are original rows, unchanged and in their order.
    merged = kept.merge(original.reset_index(), how="left", on=list(original.columns))
    assert merged["index"].notna().all()
    assert merged["index"].is_monotonic_increasing
    pd.testing.assert_frame_equal(_outside(broken, 2), _outside(_frame(), 2))


def test_the_same_seed_drops_the_same_rows_and_another_seed_others() -> None:
    first = _inject(Fault(2, "half-rows-missing"), seed=3)
    again = _inject(Fault(2, "half-rows-missing"), seed=3)
    others = [_inject(Fault(2, "half-rows-missing"), seed=s)["count"].tolist() for s in range(8)]

    pd.testing.assert_frame_equal(first, again)
    assert len({tuple(kept) for kept in others}) > 1


def test_faults_in_several_windows_each_break_only_their_own() -> None:
    broken = _inject(
        Fault(0, "unit-x1000", "size"),
        Fault(1, "duplicated-rows"),
        Fault(2, "empty-column", "colour"),
    )

    np.testing.assert_allclose(_in(broken, 0)["size"], _in(_frame(), 0)["size"] * 1000)
    assert len(_in(broken, 1)) == 12
    np.testing.assert_allclose(_in(broken, 1)["size"].iloc[0::2], _in(_frame(), 1)["size"])
    assert _in(broken, 2)["colour"].isna().all()
    np.testing.assert_allclose(_in(broken, 2)["size"], _in(_frame(), 2)["size"])


def test_the_input_frame_is_left_as_it_was() -> None:
    frame = _frame()
    inject_faults(frame, "timestamp", WINDOWS, [Fault(0, "empty-column", "size")])

    pd.testing.assert_frame_equal(frame, _frame())


def test_timestamps_with_a_time_zone_count_in_utc() -> None:
    frame = _frame()
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("UTC").dt.tz_convert("Europe/Paris")
    broken = inject_faults(frame, "timestamp", WINDOWS, [Fault(1, "unit-x1000", "size")])

    assert broken["size"].tolist()[5:13] == [5.5, *(s * 1000 for s in np.arange(6, 12) + 0.5), 12.5]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault(3, "duplicated-rows"), r"only 3 windows to break \(0 to 2\)"),
        (Fault(0, "empty-column", "weight"), "the log has no column 'weight'"),
        (Fault(0, "unit-x1000", "colour"), "a unit change needs a numerical column"),
        (Fault(0, "renamed-category", "size"), "a renamed category needs a categorical"),
    ],
)
def test_a_fault_that_cannot_apply_is_refused_by_name(fault: Fault, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        _inject(fault)
    assert str(fault) in str(caught.value)


def test_a_window_without_rows_is_refused() -> None:
    windows = [*WINDOWS, Window(START + timedelta(days=30), START + timedelta(days=31))]
    with pytest.raises(ConfigError, match=r"fault 3:duplicated-rows: window .* has no rows"):
        inject_faults(_frame(), "timestamp", windows, [Fault(3, "duplicated-rows")])


def test_a_plan_is_parsed_from_its_text() -> None:
    plan = parse_fault_plan("3:unit-x1000:temp_max, 7:duplicated-rows")

    assert plan == (Fault(3, "unit-x1000", "temp_max"), Fault(7, "duplicated-rows"))
    assert ",".join(map(str, plan)) == "3:unit-x1000:temp_max,7:duplicated-rows"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x:duplicated-rows", "is not WINDOW:KIND"),
        ("3", "is not WINDOW:KIND"),
        ("3:unit-x100:size", "unknown fault kind 'unit-x100'.*choose from empty-column"),
        ("3:unit-x1000", "needs a column: write 3:unit-x1000:COLUMN"),
        ("3:duplicated-rows:size", "breaks whole rows, not a column"),
        (" , ", "names no fault"),
    ],
)
def test_a_plan_that_is_not_one_is_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_fault_plan(text)


def test_spread_faults_puts_each_kind_in_its_own_window_spacing_apart() -> None:
    faults = spread_faults(30, ["temp", "wind"], ["city"], spacing=4)

    assert [f.kind for f in faults] == list(FAULT_KINDS)
    assert [f.window for f in faults] == [1, 5, 9, 13, 17, 21]
    assert [f.column for f in faults] == ["temp", "wind", "city", None, None, None]


def test_spread_faults_leaves_out_the_renamed_category_without_a_categorical_column() -> None:
    faults = spread_faults(30, ["temp"], [], spacing=2)

    assert "renamed-category" not in [f.kind for f in faults]
    assert [f.window for f in faults] == [1, 3, 5, 7, 9]


def test_spread_faults_stops_at_the_last_window() -> None:
    assert [str(f) for f in spread_faults(6, ["temp"], [], spacing=3)] == [
        "1:empty-column:temp",
        "4:unit-x1000:temp",
    ]


def test_a_decision_touches_a_fault_when_a_span_it_looked_at_overlaps_a_broken_window() -> None:
    broken = broken_windows(WINDOWS, [Fault(1, "duplicated-rows"), Fault(1, "unit-x1000", "size")])

    assert broken == (WINDOWS[1],)
    assert touches_fault(
        broken, WINDOWS[0], Window(WINDOWS[1].end - timedelta(hours=1), WINDOWS[2].end)
    )
    assert not touches_fault(broken, WINDOWS[0], WINDOWS[2])  # half-open: the ends only meet
