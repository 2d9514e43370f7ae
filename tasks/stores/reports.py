"""The monitor's report directories on disk: one per run under <reports.path>/<model name>."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

from tasks.core.retention import expired_runs


def prune_report_runs(
    model_dir: Path, keep: int | timedelta, now: datetime, current: Path | None = None
) -> list[Path]:
    """Delete the run directories of model_dir that reports.keep lets go; return them.

    Only directories named like a monitor run are candidates (see tasks.core.retention), never
    a symlink, a file or anything else; the current run's directory is always kept.
    """
    if not model_dir.is_dir():
        return []
    candidates = [
        entry.name for entry in model_dir.iterdir() if entry.is_dir() and not entry.is_symlink()
    ]
    deleted = []
    for name in expired_runs(candidates, keep, now, current.name if current else None):
        path = model_dir / name
        shutil.rmtree(path)
        deleted.append(path)
    return deleted
