"""The monitor on a wide window (many columns), against Evidently on all rows; cost per size.

Prints three tables, all measured in this one run:

1. End to end: the monitor's measure_window in a fresh process (reading the window, the
   champion's reference profile, drift of every row of every column against it, the metric,
   the HTML reports on a sample) for a window of --rows rows x (--numeric + --categorical)
   columns against a reference of as many rows, wall and CPU seconds and peak memory.
2. Evidently on all rows, the same drift tests, in a fresh process with a time limit
   (--evidently-limit): columns in batches of 50, so that a run stopped at the limit still says
   how far it got and at what pace.
3. Cost against size: the drift tests alone (every row against the profile, in this process,
   CPU seconds) at 4 row counts with --scale-columns columns, and at 4 column counts with
   --rows rows; linear cost shows as a flat ns per row and column.

    python benchmarks/wide_window.py [--rows 100000] [--numeric 900] [--categorical 100]

The data is synthetic (numpy, seeded): the scale, not the content, is what is measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from million_rows import config_for as million_config_for
from million_rows import print_steps, run_monitor_child

from tasks.config import Config

START = datetime(2026, 1, 1)
LEVELS = np.array([f"level_{k}" for k in range(8)], dtype=object)


def columns_of(numeric: int, categorical: int) -> tuple[list[str], list[str]]:
    return [f"num_{i:04d}" for i in range(numeric)], [f"cat_{i:03d}" for i in range(categorical)]


def make_frame(
    rows: int, numeric: int, categorical: int, rng: np.random.Generator, shifted: bool
) -> pd.DataFrame:
    """A binary-classification log; when shifted, every 10th column moves (0.3 std / a tilt)."""
    numerical, categories = columns_of(numeric, categorical)
    data: dict[str, Any] = {
        "timestamp": pd.Timestamp(START if shifted else START - timedelta(days=1))
        + pd.to_timedelta(np.sort(rng.random(rows)) * 86_400, unit="s")
    }
    for index, column in enumerate(numerical):
        data[column] = rng.normal(0.3 if shifted and index % 10 == 0 else 0.0, 1.0, rows)
    for index, column in enumerate(categories):
        tilt = 2.0 if shifted and index % 10 == 0 else 1.0
        weights = np.linspace(1.0, 2.0, len(LEVELS)) ** tilt
        data[column] = rng.choice(LEVELS, rows, p=weights / weights.sum())
    logit = data[numerical[0]] - 0.5 * data[numerical[1]] - 0.3
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    data["label"] = label
    data["prediction"] = np.where(rng.random(rows) < 0.2, 1 - label, label)
    return pd.DataFrame(data)


def config_for(root: Path, log_dir: Path, numerical: list[str], categorical: list[str]) -> Config:
    """million_rows.py's config with the wide window's columns, every row drift-tested."""
    return million_config_for(
        root,
        log_dir,
        None,
        name="wide-window",
        numerical=numerical,
        categorical=categorical,
        estimator="sklearn.dummy.DummyClassifier",
    )


def register(config: Config, reference: pd.DataFrame) -> str:
    from tasks.adapters.modeling import fit_model
    from tasks.steps.attachments import Registration, version_attachments
    from tasks.stores.registry import Lineage, LocalRegistry

    model = fit_model(config, reference.iloc[:2_000])
    stored = reference[["timestamp", *config.data.features, "label"]]
    started, cpu = time.perf_counter(), time.process_time()
    attachments = version_attachments(Registration(config, model, stored, None))
    size = sum(len(content) for content in attachments.values())
    print(
        f"reference profile built at registration: {time.perf_counter() - started:.1f} s "
        f"({time.process_time() - cpu:.1f} s CPU), {size / 1e6:,.0f} MB stored"
    )
    record = LocalRegistry(config.registry.path, config.name).register(
        model,
        stored,
        Lineage(
            estimator="sklearn.dummy.DummyClassifier",
            params={},
            training_window={"start": "2025-12-31T00:00:00", "end": "2026-01-01T00:00:00"},
            training_rows=len(reference),
            data_fingerprint="benchmark",
            metrics={},
            code_version="benchmark",
            source="benchmark",
            reason="benchmark",
        ),
        attachments=attachments,
    )
    return record.version


EVIDENTLY_CHILD = """
import json, sys, time
from pathlib import Path
import pandas as pd
from tasks.adapters.evidently_report import compute_signals
from tasks.config import load_config
config = load_config(sys.argv[1])
current = pd.read_parquet(sys.argv[2])
reference = pd.read_parquet(sys.argv[3])
features = config.data.features
started, cpu = time.perf_counter(), time.process_time()
for first in range(0, len(features), 50):
    batch = features[first:first + 50]
    data = config.data.model_copy(update={
        "numerical_features": [c for c in config.data.numerical_features if c in batch],
        "categorical_features": [c for c in config.data.categorical_features if c in batch],
    })
    compute_signals(config.model_copy(update={"data": data}), current, reference,
                    current["prediction"].to_numpy(), "logged", None)
    print(json.dumps({"columns": first + len(batch), "s": time.perf_counter() - started,
                      "cpu_s": time.process_time() - cpu}), flush=True)
"""


def evidently_all_rows(
    config_path: Path, current: Path, reference: Path, limit: float, total: int
) -> tuple[float, float]:
    """Evidently's drift tests on every row in a fresh process, stopped at limit seconds; the
    seconds (wall, CPU) all columns took, or would take at the pace it reached."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    process = subprocess.Popen(
        [sys.executable, "-c", EVIDENTLY_CHILD, str(config_path), str(current), str(reference)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + limit
    reached: dict[str, Any] = {"columns": 0, "s": 0.0, "cpu_s": 0.0}
    try:
        while time.monotonic() < deadline:
            try:
                out, _ = process.communicate(timeout=max(deadline - time.monotonic(), 0.1))
                for line in out.splitlines():
                    reached = json.loads(line)
                break
            except subprocess.TimeoutExpired as expired:
                partial = expired.stdout or ""
                lines = [line for line in str(partial).splitlines() if line.startswith("{")]
                if lines:
                    reached = json.loads(lines[-1])
    finally:
        if process.poll() is None:
            process.kill()
            out, _ = process.communicate()
            lines = [line for line in (out or "").splitlines() if line.startswith("{")]
            if lines:
                reached = json.loads(lines[-1])
    done = reached["columns"]
    if done >= total:
        print(
            f"Evidently on all rows: all {total:,} columns in {reached['s']:.1f} s "
            f"({reached['cpu_s']:.1f} s CPU)"
        )
        return float(reached["s"]), float(reached["cpu_s"])
    share = total / done if done else float("nan")
    print(
        f"Evidently on all rows: stopped at the {limit:.0f} s limit after {done:,} of {total:,} "
        f"columns ({reached['s']:.1f} s, {reached['cpu_s']:.1f} s CPU for those); at that pace "
        f"all columns would take about {reached['s'] * share:,.0f} s "
        f"({reached['cpu_s'] * share:,.0f} s CPU)"
    )
    return float(reached["s"] * share), float(reached["cpu_s"] * share)


def end_to_end(rows: int, numeric: int, categorical: int, limit: float, scratch: Path) -> None:
    rng = np.random.default_rng(0)
    log = scratch / "log"
    log.mkdir()
    reference = make_frame(rows, numeric, categorical, rng, shifted=False)
    current = make_frame(rows, numeric, categorical, rng, shifted=True)
    current.to_parquet(log / "day-0.parquet", index=False)
    reference_path = scratch / "reference.parquet"
    reference.to_parquet(reference_path, index=False)
    numerical, categories = columns_of(numeric, categorical)
    config = config_for(scratch, log, numerical, categories)
    version = register(config, reference)
    del reference, current
    config_path = scratch / "config.yaml"
    run_monitor_child(config, config_path, version, scratch / "warm")  # draws the report sample
    child = run_monitor_child(config, config_path, version, scratch / "report")
    drifted = sum(child["flags"].values())
    print(
        f"\n1. End to end, {rows:,} rows x {numeric + categorical:,} columns ({numeric} numeric, "
        f"{categorical} categorical), every row of every column tested"
    )
    print(f"{'what':<58} {'seconds':>8} {'CPU s':>7} {'peak MB':>8}")
    print(
        f"{'monitor signals, fresh process (reading, HTML included)':<58} "
        f"{child['measure_s']:>8.1f} {child['cpu_s']:>7.1f} {child['peak_mb']:>8.0f}"
    )
    print_steps(child, "HTML reports included")
    print(f"drifted columns: {drifted} of {len(child['flags'])} (every 10th column was shifted)")
    print("\n2. Evidently, the same drift tests on every row (fresh process, 50 columns a batch)")
    evidently_s, evidently_cpu = evidently_all_rows(
        config_path, log / "day-0.parquet", reference_path, limit, numeric + categorical
    )
    # Both ratios: on a loaded machine wall time measures the load as much as the work.
    print(
        f"speed-up: {evidently_s / child['measure_s']:.1f}x wall, "
        f"{evidently_cpu / child['cpu_s']:.1f}x CPU"
    )


def drift_cost(rows: int, numeric: int, categorical: int) -> float:
    """CPU seconds of the drift tests of every row of every column against a profile."""
    from tasks.adapters.evidently_report import compute_signals
    from tasks.core.profiles import build_profile

    rng = np.random.default_rng(rows + numeric)
    reference = make_frame(rows, numeric, categorical, rng, shifted=False)
    current = make_frame(rows, numeric, categorical, rng, shifted=True)
    numerical, categories = columns_of(numeric, categorical)
    with tempfile.TemporaryDirectory() as scratch:
        config = config_for(Path(scratch), Path(scratch), numerical, categories)
        profile = build_profile(reference, numerical, categories)
        cpu = time.process_time()
        compute_signals(
            config,
            current,
            reference,
            current["prediction"].to_numpy(),
            "logged",
            None,
            profile=profile,
        )
        return time.process_time() - cpu


def scaling(rows: int, columns: int, scale_columns: int, scale_rows: int) -> None:
    print("\n3. Cost of the drift tests against size (CPU s in this process; 10% categorical)")
    print(f"{'rows':>10} {'columns':>8} {'CPU s':>7} {'ns per row x column':>20}")
    sizes = [(scale_rows * k // 8, scale_columns) for k in (1, 2, 4, 8)]
    sizes += [(rows, columns * k // 8) for k in (1, 2, 4, 8)]
    for size_rows, size_columns in sizes:
        categorical = size_columns // 10
        cpu = drift_cost(size_rows, size_columns - categorical, categorical)
        per = cpu / (size_rows * size_columns) * 1e9
        print(f"{size_rows:>10,} {size_columns:>8,} {cpu:>7.2f} {per:>20.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--numeric", type=int, default=900)
    parser.add_argument("--categorical", type=int, default=100)
    parser.add_argument("--evidently-limit", type=float, default=600.0)
    parser.add_argument("--scale-rows", type=int, default=1_000_000, help="largest row count")
    parser.add_argument("--scale-columns", type=int, default=50, help="columns of the row sizes")
    parser.add_argument(
        "--skip-scaling", action="store_true", help="only the end-to-end run and Evidently"
    )
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {datetime.now():%Y-%m-%d %H:%M}, load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    with tempfile.TemporaryDirectory() as scratch:
        end_to_end(args.rows, args.numeric, args.categorical, args.evidently_limit, Path(scratch))
    if not args.skip_scaling:
        scaling(args.rows, args.numeric + args.categorical, args.scale_columns, args.scale_rows)
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
