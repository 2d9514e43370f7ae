"""A fleet run against separate monitor runs, 1 against 2 Dask workers, and a large fleet's peak
memory, on this machine, now.

Models are copies of the demo config under different names and as_of quarters; every fourth one
confirms a breach at once (confirmation 1 of 1), so some of them retrain and promote.

1. One cold `python flows/fleet.py` over N models against N cold `python flows/monitor.py`
   runs of the same merged configs, each in turn (fresh registries for both).
2. The monitor-only part (every model already has a champion and the policy cannot retrain)
   with 1 Dask worker (max_parallel 1), then 2 (max_parallel 2): the models' wall time once
   the workers are up, as the fleet reports it.
3. A fleet of M models with max_parallel 4 (and 4 worker processes): peak resident memory of
   the whole process tree (CLI, temporary Prefect server, Dask scheduler and workers), the
   models that ran and errored, and how often Prefect's client retried an API request (from
   its debug log): a busy temporary server answers 503 when its SQLite database is locked.

    python benchmarks/fleet.py [--models 20] [--memory-models 100] [--api-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import yaml

from tasks.config import load_fleet

ROOT = Path(__file__).resolve().parent.parent
QUARTERS = [
    "2013-07-01",
    "2013-10-01",
    "2014-01-01",
    "2014-04-01",
    "2014-07-01",
    "2014-10-01",
    "2015-01-01",
    "2015-04-01",
]
SUMMARY = re.compile(
    r"^fleet \S+ \(dask\): (\d+) of (\d+) models ran, (\d+) with an error, in ([\d.]+) s"
    r"(?: \(models: ([\d.]+) s once the workers were up\))?$",
    re.M,
)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "OMP_NUM_THREADS": "1",
        }
    )
    return env


def write_fleet(directory: Path, models: int, **settings: Any) -> Path:
    """A fleet file over `models` demo copies in directory, with its own registry and reports."""
    demo = yaml.safe_load((ROOT / "config.yaml").read_text())
    del demo["name"]
    demo["data"]["source"]["path"] = str(ROOT / "data" / "seattle")
    demo["registry"]["path"] = "state/registry"
    demo["reports"]["path"] = "state/reports"
    demo["reports"]["keep"] = 1
    demo["promotion"]["guards"]["latency_ratio"] = None  # timing guard: chance on a busy machine
    (directory / "models").mkdir(parents=True, exist_ok=True)
    for index in range(models):
        model: dict[str, Any] = {
            "name": f"demo-{index:03d}",
            "windows": {"as_of": QUARTERS[index % len(QUARTERS)]},
        }
        if index % 4 == 1:
            once = {"breaches": 1, "runs": 1}
            model["policy"] = {"confirmation": {"drift": once, "performance": once}}
        (directory / "models" / f"demo-{index:03d}.yaml").write_text(yaml.safe_dump(model))
    fleet = {"name": "bench", "models": ["models/*.yaml"], "defaults": demo, **settings}
    path = directory / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet, sort_keys=False))
    return path


def client_debug_logging(home: Path) -> Path:
    """Prefect's logging settings with its client's debug lines (one per retry) on the terminal."""
    import prefect.logging

    settings = yaml.safe_load((Path(prefect.logging.__file__).parent / "logging.yml").read_text())
    settings["loggers"]["prefect.client"]["level"] = "DEBUG"
    home.mkdir(parents=True, exist_ok=True)
    path = home / "logging.yml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


RETRY_LINE = re.compile(r"This is attempt (\d+)/(\d+)\.")


def count_retries(output: str) -> tuple[dict[int, int], int | None]:
    """How many requests failed at least k times, by k (each retry logs "attempt k/N"), and the
    client's budget of retries (N - 1; None when nothing was retried)."""
    counts: dict[int, int] = {}
    budget = None
    for match in RETRY_LINE.finditer(output):
        attempt, attempts = int(match.group(1)), int(match.group(2))
        counts[attempt] = counts.get(attempt, 0) + 1
        budget = attempts - 1
    return counts, budget


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


SERVER_TIMEOUT = "Timed out while attempting to connect to ephemeral Prefect API server"
RETRIED: list[str] = []


def run(
    command: list[str], env: dict[str, str], measure_memory: bool = False
) -> tuple[float, str, int]:
    """Run a command; its wall time, its output and the peak RSS of its process tree.

    A run whose temporary Prefect server did not answer in time (a busy machine) is run again,
    once, and listed at the end.
    """
    elapsed, output, peak = _run_once(command, env, measure_memory)
    if output is None:
        RETRIED.append(" ".join(command[1:]))
        elapsed, output, peak = _run_once(command, env, measure_memory)
    if output is None:
        sys.exit(f"{command}: the temporary Prefect server did not start, twice")
    return elapsed, output, peak


def _run_once(
    command: list[str], env: dict[str, str], measure_memory: bool
) -> tuple[float, str | None, int]:
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        watched = psutil.Process(process.pid)
        while not done.is_set():
            try:
                peak = max(peak, _tree_rss(watched))
            except psutil.Error:
                return
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    if measure_memory:
        sampler.start()
    output, _ = process.communicate()
    done.set()
    elapsed = time.perf_counter() - start
    if process.returncode not in (0, 2) and SERVER_TIMEOUT in output:
        return elapsed, None, peak
    if process.returncode not in (0, 2):
        sys.exit(f"{command} failed ({process.returncode}):\n{output[-3000:]}")
    return elapsed, output, peak


def fleet_run(
    fleet_path: Path,
    home: Path,
    measure_memory: bool = False,
    watch_retries: bool = False,
    api_url: str | None = None,
) -> dict[str, Any]:
    env = _env(home)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    if watch_retries:
        env["PREFECT_LOGGING_SETTINGS_PATH"] = str(client_debug_logging(home))
    elapsed, output, peak = run(
        [sys.executable, str(ROOT / "flows" / "fleet.py"), "--fleet", str(fleet_path)],
        env,
        measure_memory,
    )
    match = SUMMARY.search(output)
    if not match:
        sys.exit(f"no fleet summary in the output:\n{output[-3000:]}")
    ran, total, errors, _, models_seconds = match.groups()
    for line in output.splitlines():  # what went wrong, in the benchmark's own output
        if re.match(r"^demo-\d+\s", line) and " error " in line:
            print(f"error row: {' '.join(line.split())}")
    actions = re.findall(
        r"^demo-\d+\s.*?\s(promoted|rejected|healthy|drift-noted|unconfirmed|cooldown|insufficient-data|error)\s",
        output,
        re.M,
    )
    return {
        "wall": elapsed,
        "ran": int(ran),
        "total": int(total),
        "errors": int(errors),
        "models_seconds": float(models_seconds) if models_seconds else None,
        "peak": peak,
        "promoted": actions.count("promoted"),
        "retries": count_retries(output),
        "output": output,
    }


def compare_with_separate_runs(models: int, scratch: Path) -> None:
    fleet_path = write_fleet(scratch / "fleet", models, dask_workers=None, max_parallel=4)
    fleet = fleet_run(fleet_path, scratch / "home-fleet")
    separate_fleet = load_fleet(write_fleet(scratch / "separate", models))
    separate = 0.0
    for member in separate_fleet.ready:
        elapsed, _, _ = run(
            [
                sys.executable,
                str(ROOT / "flows" / "monitor.py"),
                "--config",
                str(member.config_path),
            ],
            _env(scratch / "home-separate"),
        )
        separate += elapsed
    print(
        f"## 1. {models} demo models: one fleet run vs {models} separate monitor.py runs (cold)\n"
    )
    print("| run | wall s | models ran | errors | promoted |")
    print("|---|---|---|---|---|")
    print(
        f"| one `flows/fleet.py` (dask, 2 workers) | {fleet['wall']:.1f} | {fleet['ran']}/{fleet['total']} | {fleet['errors']} | {fleet['promoted']} |"
    )
    print(f"| {models} x `flows/monitor.py`, in turn | {separate:.1f} | {models}/{models} | 0 | |")
    print(f"\nspeed-up of the fleet: {separate / fleet['wall']:.2f}x\n")


def compare_workers(models: int, scratch: Path) -> None:
    fleet_path = write_fleet(scratch / "workers", models)
    fleet_run(fleet_path, scratch / "home-workers")  # bootstrap every champion first
    raw = yaml.safe_load(fleet_path.read_text())
    raw["defaults"]["policy"].update(
        {"retrain_on_drift": False, "severe_performance_threshold": None}
    )
    raw["defaults"]["policy"]["performance_threshold"] = 0.0
    for model in (scratch / "workers" / "models").glob("*.yaml"):  # no model-specific policy
        spec = yaml.safe_load(model.read_text())
        spec.pop("policy", None)
        model.write_text(yaml.safe_dump(spec))
    timings = {}
    for workers in (1, 2):
        raw.update({"dask_workers": workers, "max_parallel": workers})
        fleet_path.write_text(yaml.safe_dump(raw, sort_keys=False))
        result = fleet_run(fleet_path, scratch / "home-workers")
        timings[workers] = result
    one, two = timings[1]["models_seconds"], timings[2]["models_seconds"]
    print(f"## 2. monitor only ({models} models with champions, no retrain): 1 vs 2 Dask workers\n")
    print("| Dask workers (= max_parallel) | models s (workers up) | whole run s | errors |")
    print("|---|---|---|---|")
    for workers, result in timings.items():
        print(
            f"| {workers} | {result['models_seconds']:.1f} | {result['wall']:.1f} | {result['errors']} |"
        )
    print(f"\nspeed-up from 1 to 2 workers on the models: {one / two:.2f}x\n")


def measure_memory(models: int, scratch: Path, api_url: str | None = None) -> None:
    fleet_path = write_fleet(scratch / "memory", models, max_parallel=4, dask_workers=4)
    result = fleet_run(fleet_path, scratch / "home-memory", measure_memory=True, watch_retries=True)
    print(f"## 3. {models} models, max_parallel 4 (4 worker processes): peak memory\n")
    print("| models | ran | errors | whole run s | peak RSS of the process tree GB |")
    print("|---|---|---|---|---|")
    print(
        f"| {models} | {result['ran']} | {result['errors']} | {result['wall']:.1f} | {result['peak'] / 1e9:.2f} |"
    )
    retried, budget = result["retries"]
    if budget is None:
        print("\nPrefect's client retried no API request.")
    else:
        failed = ", ".join(f"{k}x: {retried.get(k, 0)}" for k in range(1, budget + 2))
        print(
            "\nPrefect API requests that failed (503, a dropped connection...) at least k times, "
            f"PREFECT_CLIENT_MAX_RETRIES {budget} (k = {budget + 1}: given up): {failed}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--memory-models", type=int, default=100)
    parser.add_argument("--skip", nargs="*", default=[], choices=["separate", "workers", "memory"])
    parser.add_argument(
        "--api-url",
        help="run the large fleet (3.) on this Prefect server instead of a temporary one, e.g. "
        "one on PostgreSQL (its memory is then not counted)",
    )
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.platform()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 1e9:.1f} GB, Python {platform.python_version()}, "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the start\n"
    )
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        if "separate" not in args.skip:
            compare_with_separate_runs(args.models, scratch)
        if "workers" not in args.skip:
            compare_workers(args.models, scratch)
        if "memory" not in args.skip:
            measure_memory(args.memory_models, scratch, args.api_url)
    for command in RETRIED:
        print(f"run again after its temporary server did not start in time: {command}")
    load = os.getloadavg()
    print(f"\nload average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end")


if __name__ == "__main__":
    main()
