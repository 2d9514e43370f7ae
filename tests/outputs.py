"""Comparing a command's printed output with the sample the docs show (docs/snippets/*.txt).

The docs show the numbers of one run; another machine prints the same text with numbers that
may differ in their last printed digit. So text is compared exactly and numbers with a
tolerance, after masking what differs from run to run by design: comparison ids, paths, the
latency guard's timings, and the commit and lock hash a model was made with.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from tasks.steps.commands import installed_command

SNIPPETS = Path(__file__).resolve().parent.parent / "docs" / "snippets"
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
_VOLATILE = [
    (re.compile(r"\b\d{8}t\d{6}-"), "<id>-"),  # comparison ids start with the wall-clock time
    (re.compile(r"\S*/\S*[\w)]"), "<path>"),  # report and workspace paths
    # where a model was made: the commit and the lock's hash change with every commit
    (re.compile(r"\b(git|uv\.lock) [0-9a-f]{7,}"), r"\1 <sha>"),
]


def snippet(name: str) -> str:
    return (SNIPPETS / name).read_text()


def _masked(line: str) -> str:
    if "guard latency" in line:  # a timing: its numbers differ on every run
        return "<latency guard>"
    for pattern, replacement in _VOLATILE:
        line = pattern.sub(replacement, line)
    return line


def output_differences(expected: str, actual: str, rel_tol: float = 0.002) -> list[str]:
    """Where actual differs from expected: a line of other text, or a number off by more than
    rel_tol (or one unit of its third decimal)."""
    want, got = expected.strip("\n").splitlines(), actual.strip("\n").splitlines()
    if len(want) != len(got):
        return [f"{len(got)} lines, the docs show {len(want)}"]
    problems = []
    for number, (line, printed) in enumerate(zip(want, got, strict=True), start=1):
        line, printed = _masked(line), _masked(printed)
        if NUMBER.sub("<n>", line) != NUMBER.sub("<n>", printed):
            problems.append(f"line {number}: {printed!r}, the docs show {line!r}")
            continue
        for shown, found in zip(NUMBER.findall(line), NUMBER.findall(printed), strict=True):
            if not math.isclose(float(shown), float(found), rel_tol=rel_tol, abs_tol=0.0011):
                problems.append(f"line {number}: {found}, the docs show {shown}: {printed!r}")
    return problems


def prefect_from(directory: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The `prefect` command as a message printed by a process started in directory names it:
    runnable as printed (.venv/bin/prefect, or its full path, when PATH does not find it)."""
    monkeypatch.chdir(directory)
    return installed_command("prefect")
