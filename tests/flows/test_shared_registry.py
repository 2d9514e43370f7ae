"""Two models on one registry path, configured as a new user would: they differ in name and
estimator and keep the same registry.path. Each gets its own champion, whether they run in turn
or at the same time in separate processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from flows.monitor import monitor_flow
from flows.promote import promote_flow
from flows.retrain import retrain_flow
from tasks.config import load_config
from tasks.stores.history import open_history
from tasks.stores.registry import LocalRegistry, list_models
from tests.helpers import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

A, B = "weather-a", "weather-b"
FOREST = "sklearn.ensemble.RandomForestClassifier"
LOGISTIC = "sklearn.linear_model.LogisticRegression"


@pytest.fixture
def two_configs(tmp_path: Path, write_config: Callable[..., Path]) -> tuple[Path, Path]:
    """weather-a (a random forest) and weather-b (a logistic regression), one registry.path."""
    shared = {
        "registry": {"path": str(tmp_path / "registry")},
        "reports": {"path": str(tmp_path / "reports")},
    }
    a = write_config({**shared, "name": A}, name="a.yaml")
    b = write_config({**shared, "name": B}, name="b.yaml")
    for path in (a, b):
        raw = yaml.safe_load(path.read_text())
        if path == b:
            raw["model"] = {"estimator": LOGISTIC, "params": {"max_iter": 2000}}
            # A linear model scores f1 ~0.29 on the demo's bootstrap holdout: a lower floor.
            raw["policy"]["performance_threshold"] = 0.25
            raw["policy"]["severe_performance_threshold"] = 0.1
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return a, b


def _registry(config_path: Path) -> LocalRegistry:
    config = load_config(config_path)
    return LocalRegistry(config.registry.path, config.name)


def _assert_independent(a_config: Path, b_config: Path) -> None:
    """Each model's versions, champion, alias history and monitoring history are its own."""
    registry_path = load_config(a_config).registry.path
    assert list_models(registry_path) == [A, B]
    history = open_history(registry_path)
    for config_path, name, estimator in ((a_config, A, FOREST), (b_config, B, LOGISTIC)):
        registry = _registry(config_path)
        assert registry.verify().ok, registry.verify().problems
        versions = registry.list_versions()
        assert versions and {v.model_name for v in versions} == {name}
        assert {v.estimator for v in versions} == {estimator}
        champion = registry.get_alias("champion")
        assert champion is not None
        assert registry.get_version(champion).status == "champion"
        assert (
            registry.load_model(champion).steps[-1][1].__class__.__name__
            == (estimator.rsplit(".", 1)[1])
        )
        moved = {e.to_version for e in registry.history()} | {
            e.from_version for e in registry.history()
        }
        assert moved - {None} <= {v.version for v in versions}
        # Every monitor run of this model measured one of its own champions.
        runs = history.rows(name)
        assert runs and {run["champion"] for run in runs} <= {v.version for v in versions}
        assert history.rows(name)[-1]["champion"] in {v.version for v in versions}


def test_two_models_on_one_path_monitored_retrained_and_promoted_in_turn(
    two_configs: tuple[Path, Path],
) -> None:
    a, b = two_configs

    first_a = monitor_flow(str(a))
    first_b = monitor_flow(str(b))

    # weather-b did not take weather-a's champion: it bootstrapped a first one of its own.
    assert first_a.bootstrap is not None and first_b.bootstrap is not None
    assert (first_a.champion_before, first_b.champion_before) == ("v0001", "v0001")
    assert _registry(b).get_version("v0001").estimator == LOGISTIC
    assert first_a.comparison is not None
    assert first_a.status == "promoted", first_a.comparison.reasons
    assert first_a.champion_after == "v0002"

    # Each retrains and is judged against its own champion, in turn.
    for config_path in (a, b):
        champion = _registry(config_path).get_alias("champion")
        started = retrain_flow(str(config_path), None, "second round")
        assert started.version is not None
        outcome = promote_flow(str(config_path), None, started.version)
        assert outcome.status in {"promoted", "rejected"}
        assert outcome.comparison is not None and outcome.comparison.champion is not None
        assert outcome.comparison.champion.version == champion

    _assert_independent(a, b)
    assert _registry(a).get_alias("champion") != "v0001"  # promoted past its bootstrap


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Flow processes of a test; any still running at its end (a failed assertion) is killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_two_models_on_one_path_monitored_at_the_same_time_in_two_processes(
    two_configs: tuple[Path, Path], processes: list[subprocess.Popen[str]]
) -> None:
    from prefect.settings import PREFECT_API_URL

    environment = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
    }
    for config_path in two_configs:
        processes.append(
            subprocess.Popen(
                [sys.executable, str(ROOT / "flows" / "monitor.py"), "--config", str(config_path)],
                cwd=ROOT,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [process.communicate(timeout=600) for process in processes]

    assert [p.returncode for p in processes] == [0, 0], [err[-3000:] for _, err in outputs]
    for out, _ in outputs:
        assert "No champion was registered: bootstrapped one." in out
    _assert_independent(*two_configs)
