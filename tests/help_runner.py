"""Run several `--help` lines of Python programs in one process (tests/test_docs.py).

Each documented line of a Python program is checked by running it with `--help` appended: the
program resolves, parses the documented options and exits 0. A fresh process per line pays the
program's imports (Prefect, pandas, scikit-learn: 2-5 s) every time; this runner pays them once
for all the lines of one program and runs each line the way `python SCRIPT ARGS` or
`python -m MODULE ARGS` (or a console script such as .venv/bin/prefect) would: as `__main__`,
with sys.argv set, stdout and stderr captured, and the exit code taken from SystemExit.

Reads a JSON list of lines on stdin, each ["path" | "module", target, *args]; writes a JSON list
of [exit code, stdout, stderr], one per line, in order, to the file named by its argument (not to
stdout: a program may hold on to the real one).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import sys
import traceback


def _exit_code(code: object) -> int:
    """The process exit code SystemExit(code) gives."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def run_line(kind: str, target: str, args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_path = sys.argv, list(sys.path)
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            sys.argv = [target, *args]
            if kind == "module":
                runpy.run_module(target, run_name="__main__", alter_sys=True)
            else:
                # `python SCRIPT` puts the script's directory first on sys.path.
                sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
                runpy.run_path(target, run_name="__main__")
        except SystemExit as exit:
            code = _exit_code(exit.code)
        except BaseException:  # what an uncaught exception does to a process: exit 1
            traceback.print_exc()
            code = 1
        finally:
            sys.argv, sys.path[:] = saved_argv, saved_path
    return code, out.getvalue(), err.getvalue()


def main(output: str) -> None:
    lines = json.load(sys.stdin)
    results = [run_line(kind, target, list(args)) for kind, target, *args in lines]
    with open(output, "w", encoding="utf-8") as file:
        json.dump(results, file)


if __name__ == "__main__":
    sys.path.pop(0)  # this file's directory (tests/): not on the path of the programs it runs
    main(sys.argv[1])
