"""Cold `python flows/monitor.py` on the demo, next to a trivial flow's cold start, in one run.

Each repetition uses a fresh PREFECT_HOME (so the temporary server creates its database) and a
fresh registry (so the run bootstraps a champion, retrains and promotes). The trivial flow
measures what Prefect's temporary server costs on its own on this machine, now.

    python benchmarks/cold_run.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tasks.orchestration.local import EPHEMERAL_STARTUP_TIMEOUT_SECONDS

ROOT = Path(__file__).resolve().parent.parent
TRIVIAL_FLOW = """
from prefect import flow

@flow
def noop() -> int:
    return 1

noop()
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(home)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    # The trivial flow gets the patient server start that flows/*.py scripts get, so that both
    # survive a busy machine (Prefect's own 20 s timed out under two test suites).
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = str(EPHEMERAL_STARTUP_TIMEOUT_SECONDS)
    return env


def _timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{command} failed:\n{result.stderr[-2000:]}")
    return elapsed


def measure(repeat: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"trivial flow, cold": [], "monitor.py on the demo, cold": []}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            script = work / "noop.py"
            script.write_text(TRIVIAL_FLOW)
            timings["trivial flow, cold"].append(
                _timed([sys.executable, str(script)], _env(work / "home-noop"), work)
            )
            config = yaml.safe_load((ROOT / "config.yaml").read_text())
            config["data"]["source"]["path"] = str(ROOT / "data" / "seattle")
            config["registry"]["path"] = str(work / "registry")
            config["reports"]["path"] = str(work / "reports")
            (work / "config.yaml").write_text(yaml.safe_dump(config))
            timings["monitor.py on the demo, cold"].append(
                _timed(
                    [
                        sys.executable,
                        str(ROOT / "flows" / "monitor.py"),
                        "--config",
                        str(work / "config.yaml"),
                    ],
                    _env(work / "home-monitor"),
                    work,
                )
            )
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    timings = measure(args.repeat)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"{'what':<32} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, values in timings.items():
        print(
            f"{name:<32} {statistics.median(values):>9.1f} {min(values):>7.1f} {max(values):>7.1f}"
        )
    trivial = statistics.median(timings["trivial flow, cold"])
    full = statistics.median(timings["monitor.py on the demo, cold"])
    print(f"share of the cold run that a trivial flow already costs: {trivial / full:.0%}")


if __name__ == "__main__":
    main()
