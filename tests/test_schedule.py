"""The order the modules go to pytest-xdist's workers (tests/schedule.py): longest first."""

from __future__ import annotations

import resource
from dataclasses import dataclass, field
from typing import cast

import pytest

from tests.schedule import KNOWN_SECONDS, cpu_line, longest_first, module_seconds


@dataclass
class FakeItem:
    nodeid: str
    marks: list[str] = field(default_factory=list)

    def iter_markers(self) -> list[pytest.Mark]:
        return [getattr(pytest.mark, name).mark for name in self.marks]


def _items(*specs: tuple[str, list[str]]) -> list[pytest.Item]:
    return cast(list[pytest.Item], [FakeItem(nodeid, marks) for nodeid, marks in specs])


def test_modules_go_longest_first_and_keep_their_tests_together_in_order() -> None:
    items = _items(
        ("tests/a.py::one", []),
        ("tests/a.py::two", []),
        ("tests/b.py::slow", ["e2e"]),
        ("tests/c.py::server", ["server", "e2e"]),
        ("tests/c.py::quick", []),
    )

    seconds = module_seconds(items, measured={})
    ordered = [item.nodeid for item in longest_first(items, seconds)]

    # c: a server test (30 s) + a plain one; b: an e2e test (10 s); a: two plain tests.
    assert seconds == pytest.approx({"tests/a.py": 0.1, "tests/b.py": 10, "tests/c.py": 30.05})
    assert ordered == [
        "tests/c.py::server",
        "tests/c.py::quick",
        "tests/b.py::slow",
        "tests/a.py::one",
        "tests/a.py::two",
    ]


def test_the_last_run_s_seconds_come_before_the_table_and_the_table_before_markers() -> None:
    fleet = "tests/flows/test_fleet.py"
    items = _items((f"{fleet}::t", ["e2e"]), ("tests/x.py::t", ["e2e"]), ("tests/y.py::t", []))

    from_table = module_seconds(items, measured={})
    measured = module_seconds(items, measured={"tests/y.py": 9999.0})

    assert from_table[fleet] == KNOWN_SECONDS[fleet] and from_table["tests/x.py"] == 10
    assert measured["tests/y.py"] == 9999.0
    first = longest_first(items, measured)[0].nodeid
    assert first == "tests/y.py::t"


def test_equal_modules_keep_the_collection_order() -> None:
    items = _items(("tests/b.py::t", []), ("tests/a.py::t", []))

    ordered = longest_first(items, module_seconds(items, measured={}))

    assert [item.nodeid for item in ordered] == ["tests/b.py::t", "tests/a.py::t"]


def test_the_known_modules_exist() -> None:
    from tests.helpers import ROOT

    missing = [module for module in KNOWN_SECONDS if not (ROOT / module).is_file()]
    assert not missing, missing
    assert all(seconds > 0 for seconds in KNOWN_SECONDS.values())


def test_the_cpu_line_adds_this_process_and_its_children_and_divides_by_the_wall_time() -> None:
    at_start = resource.struct_rusage((1.5, 0.5) + (0,) * 14)  # before the collection
    own = resource.struct_rusage((12.0, 2.0) + (0,) * 14)
    children = resource.struct_rusage((1500.0, 88.0) + (0,) * 14)

    line = cpu_line(own, children, wall=800.0, own_at_start=at_start)

    assert line == (
        "CPU: 1600 s in 800 s of wall time (2.00 cores busy on average; 12 s in this process, "
        "1588 s in the workers and the processes it or they started and waited for)"
    )
