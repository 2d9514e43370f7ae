"""Shared helpers of the tests: the repo's config.yaml as a dict or a Config, with overrides."""

from __future__ import annotations

import copy
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pandas as pd
import yaml
from sklearn.dummy import DummyClassifier
from sklearn.tree import DecisionTreeClassifier

from tasks.config import Config, parse_config
from tasks.core.frames import fingerprint_frame
from tasks.stores.registry import Lineage, LocalRegistry

if TYPE_CHECKING:
    import pytest
    from prefect.client.schemas.objects import Artifact as ArtifactResponse

    from tasks.core.policy import TriggerDecision

ROOT = REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DATA = REPO_ROOT / "data" / "seattle"
REMOVE = object()  # an override value that deletes the key
# Tests about the loop set the timed latency guard aside (a config override, merged): it judges
# predictions of a few ms timed on busy cores, and can still reject a better challenger at random,
# if rarely now that a slow verdict is timed again (docs/benchmarks.md). The guard's rule is
# tested on fixed numbers (tests/core/test_gate.py), its timing in tests/steps/test_promotion.py.
LATENCY_GUARD_ASIDE: dict[str, Any] = {"promotion": {"guards": {"latency_ratio": 1000}}}


def repo_raw_config(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The repo's config.yaml as parsed YAML, with dotted-path overrides applied.

    `{"policy.drift_threshold": 0}` sets a value; `{"policy.drift_threshold": REMOVE}` deletes it.
    """
    raw = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    for dotted, value in (changes or {}).items():
        *parents, key = dotted.split(".")
        node = raw
        for part in parents:
            node = node[part]
        if value is REMOVE:
            del node[key]
        else:
            node[key] = copy.deepcopy(value)
    return raw


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge overrides into a copy of base; a None value removes the key."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def repo_config(changes: dict[str, Any] | None = None, base_dir: Path = REPO_ROOT) -> Config:
    """A validated Config from the repo's config.yaml with overrides; relative paths from base_dir."""
    return parse_config(repo_raw_config(changes), base_dir)


class TrustedClassifier(DummyClassifier):
    """A classifier outside scikit-learn's modules, for the allow-list tests."""


def demo_log_in_sqlite(directory: Path, table: str = "weather_log") -> str:
    """Write the demo's production log (data/seattle/*.parquet) to a SQLite file; its URL."""
    url = f"sqlite:///{directory / 'warehouse.db'}"
    demo_log_to_sql(url, table)
    return url


def demo_log_to_sql(url: str, table: str = "weather_log") -> None:
    """Write the demo's production log (data/seattle/*.parquet) to a table of a SQL database."""
    import pandas as pd
    import sqlalchemy as sa

    log = pd.concat(
        [pd.read_parquet(f) for f in sorted(DEMO_DATA.glob("*.parquet"))], ignore_index=True
    )
    engine = sa.create_engine(url)
    try:
        log.to_sql(table, engine, index=False)
    finally:
        engine.dispose()


def make_decision(**changes: Any) -> TriggerDecision:
    """A TriggerDecision for tests: a retrain on a drift and severe performance breach, with
    `changes` to any field (breaches given as a Breaches)."""
    from tasks.core.policy import Breaches, TriggerDecision

    values: dict[str, Any] = {
        "action": "retrain",
        "reasons": ("because",),
        "breaches": Breaches(drift=True, prediction_drift=None, performance=True, severe=True),
        "drift_share": 0.5,
        "drift_threshold": 0.5,
        "prediction_drift_score": None,
        "performance": 0.3,
        "performance_threshold": 0.45,
        "severe_performance_threshold": 0.2,
        "labelled_rows": 80,
        "labelled_period": None,
        "current_rows": 90,
        "confirmed": ("performance",),
        "last_retrain_as_of": None,
    }
    return TriggerDecision(**{**values, **changes})


class HangingClassifier(DummyClassifier):
    """A classifier whose fit never ends (in short sleeps, so a timeout can interrupt it)."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> NoReturn:
        import time

        while True:
            time.sleep(0.05)


def make_lineage(**given: Any) -> Lineage:
    """The lineage of a version a test registers by hand: what it gives, placeholders elsewhere."""
    placeholders: dict[str, Any] = {
        "estimator": "sklearn.tree.DecisionTreeClassifier",
        "params": {},
        "training_window": {"start": "2012-01-01T00:00:00", "end": "2013-01-01T00:00:00"},
        "training_rows": 1,
        "data_fingerprint": "test",
        "metrics": {},
        "code_version": "test",
        "source": "test",
        "reason": "test",
    }
    return Lineage(**{**placeholders, **given})


def register_demo_champions(
    registry_path: Path, count: int, name: str = "seattle-weather", reason: str = "test"
) -> LocalRegistry:
    """A registry of count real trees on the demo log's 2012 rows (depths 1..count), each made
    champion in turn as a promotion leaves them: the last one is the champion."""
    registry = LocalRegistry(registry_path, name)
    reference = pd.read_parquet(DEMO_DATA / "weather-2012.parquet").dropna()
    features = ["precipitation", "temp_max", "temp_min", "wind"]
    for depth in range(1, count + 1):
        model = DecisionTreeClassifier(max_depth=depth, random_state=0)
        model.fit(reference[features], reference["weather"])
        record = registry.register(
            model,
            reference,
            make_lineage(
                params={"max_depth": depth, "random_state": 0},
                training_rows=len(reference),
                data_fingerprint=fingerprint_frame(reference),
                source="trained",
                reason=reason,
                features=features,
            ),
        )
        registry.set_alias("champion", record.version, reason=reason, action="promote")
        registry.mark(record.version, "champion")
    return registry


def read_artifact(key: str) -> ArtifactResponse | None:
    """The newest Prefect artifact of a key, or None (Artifact.get outside an event loop)."""
    from prefect.artifacts import Artifact

    artifact = Artifact.get(key)
    assert not isinstance(artifact, Coroutine), "Artifact.get ran in an event loop"
    return artifact


def task_run_names(flow_run_ids: list[Any]) -> list[str]:
    """The names of the task runs of these flow runs, without Prefect's suffix, sorted."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=flow_run_ids))
        )
    return sorted(run.name.rsplit("-", 1)[0] for run in runs)


def record_tls_contexts(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The TLS contexts built from now on (`ssl.create_default_context`'s arguments, one entry a
    context), while the test runs: a Prefect client reading the CA bundle shows up here."""
    import ssl

    built: list[object] = []
    real = ssl.create_default_context

    def recorded(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(args or kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", recorded)
    return built
