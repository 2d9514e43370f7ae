"""The policy's targets, measured with the backtest flow: run `python benchmarks/backtest.py`.

1. Demo data, default config.yaml: the policy vs retrain every window (mean metric, retrains)
   and vs a fixed schedule with the same number of retrains.
2. A stationary stream (river's SEA generator, one concept): retrains in 20 windows.
3. A stream with a known concept change (river's ConceptDriftStream, SEA threshold 8 -> 9.5):
   detection delay in windows and days after the change.
4. Covariate-only drift (SEA, one concept, rows drawn ever more from high x0 + x1): the
   label-free estimate's error, and retrain_on_drift true vs when-harmful.
"""

from __future__ import annotations

import itertools
import os
import platform
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.backtest import backtest_flow  # noqa: E402
from tasks.orchestration.local import local_run_settings  # noqa: E402
from tasks.steps.backtest import BacktestResult  # noqa: E402

ROWS_PER_DAY = 50
STREAM_START = datetime(2020, 1, 1)
BOOTSTRAP_DAYS = 28
HOLDOUT_DAYS = 14
WINDOW_DAYS = 7
WINDOWS = 20


def _stream_frame(stream: Any, days: int) -> pd.DataFrame:
    rows = []
    for index, (features, label) in enumerate(itertools.islice(stream, days * ROWS_PER_DAY)):
        moment = STREAM_START + timedelta(days=index / ROWS_PER_DAY)
        rows.append({"timestamp": moment, **{f"x{k}": v for k, v in features.items()}, "y": label})
    return pd.DataFrame(rows)


def _stream_config(directory: Path, frame: pd.DataFrame) -> Path:
    """A config for a generated stream: same policy guards as config.yaml, accuracy thresholds."""
    (directory / "data").mkdir(parents=True, exist_ok=True)
    frame.to_parquet(directory / "data" / "stream.parquet", index=False)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config.update(
        {
            "name": "sea-stream",
            "data": {
                "source": {"kind": "files", "path": str(directory / "data"), "format": "parquet"},
                "timestamp_column": "timestamp",
                "target_column": "y",
                "numerical_features": ["x0", "x1", "x2"],
            },
            "windows": {
                "as_of": None,
                "current": f"{WINDOW_DAYS}d",
                "holdout": f"{HOLDOUT_DAYS}d",
                "training": f"{BOOTSTRAP_DAYS}d",
            },
            "bootstrap": {
                "training_start": STREAM_START.isoformat(),
                "training_end": (STREAM_START + timedelta(days=BOOTSTRAP_DAYS)).isoformat(),
            },
            "registry": {"path": str(directory / "registry")},
            "reports": {"path": str(directory / "reports")},
        }
    )
    config["policy"].update(
        {
            "performance_metric": {"name": "accuracy"},
            "performance_threshold": 0.9,
            "severe_performance_threshold": 0.75,
            "cooldown": f"{2 * WINDOW_DAYS}d",
        }
    )
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _row(scenario: str, result: BacktestResult, name: str, note: str = "") -> dict[str, Any]:
    strategy = result.get(name)
    mean = strategy.mean_metric
    return {
        "scenario": scenario,
        "strategy": name,
        "windows": len(strategy.outcomes),
        "mean metric": "n/a" if mean is None else f"{mean:.4f}",
        "retrains": strategy.retrains,
        "promotions": strategy.promotions,
        # mean |label-free estimate - realised metric| over the windows (n/a: no estimate)
        "estimate error": "n/a"
        if strategy.estimate_error is None
        else f"{strategy.estimate_error:.3f}",
        "note": note,
    }


def demo(work: Path) -> list[dict[str, Any]]:
    step = "30d"
    result = backtest_flow(
        str(ROOT / "config.yaml"),
        step=step,
        output=str(work / "demo"),
        strategies=["policy", "never", "every-window"],
    )
    policy, every = result.get("policy"), result.get("every-window")
    windows = len(every.outcomes)
    share = (policy.mean_metric or 0) / (every.mean_metric or 1)
    rows = [
        _row(
            "demo (30d windows)",
            result,
            "policy",
            f"{share:.1%} of every-window mean; {policy.retrains / windows:.0%} of its retrains",
        ),
        _row("demo (30d windows)", result, "every-window"),
    ]
    # "Every k windows" rarely lands on exactly the policy's count: run the two schedules that
    # bracket it (floor(W/k) retrains just above and at or below the policy's).
    low = max(1, windows // max(policy.retrains, 1))
    for k in sorted({low, low + 1}):
        fixed = backtest_flow(
            str(ROOT / "config.yaml"),
            step=step,
            every=k,
            output=str(work / f"demo-fixed-{k}"),
            strategies=["fixed"],
        )
        schedule = fixed.get(f"fixed-every-{k}")
        difference = (policy.mean_metric or 0) - (schedule.mean_metric or 0)
        rows.append(
            _row(
                "demo (30d windows)", fixed, f"fixed-every-{k}", f"policy - it = {difference:+.4f}"
            )
        )
    rows.append(_row("demo (30d windows)", result, "never"))
    return rows


def stationary(work: Path) -> list[dict[str, Any]]:
    from river.datasets import synth

    days = BOOTSTRAP_DAYS + HOLDOUT_DAYS + WINDOWS * WINDOW_DAYS + 1  # the last window whole
    frame = _stream_frame(synth.SEA(variant=0, seed=7), days)
    config = _stream_config(work / "stationary", frame)
    result = backtest_flow(
        str(config), output=str(work / "stationary" / "out"), strategies=["policy"]
    )
    return [_row("stationary SEA stream", result, "policy", "target: <= 1 retrain")]


def concept_change(work: Path) -> list[dict[str, Any]]:
    from river.datasets import synth

    days = BOOTSTRAP_DAYS + HOLDOUT_DAYS + WINDOWS * WINDOW_DAYS + 1  # the last window whole
    change_day = BOOTSTRAP_DAYS + HOLDOUT_DAYS + 8 * WINDOW_DAYS + 3  # mid-window 8
    stream = synth.ConceptDriftStream(
        stream=synth.SEA(variant=0, seed=7),
        drift_stream=synth.SEA(variant=3, seed=8),
        position=change_day * ROWS_PER_DAY,
        width=ROWS_PER_DAY,  # about one day; NOTES.md: width below position/177 overflows
        seed=9,
    )
    frame = _stream_frame(stream, days)
    config = _stream_config(work / "drift", frame)
    result = backtest_flow(
        str(config), output=str(work / "drift" / "out"), strategies=["policy", "never"]
    )
    change = STREAM_START + timedelta(days=change_day)
    fired = [o for o in result.get("policy").fired if o.window.end > change]
    if fired:
        first = fired[0]
        change_window = next(
            o.index for o in result.get("policy").outcomes if o.window.end > change
        )
        delay = (
            f"change {change:%Y-%m-%d} (window {change_window}); fired after window "
            f"{first.index}: delay {first.index - change_window} windows, "
            f"{(first.window.end - change).days} days"
        )
    else:
        delay = f"change {change:%Y-%m-%d}; never fired after it"
    early = [o.index for o in result.get("policy").fired if o.window.end <= change]
    return [
        _row(
            "SEA 8 -> 9.5 at a known point",
            result,
            "policy",
            delay + (f"; fired before the change at {early}" if early else ""),
        ),
        _row("SEA 8 -> 9.5 at a known point", result, "never"),
    ]


def covariate_shift(work: Path) -> list[dict[str, Any]]:
    """One concept throughout; after the first champion's holdout, each day's rows are drawn
    from a pool of SEA rows with weight exp(s * (x0 + x1 - 10) / 5), s rising from 0 to 1.5, so
    the features drift and the labels keep their relation to them."""
    from river.datasets import synth

    days = BOOTSTRAP_DAYS + HOLDOUT_DAYS + WINDOWS * WINDOW_DAYS + 1  # the last window whole
    pool = _stream_frame(synth.SEA(variant=0, seed=7), 4 * days).drop(columns="timestamp")
    rng = np.random.default_rng(0)
    stable = BOOTSTRAP_DAYS + HOLDOUT_DAYS
    parts = []
    for day in range(days):
        strength = 0.0 if day < stable else 1.5 * (day - stable) / (days - stable)
        weights = np.exp(strength * (pool["x0"] + pool["x1"] - 10) / 5).to_numpy()
        chosen = rng.choice(len(pool), size=ROWS_PER_DAY, p=weights / weights.sum())
        part = pool.iloc[chosen].reset_index(drop=True)
        part.insert(
            0,
            "timestamp",
            [STREAM_START + timedelta(days=day + k / ROWS_PER_DAY) for k in range(ROWS_PER_DAY)],
        )
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    rows = []
    for mode in (True, "when-harmful"):
        directory = work / f"covariate-{mode}"
        config = _stream_config(directory, frame)
        raw = yaml.safe_load(config.read_text())
        raw["policy"]["retrain_on_drift"] = mode
        config.write_text(yaml.safe_dump(raw, sort_keys=False))
        strategies = ["policy", "never"] if mode is True else ["policy"]
        result = backtest_flow(str(config), output=str(directory / "out"), strategies=strategies)
        rows.append(
            _row(
                "covariate-only drift (SEA)",
                result,
                "policy",
                f"retrain_on_drift: {str(mode).lower()}; target: estimate error <= 0.03",
            )
        )
        if mode is True:
            rows.append(_row("covariate-only drift (SEA)", result, "never"))
    return rows


def main() -> int:
    with (
        local_run_settings(),  # a busy machine starts the temporary server slowly
        tempfile.TemporaryDirectory(prefix="autoretrain-backtest-") as scratch,
    ):
        work = Path(scratch)
        rows = demo(work) + stationary(work) + concept_change(work) + covariate_shift(work)
    headers = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in headers]
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}"
    )
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(
            "| "
            + " | ".join(str(row[h]).ljust(w) for h, w in zip(headers, widths, strict=True))
            + " |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
