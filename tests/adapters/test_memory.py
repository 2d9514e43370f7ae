"""The monitor's process asks numpy not to use transparent huge pages (unless told to)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

from tasks.adapters.memory import avoid_huge_pages

multiarray = importlib.import_module("numpy._core.multiarray")


@pytest.fixture
def numpy_default() -> Iterator[bool]:
    """numpy's setting before the test, restored after it."""
    before = multiarray._set_madvise_hugepage(True)
    multiarray._set_madvise_hugepage(before)
    yield before
    multiarray._set_madvise_hugepage(before)


def test_the_monitor_turns_huge_pages_off(
    numpy_default: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    multiarray._set_madvise_hugepage(True)

    assert avoid_huge_pages() is True
    assert multiarray._set_madvise_hugepage(False) is False  # it was off


@pytest.mark.parametrize(("setting", "off"), [("1", False), ("0", True)])
def test_numpys_own_setting_in_the_environment_is_left_alone(
    numpy_default: bool, monkeypatch: pytest.MonkeyPatch, setting: str, off: bool
) -> None:
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", setting)
    multiarray._set_madvise_hugepage(True)

    assert avoid_huge_pages() is off
    assert multiarray._set_madvise_hugepage(True) is True  # unchanged by avoid_huge_pages
