"""Models per hour: the demo fleet against a real `prefect server` on PostgreSQL (both started
here, thrown away at the end), on this machine, now.

Models are copies of the demo config under different names and as_of quarters; every fourth one
confirms a breach at once (confirmation 1 of 1), so some of them retrain and promote.

1. The full loop: one fleet run over --models models with fresh registries (each bootstraps a
   champion: trains, passes the gate, is promoted; then is monitored), on 2 Dask workers.
2. Monitor only (every model has its champion, the policy cannot retrain), 1 then 2 Dask
   workers (max_parallel = workers): the models' wall time once the workers are up, as the fleet
   reports it, and the CPU seconds per model in that time of the fleet's processes (CLI, Dask
   scheduler and workers) and of the server's (`prefect server`, PostgreSQL), read with psutil.
   Models per hour on a quiet machine: the cores' seconds over the CPU seconds one model takes.
   The fleets draw HTML reports as --reports-html says (on-breach: a fleet's choice); one more
   run on 2 workers for each --compare-html setting (always; never, which costs what a quiet
   window costs under on-breach: the demo's windows all drift, so on-breach draws for each).
3. Where one model's time goes: benchmarks/fleet_breakdown.py runs --breakdown models in one
   process against the server, the full loop (their first run) and monitor only, with a clock
   around each part (Prefect, imports, Evidently, drift tests, training, registry, history).
4. One fleet run over --cold models against --cold cold `python flows/monitor.py` runs of the
   same merged configs, in turn (fresh registries for both, the same server; the fleet run is
   the full loop's of 1 when --cold equals --models).
5. Optional (--memory-models M): M models with max_parallel 4 (4 worker processes): peak
   resident memory of the fleet's process tree, and how often Prefect's client retried an API
   request (from its debug log); both also for the full loop of 1.

With --baseline DIR (a checkout of another commit, e.g. `git archive main | tar -x -C DIR`),
1, 2 and 3 run for that tree too, in the same run, side by side (PYTHONPATH=DIR).

With --repeat N, the two ratios measured within a run (monitor only on 1 -> 2 workers, one after
the other; the fleet against cold runs, each time on fresh registries) are measured N times: runs
of the same code on one machine spread by 10-20%, so each is printed with its mean, its range
and how many runs met the target, and the targets take the mean.

    python benchmarks/fleet.py [--models 100] [--cold 20] [--breakdown 10] [--baseline DIR]
    python benchmarks/fleet.py --toy     # 2 models, 2 cold runs, 1 in the breakdown
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean
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


REPORTS_HTML = "on-breach"  # reports.html of the benchmark's fleets (--reports-html)


def write_fleet(directory: Path, models: int, **settings: Any) -> Path:
    """A fleet file over `models` demo copies in directory, with its own registry and reports
    (drawn as REPORTS_HTML says)."""
    demo = yaml.safe_load((ROOT / "config.yaml").read_text())
    del demo["name"]
    demo["data"]["source"]["path"] = str(ROOT / "data" / "seattle")
    demo["registry"]["path"] = "state/registry"
    demo["reports"]["path"] = "state/reports"
    demo["reports"]["keep"] = 1
    # Left out when it is the default: a --baseline tree from before the setting refuses it.
    demo["reports"].pop("html", None)
    if REPORTS_HTML != "always":
        demo["reports"]["html"] = REPORTS_HTML
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


sys.path.insert(0, str(ROOT))  # tests.postgres: the throwaway PostgreSQL cluster of the tests
STARTED = re.compile(r"fleet: \d+ models, \d+ at a time")
CORES = os.cpu_count() or 1


def _env(home: Path, api_url: str, tree: Path = ROOT) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "OMP_NUM_THREADS": "1",
        }
    )
    if tree != ROOT:  # the baseline's flows and tasks before the installed ones
        env["PYTHONPATH"] = str(tree)
    return env


def uptime() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f} / {five:.1f} / {fifteen:.1f}"


@dataclass
class Server:
    url: str
    pids: list[int]  # `prefect server start` and the PostgreSQL postmaster: their trees


@contextlib.contextmanager
def real_server(scratch: Path) -> Iterator[Server]:
    """A throwaway PostgreSQL cluster and `prefect server start` on it, on free ports."""
    from tests.postgres import require_postgres, throwaway_postgres
    from tests.processes import answers, free_port, stop_process, wait_for

    with throwaway_postgres(require_postgres()) as postgres:
        database = postgres.create_database("prefect")
        port = free_port()
        url = f"http://127.0.0.1:{port}/api"
        home = scratch / "server-home"
        home.mkdir()
        env = _env(home, url)
        del env["PREFECT_API_URL"]
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = postgres.url(database, driver="asyncpg")
        env["PREFECT_UI_API_URL"] = url
        process = subprocess.Popen(
            [
                *(str(Path(sys.executable).parent / "prefect"), "server", "start"),
                *("--host", "127.0.0.1", "--port", str(port)),
            ],
            env=env,
            stdout=(scratch / "server.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(lambda: answers(f"{url}/health"), 180, "the Prefect server", interval=0.5)
            postmaster = int(
                (postgres.directory / "data" / "postmaster.pid").read_text().split()[0]
            )
            yield Server(url, [process.pid, postmaster])
        finally:
            stop_process(process, signal.SIGTERM)


class CpuSampler:
    """CPU seconds (user + system) of process trees over time, sampled every 0.25 s; a process
    that exits keeps the last CPU seen of it."""

    def __init__(self, roots: dict[str, list[int]]) -> None:
        self.roots = roots
        self.seen: dict[str, dict[int, float]] = {name: {} for name in roots}
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.peak_rss: dict[str, int] = dict.fromkeys(roots, 0)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        totals = {}
        for name, pids in self.roots.items():
            seen = self.seen[name]
            rss = 0
            for pid in pids:
                with contextlib.suppress(psutil.Error):
                    root = psutil.Process(pid)
                    for member in [root, *root.children(recursive=True)]:
                        with contextlib.suppress(psutil.Error):
                            times = member.cpu_times()
                            seen[member.pid] = times.user + times.system
                            rss += member.memory_info().rss
            totals[name] = sum(seen.values())
            self.peak_rss[name] = max(self.peak_rss[name], rss)
        self.samples.append((time.monotonic(), totals))

    def _run(self) -> None:
        while not self.done.is_set():
            self._sample()
            time.sleep(0.25)

    def __enter__(self) -> CpuSampler:
        self._sample()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        self._sample()

    def at(self, moment: float) -> dict[str, float]:
        """The CPU totals of the last sample at or before moment (the first, before them)."""
        chosen = self.samples[0][1]
        for when, totals in self.samples:
            if when > moment:
                break
            chosen = totals
        return chosen

    def between(self, start: float, end: float) -> dict[str, float]:
        first, last = self.at(start), self.at(end)
        return {name: last[name] - first[name] for name in last}


def run_fleet(
    fleet_path: Path,
    home: Path,
    server: Server,
    tree: Path = ROOT,
    watch_retries: bool = False,
) -> dict[str, Any]:
    """One `flows/fleet.py` run: its summary, wall times, and CPU per model of the fleet's and
    the server's processes while the models ran."""
    env = _env(home, server.url, tree)
    if watch_retries:
        env["PREFECT_LOGGING_SETTINGS_PATH"] = str(client_debug_logging(home))
    command = [sys.executable, str(tree / "flows" / "fleet.py"), "--fleet", str(fleet_path)]
    begun = time.monotonic()
    process = subprocess.Popen(
        command, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    started = summarised = None
    with CpuSampler({"fleet": [process.pid], "server": server.pids}) as sampler:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if started is None and STARTED.search(line):
                started = time.monotonic()
            if summarised is None and SUMMARY.search(line.rstrip("\n")):
                summarised = time.monotonic()
        process.wait()
    wall = time.monotonic() - begun
    output = "".join(lines)
    if process.returncode not in (0, 2):
        sys.exit(f"{command} failed ({process.returncode}):\n{output[-3000:]}")
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
    seconds = float(models_seconds) if models_seconds else wall
    # A tree whose fleet does not log its start: the models' time, just before the summary.
    start = started if started is not None else (summarised or time.monotonic()) - seconds
    during = sampler.between(start, start + seconds)
    whole = sampler.between(begun, time.monotonic())
    return {
        "wall": wall,
        "ran": int(ran),
        "total": int(total),
        "errors": int(errors),
        "models_seconds": seconds,
        "fleet_cpu": during["fleet"] / int(total),
        "server_cpu": during["server"] / int(total),
        "whole_cpu": (whole["fleet"] + whole["server"]) / int(total),
        "peak": sampler.peak_rss["fleet"],
        "promoted": actions.count("promoted"),
        "retries": count_retries(output),
        "output": output,
        "load": uptime(),
    }


def monitor_only(fleet_path: Path, workers: int, html: str | None = None) -> None:
    """The fleet file as monitor-only (no retrain can be decided), on `workers` Dask workers;
    with html, its reports.html."""
    raw = yaml.safe_load(fleet_path.read_text())
    if html is not None:
        raw["defaults"]["reports"]["html"] = html
    raw["defaults"]["policy"].update(
        {"retrain_on_drift": False, "severe_performance_threshold": None}
    )
    raw["defaults"]["policy"]["performance_threshold"] = 0.0
    for model in (fleet_path.parent / "models").glob("*.yaml"):  # no model-specific policy
        spec = yaml.safe_load(model.read_text())
        spec.pop("policy", None)
        model.write_text(yaml.safe_dump(spec))
    raw.update({"dask_workers": workers, "max_parallel": workers})
    fleet_path.write_text(yaml.safe_dump(raw, sort_keys=False))


def per_hour(cpu_per_model: float) -> float:
    """Models an hour when the cores do nothing else: the cores' seconds over one model's CPU."""
    return 3600 * CORES / cpu_per_model if cpu_per_model > 0 else float("nan")


@dataclass
class TreeResult:
    name: str
    loop: dict[str, Any] = field(default_factory=dict)
    workers: dict[int, dict[str, Any]] = field(default_factory=dict)
    breakdown: dict[str, Any] = field(default_factory=dict)
    # Monitor only on 2 workers with another reports.html (--compare-html), by that setting.
    compared: dict[str, dict[str, Any]] = field(default_factory=dict)
    # 1 -> 2 workers (wall time of the models), once per --repeat; the first is `workers`'.
    worker_ratios: list[float] = field(default_factory=list)


def measure_tree(
    name: str,
    tree: Path,
    models: int,
    scratch: Path,
    server: Server,
    compare_html: tuple[str, ...] = (),
    repeat: int = 1,
) -> TreeResult:
    result = TreeResult(name)
    directory = scratch / f"{name}-fleet"
    fleet_path = write_fleet(directory, models, dask_workers=2, max_parallel=2)
    result.loop = run_fleet(
        fleet_path,
        scratch / f"{name}-home",
        server,
        tree,
        watch_retries=True,
    )
    print(f"[{name}] full loop: {result.loop['wall']:.1f} s, {result.loop['load']}", flush=True)
    for _ in range(repeat):  # one worker, then two, again and again
        pair = {}
        for workers in (1, 2):
            monitor_only(fleet_path, workers)
            pair[workers] = run_fleet(fleet_path, scratch / f"{name}-home", server, tree)
            print(
                f"[{name}] monitor only, {workers} worker(s): "
                f"{pair[workers]['models_seconds']:.1f} s, {pair[workers]['load']}",
                flush=True,
            )
        result.workers = result.workers or pair
        result.worker_ratios.append(pair[1]["models_seconds"] / pair[2]["models_seconds"])
    for html in compare_html:
        if html == REPORTS_HTML:
            continue
        monitor_only(fleet_path, 2, html)
        other = run_fleet(fleet_path, scratch / f"{name}-home", server, tree)
        result.compared[html] = other
        print(
            f"[{name}] monitor only, 2 workers, reports.html {html}: "
            f"{other['models_seconds']:.1f} s, {other['load']}",
            flush=True,
        )
    return result


def print_models_per_hour(results: list[TreeResult], models: int) -> None:
    print(
        f"## 1-2. {models} demo models on a `prefect server` on PostgreSQL: models per hour\n\n"
        f"reports.html: {REPORTS_HTML} unless the run says otherwise. "
        "Wall: the models' time once the workers were up (on this machine, under its load). CPU "
        "per model: of the fleet's processes (CLI, Dask scheduler and workers) and of the "
        "server's (prefect server, PostgreSQL) in that time. Quiet machine: "
        f"{CORES} cores x 3600 s over the CPU per model.\n"
    )
    print(
        "| tree | run | Dask workers | models ran | errors | promoted | wall s | models/hour "
        "(wall) | CPU s/model fleet | CPU s/model server | models/hour/core (CPU) | "
        f"models/hour, {CORES} quiet cores | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for result in results:
        runs = [("full loop (bootstrap + monitor)", 2, result.loop)]
        runs += [("monitor only", w, r) for w, r in result.workers.items()]
        runs += [
            (f"monitor only, reports.html: {html}", 2, r) for html, r in result.compared.items()
        ]
        for run, workers, measured in runs:
            cpu = measured["fleet_cpu"] + measured["server_cpu"]
            print(
                f"| {result.name} | {run} | {workers} | {measured['ran']}/{measured['total']} | "
                f"{measured['errors']} | {measured['promoted']} | {measured['models_seconds']:.1f} | "
                f"{3600 * measured['total'] / measured['models_seconds']:.0f} | "
                f"{measured['fleet_cpu']:.2f} | {measured['server_cpu']:.2f} | "
                f"{per_hour(cpu) / CORES:.0f} | {per_hour(cpu):.0f} | {measured['load']} |"
            )
    print()
    for result in results:
        one, two = result.workers[1], result.workers[2]
        cpu = [r["fleet_cpu"] + r["server_cpu"] for r in (one, two)]
        print(
            f"{result.name}: speed-up from 1 to 2 workers on the models: "
            f"{one['models_seconds'] / two['models_seconds']:.2f}x "
            f"(CPU per model {cpu[0]:.2f} -> {cpu[1]:.2f} s)"
        )
        if len(result.worker_ratios) > 1:
            print(
                f"{result.name}: speed-up from 1 to 2 workers, each pair in turn: "
                f"{spread(result.worker_ratios, TARGET_WORKERS)}"
            )
        for html, other in result.compared.items():
            print(
                f"{result.name}: monitor only on 2 workers, reports.html {REPORTS_HTML} against "
                f"{html}: {other['models_seconds'] / two['models_seconds']:.2f}x in wall time, "
                f"CPU per model {other['fleet_cpu'] + other['server_cpu']:.2f} -> {cpu[1]:.2f} s"
            )
    for result in results:
        print(f"{result.name}, full loop: {describe_memory_and_retries(result.loop)}")
    print()


def describe_memory_and_retries(result: dict[str, Any]) -> str:
    """Peak RSS of the fleet's process tree, and how often Prefect's client retried."""
    retried, budget = result["retries"]
    if budget is None:
        retries = "Prefect's client retried no API request."
    else:
        failed = ", ".join(f"{k}x: {retried.get(k, 0)}" for k in range(1, budget + 2))
        retries = (
            "Prefect API requests that failed (503, a dropped connection...) at least k times, "
            f"PREFECT_CLIENT_MAX_RETRIES {budget} (k = {budget + 1}: given up): {failed}"
        )
    return f"peak RSS of the fleet's process tree {result['peak'] / 1e9:.2f} GB; {retries}"


def spread(ratios: list[float], target: float) -> str:
    """A ratio measured once, or its mean over the runs with their range and how many met the
    target."""
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}x"
    listed = ", ".join(f"{r:.2f}" for r in ratios)
    met = sum(r >= target for r in ratios)
    return (
        f"mean {mean(ratios):.2f}x over {len(ratios)} runs ({min(ratios):.2f}-{max(ratios):.2f}x: "
        f"{listed}), {met} of {len(ratios)} at or above {target}x"
    )


def compare_with_cold_runs(
    models: int,
    scratch: Path,
    server: Server,
    fleet: dict[str, Any] | None = None,
    repeat: int = 1,
) -> list[float]:
    """One fleet run against as many cold runs, `repeat` times on fresh registries: the ratio of
    each. fleet: the full loop's run over the same number of models, when there is one (the
    first time)."""
    print(
        f"## 4. {models} demo models: one fleet run vs {models} separate monitor.py runs (cold), "
        f"{uptime()}\n"
    )
    print("| run | wall s | models ran | errors | promoted |")
    print("|---|---|---|---|---|")
    ratios = []
    for index in range(repeat):
        ratios.append(_fleet_against_cold(models, scratch / f"cold-{index}", server, fleet))
        fleet = None
    print(f"\nspeed-up of the fleet: {spread(ratios, TARGET_COLD)}\n")
    return ratios


def _fleet_against_cold(
    models: int, scratch: Path, server: Server, fleet: dict[str, Any] | None
) -> float:
    scratch.mkdir()
    if fleet is None:
        fleet = run_fleet(
            write_fleet(scratch / "cold-fleet", models, dask_workers=2, max_parallel=2),
            scratch / "home-cold-fleet",
            server,
        )
    separate_fleet = load_fleet(write_fleet(scratch / "separate", models))
    separate = 0.0
    for member in separate_fleet.ready:
        command = [sys.executable, str(ROOT / "flows" / "monitor.py")]
        started = time.monotonic()
        done = subprocess.run(
            [*command, "--config", str(member.config_path)],
            cwd=ROOT,
            env=_env(scratch / "home-separate", server.url),
            capture_output=True,
            text=True,
            check=False,
        )
        separate += time.monotonic() - started
        if done.returncode not in (0, 2):
            sys.exit(f"monitor.py failed ({done.returncode}):\n{done.stdout[-3000:]}")
    print(
        f"| one `flows/fleet.py` (dask, 2 workers) | {fleet['wall']:.1f} | {fleet['ran']}/{fleet['total']} | {fleet['errors']} | {fleet['promoted']} |"
    )
    print(f"| {models} x `flows/monitor.py`, in turn | {separate:.1f} | {models}/{models} | 0 | |")
    return separate / fleet["wall"]


def breakdown(
    name: str, tree: Path, models: int, scratch: Path, server: Server, first: bool
) -> dict[str, Any]:
    """benchmarks/fleet_breakdown.py over a fleet of `models`: their first run (the full loop)
    or, after it, a monitor-only run; with the server's CPU per model in that time."""
    directory = scratch / f"{name}-breakdown-{'loop' if first else 'monitor'}"
    fleet_path = write_fleet(directory, models)
    if not first:
        monitor_only(fleet_path, 1)
    command = [sys.executable, str(ROOT / "benchmarks" / "fleet_breakdown.py"), str(fleet_path)]
    env = _env(scratch / f"{name}-home-breakdown", server.url, tree)
    with CpuSampler({"server": server.pids}) as sampler:
        done = subprocess.run(
            [*command, *(["--timed-first"] if first else [])],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        sys.exit(f"{command} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # The server's CPU while the child ran its timed runs (time.monotonic: one clock for both).
    server_cpu = sampler.between(*measured["timed"])["server"]
    measured["server_cpu"] = server_cpu / measured["models"]
    measured["load"] = uptime()
    return measured


PREFECT_PARTS = ("Prefect engine", "Prefect client", "Prefect: artifacts")


def print_breakdown(results: list[TreeResult], models: int) -> None:
    print(
        f"## 3. Where one model's CPU goes ({models} models in one process, in turn, against "
        "the server)\n\nCPU seconds per model of the run's thread in each part (exclusive of "
        "the parts inside it), Prefect's client threads, and the server (prefect server and "
        "PostgreSQL) while they ran. Imports "
        "are paid once per worker process, not per model.\n"
    )
    columns = [(r.name, kind, r.breakdown[kind]) for r in results for kind in ("loop", "monitor")]
    names = {"loop": "full loop (first run)", "monitor": "monitor only"}
    print("| part | " + " | ".join(f"{t}: {names[k]}" for t, k, _ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    parts: list[str] = []
    for _, _, measured in columns:
        parts += [p for p in measured["parts"] if p not in parts]
    for part in sorted(parts, key=lambda p: -max(m["parts"].get(p, 0.0) for _, _, m in columns)):
        cells = [f"{m['parts'].get(part, 0.0):.3f}" for _, _, m in columns]
        print(f"| {part} | " + " | ".join(cells) + " |")
    rows = [
        ("**the model's process, total**", lambda m: f"{m['process_cpu']:.2f}"),
        ("Prefect in it (engine, client threads, artifacts, events)", _prefect_share),
        ("server (prefect server + PostgreSQL)", lambda m: f"{m['server_cpu']:.2f}"),
        (
            "**CPU per model, process + server**",
            lambda m: f"{m['process_cpu'] + m['server_cpu']:.2f}",
        ),
        (
            f"models/hour on {CORES} quiet cores",
            lambda m: f"{per_hour(m['process_cpu'] + m['server_cpu']):.0f}",
        ),
        ("wall per model, under the load", lambda m: f"{m['wall']:.2f}"),
        ("imports, once per worker process", lambda m: f"{m['imports_cpu']:.2f}"),
        ("load", lambda m: m["load"]),
    ]
    for label, cell in rows:
        print(f"| {label} | " + " | ".join(cell(m) for _, _, m in columns) + " |")
    print()


def _prefect_share(measured: dict[str, Any]) -> str:
    prefect = sum(v for p, v in measured["parts"].items() if p.startswith(PREFECT_PARTS))
    return f"{prefect:.2f}"


def measure_memory(models: int, scratch: Path, server: Server) -> None:
    fleet_path = write_fleet(scratch / "memory", models, max_parallel=4, dask_workers=4)
    result = run_fleet(fleet_path, scratch / "home-memory", server, watch_retries=True)
    print(f"## 5. {models} models, max_parallel 4 (4 worker processes): peak memory\n")
    print("| models | ran | errors | whole run s | peak RSS of the process tree GB |")
    print("|---|---|---|---|---|")
    print(
        f"| {models} | {result['ran']} | {result['errors']} | {result['wall']:.1f} | {result['peak'] / 1e9:.2f} |"
    )
    print(f"\n{describe_memory_and_retries(result)}\n")


TARGET_PER_HOUR = 5000  # issue 31: monitor only, on this machine's cores
TARGET_WORKERS = 1.6  # monitor only, 1 -> 2 Dask workers
TARGET_COLD = 4.0  # one fleet run against as many cold monitor.py runs


def print_targets(results: list[TreeResult], cold: list[float] | None) -> None:
    """Issue 31's three targets, measured or not, per tree; a ratio measured several times
    (--repeat) by its mean."""
    print("## Targets\n")
    print("| tree | target | measured | met |")
    print("|---|---|---|---|")

    def verdict(value: float, target: float) -> str:
        return "yes" if value >= target else "no"

    for result in results:
        rows = []
        if result.workers:
            cpu = [r["fleet_cpu"] + r["server_cpu"] for r in result.workers.values()]
            rate = per_hour(max(cpu))  # the worse of 1 and 2 workers
            rows.append(
                (
                    f"monitor only >= {TARGET_PER_HOUR:,} models/hour on {CORES} cores "
                    f"(<= {3600 * CORES / TARGET_PER_HOUR:.2f} CPU s a model, server included)",
                    f"{max(cpu):.2f} CPU s a model (1 and 2 workers: "
                    f"{' / '.join(f'{c:.2f}' for c in cpu)}) = {rate:,.0f}/hour",
                    verdict(rate, TARGET_PER_HOUR),
                )
            )
            one, two = result.workers[1], result.workers[2]
            ratios = result.worker_ratios
            rows.append(
                (
                    f"monitor only, 1 -> 2 Dask workers >= {TARGET_WORKERS}x (wall)",
                    f"{spread(ratios, TARGET_WORKERS)} ({one['load']} / {two['load']})",
                    verdict(mean(ratios), TARGET_WORKERS),
                )
            )
        quiet = result.compared.get("never")
        if quiet is not None:
            cpu_quiet = quiet["fleet_cpu"] + quiet["server_cpu"]
            wall_rate = 3600 * quiet["total"] / quiet["models_seconds"]
            rows.append(
                (
                    f"(monitor only, 2 workers, quiet windows: no HTML report drawn) >= "
                    f"{TARGET_PER_HOUR:,} models/hour",
                    f"{wall_rate:,.0f}/hour in wall time; {cpu_quiet:.2f} CPU s a model = "
                    f"{per_hour(cpu_quiet):,.0f}/hour",
                    verdict(min(wall_rate, per_hour(cpu_quiet)), TARGET_PER_HOUR),
                )
            )
        if result.breakdown.get("monitor"):
            measured = result.breakdown["monitor"]
            cpu = measured["process_cpu"] + measured["server_cpu"]
            rows.append(
                (
                    "(one process, the breakdown: monitor only)",
                    f"{cpu:.2f} CPU s a model = {per_hour(cpu):,.0f}/hour",
                    verdict(per_hour(cpu), TARGET_PER_HOUR),
                )
            )
        if cold is not None and result is results[-1]:
            rows.append(
                (
                    f"one fleet run >= {TARGET_COLD}x faster than as many cold monitor.py runs",
                    spread(cold, TARGET_COLD),
                    verdict(mean(cold), TARGET_COLD),
                )
            )
        for target, measured_text, met in rows:
            print(f"| {result.name} | {target} | {measured_text} | {met} |")
    print()


def main() -> None:
    global REPORTS_HTML  # the benchmark's one setting, read by write_fleet
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--cold", type=int, default=20)
    parser.add_argument("--breakdown", type=int, default=10)
    parser.add_argument("--memory-models", type=int, default=0, help="0: section 5 is skipped")
    parser.add_argument("--baseline", type=Path, help="another checkout, measured beside this one")
    parser.add_argument("--toy", action="store_true", help="2 models, 2 cold runs, 1 in 4.")
    parser.add_argument("--skip", nargs="*", default=[], choices=["loop", "cold", "breakdown"])
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure 1 -> 2 workers and the fleet against cold runs this many times "
        "(default: %(default)s); the targets take the mean",
    )
    parser.add_argument(
        "--reports-html",
        default=REPORTS_HTML,
        choices=["always", "on-breach", "never"],
        help="reports.html of every fleet here (default: %(default)s, a fleet's choice)",
    )
    parser.add_argument(
        "--compare-html",
        nargs="*",
        default=["always", "never"],
        choices=["always", "on-breach", "never"],
        help="one more monitor-only run on 2 workers with each of these reports.html "
        "(default: %(default)s; never costs what a quiet run costs under on-breach)",
    )
    args = parser.parse_args()
    REPORTS_HTML = args.reports_html
    if args.toy:
        args.models, args.cold, args.breakdown = 2, 2, 1
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.platform()}, {CORES} cores, "
        f"{psutil.virtual_memory().total / 1e9:.1f} GB, Python {platform.python_version()}, "
        f"{uptime()} at the start\n",
        flush=True,
    )
    trees = [("this tree", ROOT)]
    if args.baseline:
        trees.insert(0, ("baseline", args.baseline.resolve()))
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        with real_server(scratch) as server:
            results = [TreeResult(name) for name, _ in trees]
            if "loop" not in args.skip:
                # Interleaved, so both trees see about the same load.
                for result, (name, tree) in zip(results, trees, strict=True):
                    measured = measure_tree(
                        name.replace(" ", "-"),
                        tree,
                        args.models,
                        scratch,
                        server,
                        tuple(args.compare_html),
                        args.repeat,
                    )
                    result.loop, result.workers = measured.loop, measured.workers
                    result.worker_ratios = measured.worker_ratios
                    result.compared = measured.compared
                print()
                print_models_per_hour(results, args.models)
            if "breakdown" not in args.skip:
                for result, (name, tree) in zip(results, trees, strict=True):
                    label = name.replace(" ", "-")
                    for kind in ("loop", "monitor"):
                        result.breakdown[kind] = breakdown(
                            label, tree, args.breakdown, scratch, server, first=kind == "loop"
                        )
                print_breakdown(results, args.breakdown)
            cold = None
            if "cold" not in args.skip:
                # The full loop's run is that fleet run when it had as many models.
                same = results[-1].loop if args.cold == args.models and results[-1].loop else None
                cold = compare_with_cold_runs(args.cold, scratch, server, same, args.repeat)
            print_targets(results, cold)
            if args.memory_models:
                measure_memory(args.memory_models, scratch, server)
    print(f"{uptime()} at the end")


if __name__ == "__main__":
    main()
