"""Commands printed for a person to run, written so that they run as printed."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path


def installed_command(name: str) -> str:
    """This environment's `name` (evidently, prefect): the bare name when PATH finds this very
    executable, else its path (relative to the working directory when inside it)."""
    installed = Path(os.path.abspath(sys.executable)).parent / name
    if not installed.exists():
        return name
    found = shutil.which(name)
    if found and Path(found).resolve() == installed.resolve():
        return name
    return shell_path(installed)


def shell_path(path: Path) -> str:
    """path for a shell command: relative to the working directory when inside it, quoted."""
    try:
        return shlex.quote(str(path.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(path))
