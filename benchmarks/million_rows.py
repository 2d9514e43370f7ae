"""The monitor's signals on a million-row window, against Evidently on the full data.

Prints three tables, all measured in this one run:

1. Speed and memory: the monitor's signal computation in a fresh process (reading the window,
   the champion's reference profile, drift of every row against it, prediction drift, the
   metric on every labelled row; with and without Evidently's two HTML reports, drawn on a
   sample), for a 1M-row window against a 1M-row reference with 20 numeric and 5 categorical
   features and a binary label, next to Evidently's drift tests on all rows in this process;
   wall and CPU time (time.process_time), since the machine may be shared.
2. Agreement: per-column drift method, score and flag of the profile path against Evidently on
   all rows, over several seeds and drift magnitudes, and the performance metric against the
   full-data value.
3. History: monitoring the last window of a log of 5 windows against one of 50 (reading, the
   signals, and the policy's reads of a monitoring history of as many past runs).

    python benchmarks/million_rows.py [--rows 1000000] [--agreement-rows 200000] [--seeds 5]

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

from tasks.config import Config, parse_config
from tasks.core.signals import ColumnDrift

NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
CATEGORIES = np.array([f"level_{k}" for k in range(8)], dtype=object)
START = datetime(2026, 1, 1)


def make_frame(
    rows: int, rng: np.random.Generator, shifts: dict[str, float], start: datetime
) -> pd.DataFrame:
    """Rows of a binary-classification log; shifts move a numeric column's mean (in std units)
    or tilt a categorical column's level probabilities."""
    data: dict[str, Any] = {
        "timestamp": pd.Timestamp(start)
        + pd.to_timedelta(np.sort(rng.random(rows)) * 86_400, unit="s")
    }
    for column in NUMERIC:
        data[column] = rng.normal(shifts.get(column, 0.0), 1.0, rows)
    for column in CATEGORICAL:
        weights = np.linspace(1.0, 2.0, len(CATEGORIES)) ** (1 + 8 * shifts.get(column, 0.0))
        data[column] = rng.choice(CATEGORIES, rows, p=weights / weights.sum())
    logit = data["num_00"] - 0.5 * data["num_01"] + (data["cat_0"] == "level_7") - 0.3
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    flip = rng.random(rows) < 0.2
    data["label"] = label
    data["prediction"] = np.where(flip, 1 - label, label)
    return pd.DataFrame(data)


def config_for(
    root: Path,
    log_dir: Path,
    sample_rows: int | None,
    *,
    name: str = "million-rows",
    numerical: list[str] | None = None,
    categorical: list[str] | None = None,
    estimator: str = "sklearn.linear_model.LogisticRegression",
) -> Config:
    """The benchmark's config over log_dir (also the wide window's, with its own columns)."""
    raw = {
        "name": name,
        "data": {
            "source": {"kind": "files", "path": str(log_dir), "format": "parquet"},
            "timestamp_column": "timestamp",
            "target_column": "label",
            "numerical_features": NUMERIC if numerical is None else numerical,
            "categorical_features": CATEGORICAL if categorical is None else categorical,
            "prediction_column": "prediction",
        },
        "model": {"estimator": estimator, "params": {}},
        "policy": {
            "performance_metric": {"name": "f1", "average": "binary", "pos_label": 1},
            "performance_threshold": 0.5,
            "drift_threshold": 0.5,
        },
        "windows": {
            "as_of": START + timedelta(days=1),
            "current": "1d",
            "training": "1d",
            "holdout": "1d",
        },
        "sampling": {"drift_rows": sample_rows, "seed": 0},
        "registry": {"path": str(root / "registry")},
        "reports": {"path": str(root / "reports")},
    }
    return parse_config(raw, root)


def register_champion(config: Config, reference: pd.DataFrame, timed: bool = False) -> str:
    from tasks.adapters.modeling import fit_model
    from tasks.steps.attachments import Registration, version_attachments
    from tasks.stores.registry import Lineage, LocalRegistry

    # The configured pipeline on every feature: registration profiles the reference with its
    # predictions, for prediction drift (on by default).
    model = fit_model(config, reference.iloc[:2_000])
    stored = reference[["timestamp", *NUMERIC, *CATEGORICAL, "label"]]
    started, cpu = time.perf_counter(), time.process_time()
    attachments = version_attachments(Registration(config, model, stored, None))
    if timed:
        size = sum(len(content) for content in attachments.values())
        print(
            f"reference profile built at registration: {time.perf_counter() - started:.1f} s "
            f"({time.process_time() - cpu:.1f} s CPU), {size / 1e6:,.0f} MB stored"
        )
    record = LocalRegistry(config.registry.path, config.name).register(
        model,
        stored,
        Lineage(
            estimator="sklearn.linear_model.LogisticRegression",
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


# The steps of window_signals timed one by one (CPU seconds, user and system, and the peak
# RSS after each): where the time and the memory go.
STEPS = (
    "load_window",
    "check_window_quality",
    "load_profile",
    "_window_predictions",
    "predict_labels",
    "measure_signals",
    "estimate_window",
    "ReportDrawing.draw",
)

CHILD = """
import functools, json, resource, sys, time
from pathlib import Path
started = time.perf_counter()
import prefect  # a flow run has it imported before its steps run
from tasks.config import load_config
import tasks.steps.monitoring as monitoring
from tasks.core.windows import plan_windows, resolve_as_of
from tasks.stores.resources import open_stores
def peak_mb():
    # VmHWM: this process's own peak. ru_maxrss keeps, across fork and exec, the peak of the
    # parent it was forked from (this benchmark's, holding both 1M-row frames: 1.9 GB).
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
steps = {}
def timed(name, function):
    @functools.wraps(function)
    def step(*args, **kwargs):
        cpu = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent, peak = steps.get(name, (0.0, 0.0))
            steps[name] = (spent + time.process_time() - cpu, peak_mb())
    return step
for name in STEPS:
    *path, attribute = name.split(".")  # a method: ReportDrawing.draw
    owner = functools.reduce(getattr, path, monitoring)
    setattr(owner, attribute, timed(name, getattr(owner, attribute)))
config = load_config(sys.argv[1])
imported, cpu = time.perf_counter(), time.process_time()
imported_mb = peak_mb()
plan = plan_windows(config, resolve_as_of(config))
report_dir = None if sys.argv[3] == "none" else Path(sys.argv[3])
signals = monitoring.window_signals(
    config, open_stores(config), plan.current, sys.argv[2], report_dir
)
done = time.perf_counter()
print(json.dumps({
    "steps": steps, "imported_mb": imported_mb,
    "measure_s": done - imported, "with_imports_s": done - started,
    "cpu_s": time.process_time() - cpu,
    "peak_mb": peak_mb(),
    "flags": {c.column: c.drifted for c in signals.columns},
    "performance": signals.performance.value, "drift_rows": signals.drift_rows_current,
    "current_rows": signals.current_rows,
}))
"""


def run_monitor_child(
    config: Config,
    config_path: Path,
    version: str,
    report_dir: Path | None,
    child: str | None = None,
) -> dict[str, Any]:
    """CHILD timing STEPS (or another child script taking the same arguments) in a fresh
    process: its last line of output, as JSON."""
    import yaml

    script = f"STEPS = {STEPS!r}\n{CHILD}" if child is None else child

    config_path.write_text(yaml.safe_dump(json.loads(config.model_dump_json())))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    result = subprocess.run(
        [sys.executable, "-c", script, str(config_path), version, str(report_dir or "none")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def print_steps(run: dict[str, Any], what: str) -> None:
    """The breakdown of one monitor run by step: CPU seconds and the peak RSS after it."""
    print(
        f"  by step, {what} (CPU s; peak MB after the step; {run['imported_mb']:.0f} MB imported)"
    )
    for name, (cpu_s, peak_mb) in run["steps"].items():
        print(f"    {name:<58} {cpu_s:>7.2f} {peak_mb:>8.0f}")


def full_evidently(
    config: Config, current: pd.DataFrame, reference: pd.DataFrame
) -> tuple[float, float, dict[str, ColumnDrift], float]:
    """Evidently's drift tests on every row (no HTML): seconds, CPU seconds, columns, metric."""
    from tasks.adapters.evidently_report import compute_signals

    started, cpu = time.perf_counter(), time.process_time()
    signals = compute_signals(
        config, current, reference, current["prediction"].to_numpy(), "logged", None
    )
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    assert signals.performance is not None
    return elapsed, cpu_s, {c.column: c for c in signals.columns}, signals.performance.value


def profile_columns(
    config: Config, current: pd.DataFrame, reference: pd.DataFrame
) -> tuple[dict[str, ColumnDrift], float]:
    """Every row against the reference's profile (as registration stores it): columns, metric."""
    from tasks.adapters.evidently_report import compute_signals
    from tasks.core.profiles import build_profile, profile_from_bytes, profile_to_bytes

    profile = profile_from_bytes(profile_to_bytes(build_profile(reference, NUMERIC, CATEGORICAL)))
    signals = compute_signals(
        config,
        current,
        reference,
        current["prediction"].to_numpy(),
        "logged",
        None,
        profile=profile,
    )
    assert signals.performance is not None
    return {c.column: c for c in signals.columns}, signals.performance.value


def same_test(ours: ColumnDrift, evidently: ColumnDrift) -> bool:
    """The same method, threshold and flag."""
    return (ours.method, ours.threshold, ours.drifted) == (
        evidently.method,
        evidently.threshold,
        evidently.drifted,
    )


def relative_difference(ours: ColumnDrift, evidently: ColumnDrift) -> float:
    return abs(ours.score - evidently.score) / max(abs(evidently.score), 1e-300)


def random_shifts(rng: np.random.Generator) -> dict[str, float]:
    """Drift magnitudes spread over [0, 0.4] (std units / tilt), across the 0.1 threshold."""
    return {column: float(rng.uniform(0, 0.4)) for column in NUMERIC + CATEGORICAL}


def speed(rows: int, scratch: Path) -> None:
    rng = np.random.default_rng(0)
    log = scratch / "log"
    log.mkdir()
    shifts = random_shifts(rng)
    reference = make_frame(rows, rng, {}, START - timedelta(days=1))
    current = make_frame(rows, rng, shifts, START)
    current.to_parquet(log / "day-0.parquet", index=False, row_group_size=100_000)
    config = config_for(scratch, log, None)
    version = register_champion(config, reference, timed=True)
    # The first run draws and keeps the reference's report sample (as a version's first
    # monitor run does); the timed runs are the ones after it.
    run_monitor_child(config, scratch / "config.yaml", version, scratch / "warm")
    child = run_monitor_child(config, scratch / "config.yaml", version, scratch / "report")
    bare = run_monitor_child(config, scratch / "config.yaml", version, None)
    full_s, full_cpu, full, full_metric = full_evidently(config, current, reference)
    agree = sum(child["flags"][c] == full[c].drifted for c in full)
    print(f"\n1. Signals, {rows:,}-row window vs {rows:,}-row reference, 25 features, binary label")
    print(f"{'what':<64} {'seconds':>8} {'CPU s':>7} {'peak MB':>8}")
    for label, run in (
        ("monitor signals, every row tested, HTML reports on a sample", child),
        ("monitor signals, every row tested, no HTML reports", bare),
    ):
        print(f"{label:<64} {run['measure_s']:>8.1f} {run['cpu_s']:>7.1f} {run['peak_mb']:>8.0f}")
    print(
        f"{'  the first, with Python imports of prefect/pandas':<64} {child['with_imports_s']:>8.1f}"
    )
    print_steps(bare, "the run without HTML reports")
    print(
        f"{'Evidently, the drift tests on every row (in this process)':<64} {full_s:>8.1f} "
        f"{full_cpu:>7.1f}"
    )
    print(
        f"speed-up: {full_s / child['measure_s']:.1f}x wall, {full_cpu / child['cpu_s']:.1f}x CPU "
        f"(without HTML: {full_s / bare['measure_s']:.1f}x wall, {full_cpu / bare['cpu_s']:.1f}x "
        f"CPU); drift flags agree on {agree}/{len(full)} columns; "
        f"metric {child['performance']:.5f} vs {full_metric:.5f} on all rows "
        f"(difference {abs(child['performance'] - full_metric):.5f})"
    )


def agreement(rows: int, seeds: int) -> None:
    agree = total = 0
    worst_metric = worst_score = 0.0
    print(
        f"\n2. Agreement with Evidently on all rows ({rows:,} rows per side, every row tested "
        "against the reference profile, magnitudes U[0, 0.4])"
    )
    print(f"{'seed':>4} {'agree':>6} {'columns':>8} {'score rel. diff':>16} {'metric diff':>12}")
    for seed in range(seeds):
        rng = np.random.default_rng(100 + seed)
        reference = make_frame(rows, rng, {}, START - timedelta(days=1))
        current = make_frame(rows, rng, random_shifts(rng), START)
        with tempfile.TemporaryDirectory() as scratch:
            config = config_for(Path(scratch), Path(scratch), None)
            _, _, full, full_metric = full_evidently(config, current, reference)
            ours, metric = profile_columns(config, current, reference)
        same = sum(same_test(ours[c], full[c]) for c in full)
        score = max(relative_difference(ours[c], full[c]) for c in full)
        agree, total = agree + same, total + len(full)
        worst_metric = max(worst_metric, abs(metric - full_metric))
        worst_score = max(worst_score, score)
        print(
            f"{seed:>4} {same:>6} {len(full):>8} {score:>16.1e} {abs(metric - full_metric):>12.5f}"
        )
    print(
        f"all: {agree}/{total} columns agree ({agree / total:.1%}); largest relative score "
        f"difference {worst_score:.1e}; largest metric difference {worst_metric:.5f}"
    )


def history(window_rows: int, scratch: Path) -> None:
    """Monitoring the last window of a log of 5 windows against one of 50, with a monitoring
    history of as many past runs: reading, Evidently, the metric and the policy's history reads."""
    from tasks.core.policy import decide_retrain
    from tasks.core.windows import plan_windows, resolve_as_of
    from tasks.steps.monitoring import decide_on_history, window_signals
    from tasks.stores.data import load_window
    from tasks.stores.history import RunRecord
    from tasks.stores.resources import open_stores

    print(
        f"\n3. Monitoring the last window of a log ({window_rows:,} rows a window, one file a "
        "window, one past monitor run per earlier window)"
    )
    print(
        f"{'windows in the log':>18} {'rows in the log':>16} {'read s':>7} "
        f"{'monitor s':>10} {'history s':>10}  (medians of 3)"
    )
    rng = np.random.default_rng(7)
    frame = make_frame(window_rows, rng, {}, START)
    results = {}
    for windows in (5, 50):
        root = scratch / f"history-{windows}"
        log = root / "log"
        log.mkdir(parents=True)
        for day in range(windows):
            shifted = frame.assign(timestamp=frame["timestamp"] + pd.Timedelta(days=day))
            shifted.to_parquet(log / f"day-{day:03d}.parquet", index=False)
        base = config_for(root, log, None)
        as_of = START + timedelta(days=windows)
        config = base.model_copy(
            update={"windows": base.windows.model_copy(update={"as_of": as_of})}
        )
        version = register_champion(config, frame)
        window = plan_windows(config, resolve_as_of(config)).current
        stores = open_stores(config)  # as a flow run opens them: once
        store = stores.history
        signals = window_signals(
            config, stores, window, version, None
        )  # warm: imports, the reference sample
        decision = decide_retrain(signals, config.policy, [], as_of=as_of, champion=version)
        for day in range(1, windows):
            store.record(
                config.name,
                RunRecord(
                    START + timedelta(days=day), version, decision, "healthy", False, False, {}
                ),
            )
        reads, monitors, lookups = [], [], []
        for _ in range(3):
            started = time.perf_counter()
            load_window(config, window, source=stores.source)
            reads.append(time.perf_counter() - started)
            started = time.perf_counter()
            signals = window_signals(config, stores, window, version, None)
            measured = time.perf_counter()
            decide_on_history(config, stores, signals, as_of, version)  # the monitor's own step
            finished = time.perf_counter()
            monitors.append(finished - started)
            lookups.append(finished - measured)
        assert signals.current_rows == window_rows, signals.current_rows
        assert store.count(config.name) == windows - 1
        results[windows] = float(np.median(monitors))
        print(
            f"{windows:>18} {windows * window_rows:>16,} {np.median(reads):>7.3f} "
            f"{results[windows]:>10.2f} {np.median(lookups):>10.4f}"
        )
    print(f"ratio 50 / 5 windows, whole monitor step: {results[50] / results[5]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--agreement-rows", type=int, default=200_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--history-rows", type=int, default=100_000)
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {datetime.now():%Y-%m-%d %H:%M}, load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    with tempfile.TemporaryDirectory() as scratch:
        speed(args.rows, Path(scratch))
    agreement(args.agreement_rows, args.seeds)
    with tempfile.TemporaryDirectory() as scratch:
        history(args.history_rows, Path(scratch))
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
