"""How the monitor's cost of one window grows with its rows and with its columns.

The monitor's work on one window is the path benchmarks/million_rows.py and
benchmarks/wide_window.py time: `window_signals` (reading the window, the data-quality checks,
drift of every row of every column against the champion's stored reference profile, the
performance metric on every labelled row), without the HTML reports (those are drawn on a
sample of a fixed size: a constant per window, not a cost that grows with it). Prints two
Markdown tables, all measured in this one run:

1. Rows: 4 row counts (--rows / 8, / 4, / 2, --rows) with --columns columns (80% numeric, 20%
   categorical: 25 columns is million_rows.py's 20 + 5), the reference as many rows as the window.
2. Columns: 4 column counts (--wide-columns / 8 ... --wide-columns, 90% numeric, 10%
   categorical like wide_window.py) with --wide-rows rows.

Each size runs in a fresh process (imports are not timed, and nothing cached by one size is seen
by the next; with --repeat N, N processes and the one with the least CPU time, the usual
estimate of the work when the noise of a shared machine only adds); the version's report sample,
which a version's first monitor run draws and keeps, is drawn before. Per size: CPU seconds
(time.process_time, every thread of the process; of it the kernel's time, os.times().system,
where page faults show), wall seconds, peak memory of the process (VmHWM: ru_maxrss of a child
on Linux keeps its parent's peak across exec) and of it what the window added to the imports,
the CPU cost per row (per column) relative to the smallest size (1.00 throughout = linear), and
the CPU seconds of each step, timed by wrapping the monitor's own functions in the child
process: `load_window` (read, the duplicate-row check), the registry's `load_reference` (the
reference's digest, its sample), `load_profile` (the stored profile), `check_window_quality`,
the drift tests against the profile and the performance metric; other: the rest (predictions,
the decision's inputs). A step the code no longer has shows n/a. Under each table, the fitted
exponent: the least-squares slope of log time against log size (1.0 = linear, 2.0 = quadratic),
of the whole and of each step.

    python benchmarks/scaling.py [--rows 1000000] [--columns 25] [--wide-rows 100000]
                                 [--wide-columns 1000] [--repeat 1] [--only rows|columns] [--toy]

The data is synthetic (numpy, seeded; wide_window.py's generator): the scale, not the content, is
what is measured here.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from million_rows import config_for, run_monitor_child
from wide_window import columns_of, make_frame, register

STEPS = ("load", "reference", "profile", "quality", "drift", "metrics")

# million_rows.py's child, with the monitor's steps wrapped to add up their CPU seconds.
CHILD = """
import json, os, sys, time
from pathlib import Path
started = time.perf_counter()
import prefect  # a flow run has it imported before its steps run
import tasks.adapters.evidently_report as evidently_report
import tasks.steps.monitoring as monitoring
from tasks.config import load_config
from tasks.core.windows import plan_windows, resolve_as_of
from tasks.stores.registry import LocalRegistry
from tasks.stores.resources import open_stores
STEPS = {
    "load": (monitoring, "load_window"),
    "reference": (LocalRegistry, "load_reference"),
    "profile": (monitoring, "load_profile"),
    "quality": (monitoring, "check_window_quality"),
    "drift": (evidently_report, "_exact_drift"),
    "metrics": (evidently_report, "_measure_performance"),
}
spent = {}

def peak_mb():
    # This process's own peak (VmHWM): ru_maxrss keeps the parent's across exec on Linux.
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return kb / 1024

def timed(step, function):
    depth = [0]

    def wrapper(*args, **kwargs):
        if depth[0]:
            return function(*args, **kwargs)
        depth[0] += 1
        cpu = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            depth[0] -= 1
            spent[step] += time.process_time() - cpu

    return wrapper

for step, (owner, name) in STEPS.items():
    function = getattr(owner, name, None)
    if function is not None:
        setattr(owner, name, timed(step, function))
        spent[step] = 0.0
config = load_config(sys.argv[1])
imported_mb = peak_mb()
imported, cpu, system = time.perf_counter(), time.process_time(), os.times().system
plan = plan_windows(config, resolve_as_of(config))
report_dir = None if sys.argv[3] == "none" else Path(sys.argv[3])
signals = monitoring.window_signals(
    config, open_stores(config), plan.current, sys.argv[2], report_dir
)
done = time.perf_counter()
print(json.dumps({
    "wall_s": done - imported, "cpu_s": time.process_time() - cpu,
    "system_s": os.times().system - system,
    "peak_mb": peak_mb(), "imported_mb": imported_mb, "steps": spent,
    "current_rows": signals.current_rows, "drift_rows": signals.drift_rows_current,
    "columns": len(signals.columns),
}))
"""


@dataclass(frozen=True)
class Size:
    rows: int
    numeric: int
    categorical: int

    @property
    def columns(self) -> int:
        return self.numeric + self.categorical


@dataclass(frozen=True)
class Measured:
    size: Size
    cpu_s: float
    system_s: float
    wall_s: float
    peak_mb: float
    window_mb: float
    steps: dict[str, float]

    @property
    def other_s(self) -> float:
        return self.cpu_s - sum(self.steps.values())


def measure(size: Size, repeat: int) -> Measured:
    """The monitor's work on one window of size, in a fresh process; of repeat such processes,
    the one with the least CPU time (on a shared machine the noise only adds)."""
    from tasks.adapters.evidently_report import report_sample_rows
    from tasks.stores.registry import LocalRegistry

    rng = np.random.default_rng(size.rows + size.columns)
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        log = scratch / "log"
        log.mkdir()
        reference = make_frame(size.rows, size.numeric, size.categorical, rng, shifted=False)
        current = make_frame(size.rows, size.numeric, size.categorical, rng, shifted=True)
        current.to_parquet(log / "day-0.parquet", index=False, row_group_size=100_000)
        del current
        numerical, categorical = columns_of(size.numeric, size.categorical)
        config = config_for(
            scratch,
            log,
            None,
            name="scaling",
            numerical=numerical,
            categorical=categorical,
            estimator="sklearn.dummy.DummyClassifier",
        )
        with contextlib.redirect_stdout(io.StringIO()):  # its line on the profile's cost
            version = register(config, reference)
        del reference
        # What a version's first monitor run does once: draw and keep the reference's sample.
        LocalRegistry(config.registry.path, config.name).load_reference(
            version, report_sample_rows(config), config.sampling.seed
        )
        runs = [
            run_monitor_child(config, scratch / "config.yaml", version, None, child=CHILD)
            for _ in range(repeat)
        ]
    child = min(runs, key=lambda run: float(run["cpu_s"]))
    if (child["current_rows"], child["drift_rows"]) != (size.rows, size.rows):
        sys.exit(f"{size}: the child measured {child}, not every row of the window")
    return Measured(
        size=size,
        cpu_s=child["cpu_s"],
        system_s=child["system_s"],
        wall_s=child["wall_s"],
        peak_mb=child["peak_mb"],
        window_mb=child["peak_mb"] - child["imported_mb"],
        steps=child["steps"],
    )


def exponent(sizes: list[int], seconds: list[float]) -> float:
    """The least-squares slope of log seconds against log size (1.0: linear)."""
    if any(s <= 0 for s in seconds):
        return math.nan
    slope, _ = np.polyfit(np.log(sizes), np.log(seconds), 1)
    return float(slope)


def run_direction(direction: str, sizes: list[Size], repeat: int) -> None:
    """Measure the sizes of a direction (rows or columns) in turn, printing each row of its
    Markdown table as it comes, then the fitted exponents."""
    results: list[Measured] = []
    counts = [size.rows if direction == "rows" else size.columns for size in sizes]
    for count, size in zip(counts, sizes, strict=True):
        result = measure(size, repeat)
        if not results:
            steps = [s for s in STEPS if s in result.steps]
            header = [
                "rows",
                "columns",
                "CPU s",
                "of it system s",
                "wall s",
                "peak MB",
                "window MB",
                f"CPU per {direction[:-1]}, relative",
                *(f"{s} CPU s" for s in steps),
                "other CPU s",
            ]
            print("| " + " | ".join(header) + " |")
            print("|" + "---|" * len(header))
        results.append(result)
        first = results[0].cpu_s / counts[0]
        cells = [
            f"{size.rows:,}",
            f"{size.columns:,}",
            f"{result.cpu_s:.3f}",
            f"{result.system_s:.3f}",
            f"{result.wall_s:.3f}",
            f"{result.peak_mb:,.0f}",
            f"{result.window_mb:,.0f}",
            f"{result.cpu_s / count / first:.2f}",
            *(f"{result.steps.get(s, math.nan):.3f}" for s in steps),
            f"{result.other_s:.3f}",
        ]
        print("| " + " | ".join(cells) + " |", flush=True)
    missing = [s for s in STEPS if s not in steps]
    if missing:
        print(f"steps not found in the code (n/a): {', '.join(missing)}")
    cpu = exponent(counts, [r.cpu_s for r in results])
    user = exponent(counts, [r.cpu_s - r.system_s for r in results])
    wall = exponent(counts, [r.wall_s for r in results])
    memory = exponent(counts, [r.window_mb for r in results])
    print(
        f"fitted exponent on {direction} (slope of log time on log size, least squares; 1.0 = "
        f"linear): CPU {cpu:.2f}, of it user (CPU - system) {user:.2f}, wall {wall:.2f}, "
        f"window MB {memory:.2f}"
    )
    by_step = [(s, exponent(counts, [r.steps[s] for r in results])) for s in steps]
    by_step.append(("other", exponent(counts, [r.other_s for r in results])))
    print(
        "by step (CPU): " + ", ".join(f"{s} {e:.2f}" for s, e in by_step),
        flush=True,
    )


def sizes_of(rows: int, columns: int, wide_rows: int, wide_columns: int) -> dict[str, list[Size]]:
    """The 4 sizes of each direction, doubling up to the largest."""

    def rows_size(count: int) -> Size:
        categorical = round(columns * 0.2)
        return Size(count, columns - categorical, categorical)

    def columns_size(count: int) -> Size:
        categorical = max(count // 10, 1)
        return Size(wide_rows, count - categorical, categorical)

    return {
        "rows": [rows_size(rows * k // 8) for k in (1, 2, 4, 8)],
        "columns": [columns_size(wide_columns * k // 8) for k in (1, 2, 4, 8)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="largest row count")
    parser.add_argument("--columns", type=int, default=25, help="columns of the row sizes")
    parser.add_argument("--wide-rows", type=int, default=100_000, help="rows of the column sizes")
    parser.add_argument("--wide-columns", type=int, default=1_000, help="largest column count")
    parser.add_argument("--repeat", type=int, default=1, help="processes per size (least CPU)")
    parser.add_argument("--only", choices=("rows", "columns"), help="one direction only")
    parser.add_argument("--toy", action="store_true", help="tiny sizes, for the tests")
    args = parser.parse_args()
    if args.toy:
        args.rows, args.columns, args.wide_rows, args.wide_columns = 16_000, 10, 2_000, 80
    load = os.getloadavg()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {datetime.now():%Y-%m-%d %H:%M}, load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    for direction, sizes in sizes_of(
        args.rows, args.columns, args.wide_rows, args.wide_columns
    ).items():
        if args.only not in (None, direction):
            continue
        fixed = (
            f"{args.columns} columns (80% numeric)"
            if direction == "rows"
            else f"{args.wide_rows:,} rows (90% numeric)"
        )
        print(
            f"\nThe monitor's work on one window against {direction}, {fixed}; every row "
            "drift-tested against the stored profile, no HTML; one fresh process per size"
            f"{'' if args.repeat == 1 else f', the least CPU of {args.repeat}'}\n",
            flush=True,
        )
        run_direction(direction, sizes, args.repeat)
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
