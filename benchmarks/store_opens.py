"""The demo's `monitor` run, twice on a fresh registry: the second run's wall time, and how many
times each run opened each store (registry, monitoring history, data source).

Each run is its own process (as `python flows/monitor.py` is) that counts the constructions of
the stores' classes (the data source's include the script's check before any Prefect server
starts, tasks/steps/preflight.py: one more, cheap, reading no rows). By default both runs monitor the config's window, as `make demo` twice
does: the first bootstraps a champion, retrains and promotes, the second is held by the
cooldown. With --first-as-of 2013-04-01 the first run only bootstraps and the second (the
config's 2014-04-01) retrains and promotes.

    python benchmarks/store_opens.py [--repeat 3] [--first-as-of 2013-04-01] [--as-of ISO]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

# Run in the child: count each store class's constructions, then run the monitor script.
COUNTING_RUN = """
import collections, json, sys
from tasks.stores.data import FileLogSource, SqlLogSource
from tasks.stores.history import MonitorHistory
from tasks.stores.registry import LocalRegistry

opened = collections.Counter()

def counting(cls, name):
    original = cls.__init__
    def __init__(self, *args, **kwargs):
        opened[name] += 1
        original(self, *args, **kwargs)
    cls.__init__ = __init__

counting(LocalRegistry, "registry")
counting(MonitorHistory, "history")
counting(FileLogSource, "data source")
counting(SqlLogSource, "data source")
from flows.monitor import main
code = main(sys.argv[1:])
print("OPENED " + json.dumps(opened))
sys.exit(code)
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(home)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    return env


def _run(config: Path, env: dict[str, str], as_of: str | None) -> tuple[float, dict[str, int]]:
    command = [sys.executable, "-c", COUNTING_RUN, "--config", str(config)]
    if as_of:
        command += ["--as-of", as_of]
    start = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=config.parent, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):  # 1: the run decided and reported a breach
        sys.exit(f"{command} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    line = next(x for x in result.stdout.splitlines() if x.startswith("OPENED "))
    return elapsed, dict(sorted(json.loads(line.removeprefix("OPENED ")).items()))


def measure(
    repeat: int, first_as_of: str | None, as_of: str | None
) -> list[tuple[float, dict[str, int], dict[str, int]]]:
    results = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            config = yaml.safe_load((ROOT / "config.yaml").read_text())
            config["data"]["source"]["path"] = str(ROOT / "data" / "seattle")
            config["registry"]["path"] = str(work / "registry")
            config["reports"]["path"] = str(work / "reports")
            (work / "config.yaml").write_text(yaml.safe_dump(config))
            env = _env(work / "home")
            _, first = _run(work / "config.yaml", env, first_as_of)
            seconds, second = _run(work / "config.yaml", env, as_of)
            results.append((seconds, first, second))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--first-as-of", help="the first run's as_of (default: the config's)")
    parser.add_argument("--as-of", help="the second run's as_of (default: the config's)")
    args = parser.parse_args()
    results = measure(args.repeat, args.first_as_of, args.as_of)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    seconds = [r[0] for r in results]
    print(
        f"second run: median {statistics.median(seconds):.1f} s, "
        f"min {min(seconds):.1f} s, max {max(seconds):.1f} s"
    )
    for number, (_, first, second) in enumerate(results, start=1):
        print(f"repetition {number}: opens in the first run {first}, in the second {second}")


if __name__ == "__main__":
    main()
