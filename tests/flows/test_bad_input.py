"""Bad input, table-driven: every case fails with a message naming the problem and the fix,
and leaves the registry (aliases, history, versions, comparisons) byte-for-byte unchanged.

Add a case by adding a row: an id, what to break, what to run, and the message expected.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from flows.backtest import backtest_flow
from flows.monitor import monitor_flow
from flows.promote import promote_flow
from flows.retrain import retrain_flow
from flows.rollback import rollback_flow
from tasks.adapters.modeling import fit_model
from tasks.config import load_config
from tasks.core.windows import Window, resolve_as_of
from tasks.errors import AutoretrainError, ConfigError, DataError, ModelError, RegistryError
from tasks.steps.commands import installed_command
from tasks.stores import data as data_module
from tasks.stores import resources
from tasks.stores.data import load_window
from tasks.stores.registry import LocalRegistry, model_directory
from tests.helpers import DEMO_DATA, ROOT, make_lineage, merge, repo_raw_config
from tests.processes import session_api_url

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

MODEL_NAME = "seattle-weather"


def snapshot(root: Path) -> dict[str, str]:
    """Every file of the registry by its SHA-256, but the lock and the drift sample cache.

    reference-sample-*.parquet is a seeded sample of the (digest-checked) reference data that
    monitoring computes once and keeps next to it: a cache, rebuilt on demand, not state.
    """
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != ".lock" and not path.name.startswith("reference-sample-")
    }


@pytest.fixture(scope="module")
def champion_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry whose champion v0001 was trained on 2012, as the demo bootstraps it."""
    root = tmp_path_factory.mktemp("template") / "registry"
    config = load_config(ROOT / "config.yaml")
    training = load_window(
        config, Window(datetime(2012, 1, 1), datetime(2013, 1, 1)), labelled_only=True
    )
    registry = LocalRegistry(root, MODEL_NAME)
    record = registry.register(
        fit_model(config, training),
        training[["timestamp", *config.data.features, "weather"]],
        make_lineage(
            estimator=config.model.estimator,
            params=dict(config.model.params),
            training_rows=len(training),
            source="trained",
            reason="test champion",
            features=config.data.features,
        ),
    )
    registry.set_alias("champion", record.version, reason="test", action="promote")
    registry.mark(record.version, "champion")
    return root


@dataclass
class Workspace:
    """One case's copy of the demo data, registry and config."""

    root: Path
    data: Path
    registry: Path
    overrides: dict[str, Any] = field(default_factory=dict)

    def config(self) -> Path:
        base = merge(
            repo_raw_config(),
            {
                "data": {"source": {"path": str(self.data)}},
                "registry": {"path": str(self.registry)},
                "reports": {"path": str(self.root / "reports")},
            },
        )
        path = self.root / "config.yaml"
        path.write_text(yaml.safe_dump(merge(base, self.overrides), sort_keys=False))
        return path

    def rewrite_year(self, year: int, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
        path = self.data / f"weather-{year}.parquet"
        change(pd.read_parquet(path)).to_parquet(path, index=False)

    def rewrite_all(self, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
        for year in (2012, 2013, 2014, 2015):
            self.rewrite_year(year, change)

    def version_file(self, name: str) -> Path:
        return model_directory(self.registry, MODEL_NAME) / "versions" / "v0001" / name


@pytest.fixture
def workspace(tmp_path: Path, champion_registry: Path) -> Workspace:
    data = tmp_path / "data"
    shutil.copytree(DEMO_DATA, data)
    registry = tmp_path / "registry"
    shutil.copytree(champion_registry, registry)
    return Workspace(tmp_path, data, registry)


# -- what to break ---------------------------------------------------------------------------
def _set_rows(
    column: str, value: Any, start: str, end: str
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        inside = (frame["timestamp"] >= start) & (frame["timestamp"] < end)
        frame[column] = frame[column].astype(object)
        frame.loc[inside, column] = value
        return frame

    return change


def missing_column(ws: Workspace) -> None:
    ws.rewrite_all(lambda f: f.drop(columns=["wind"]))


def renamed_target(ws: Workspace) -> None:
    ws.rewrite_all(lambda f: f.rename(columns={"weather": "label"}))


def text_in_numeric(ws: Workspace) -> None:
    # With the data-quality checks on (the default) this is a DATA-ISSUE decision, not an error
    # (tests/flows/test_data_quality.py); without them the run cannot predict on the column.
    as_text = _set_rows("temp_max", "warm", "2014-02-01", "2014-02-03")
    ws.rewrite_all(lambda f: as_text(f).astype({"temp_max": str}))
    ws.overrides = {"data_quality": {"enabled": False}}


def text_in_one_file(ws: Workspace) -> None:
    as_text = _set_rows("temp_max", "warm", "2014-02-01", "2014-02-03")
    ws.rewrite_year(2014, lambda f: as_text(f).astype({"temp_max": str}))


def text_in_training_target(ws: Workspace) -> None:
    as_text = _set_rows("temp_max", "warm", "2013-10-01", "2013-10-03")
    ws.rewrite_all(lambda f: as_text(f).astype({"temp_max": str}))


def empty_current_column(ws: Workspace) -> None:
    # With the data-quality checks on (the default) this is a DATA-ISSUE decision, not an error
    # (tests/flows/test_data_quality.py); without them the drift tests refuse the column.
    ws.rewrite_year(2014, lambda f: f.assign(wind=float("nan")))
    ws.overrides = {"data_quality": {"enabled": False}}


def empty_training_column(ws: Workspace) -> None:
    ws.rewrite_year(2013, lambda f: f.assign(wind=float("nan")))


def single_class_training(ws: Workspace) -> None:
    ws.rewrite_year(2013, _set_rows("weather", "sun", "2013-01-01", "2014-01-01"))


def future_rows(ws: Workspace) -> None:
    log = pd.read_parquet(ws.data / "weather-2014.parquet").head(10)
    log["timestamp"] = pd.date_range("2099-12-01", periods=10, freq="D").astype("datetime64[us]")
    log.to_parquet(ws.data / "weather-2099.parquet", index=False)
    ws.overrides = {"windows": {"as_of": "2100-01-01"}}


def renamed_labels(ws: Workspace) -> None:
    french = {"sun": "soleil", "rain": "pluie", "fog": "brouillard", "drizzle": "bruine"}
    ws.rewrite_year(2014, lambda f: f.assign(weather=f["weather"].map(french)))


def labels_of_another_type(ws: Workspace) -> None:
    ws.rewrite_all(lambda f: f.assign(weather=f["weather"].map({"sun": 1}).fillna(0).astype(int)))


def corrupt_parquet(ws: Workspace) -> None:
    (ws.data / "weather-2016.parquet").write_bytes(b"PAR1 this is not a parquet file")


def link_outside(ws: Workspace) -> None:
    outside = ws.root / "elsewhere.parquet"
    shutil.copy(ws.data / "weather-2015.parquet", outside)
    (ws.data / "weather-2016.parquet").symlink_to(outside)


def missing_data_directory(ws: Workspace) -> None:
    shutil.rmtree(ws.data)


def csv_without_files(ws: Workspace) -> None:
    ws.overrides = {"data": {"source": {"format": "csv"}}}


def csv_timestamps_not_dates(ws: Workspace) -> None:
    for parquet in ws.data.glob("*.parquet"):
        frame = pd.read_parquet(parquet)
        frame["timestamp"] = frame["timestamp"].astype(str)
        if "2014" in parquet.name:
            frame.loc[3, "timestamp"] = "the third of january"
        frame.to_csv(parquet.with_suffix(".csv"), index=False)
    ws.overrides = {"data": {"source": {"format": "csv"}}}


def sql_without_table(ws: Workspace) -> None:
    with sqlite3.connect(ws.root / "log.sqlite") as connection:
        connection.execute("create table other (x int)")
    ws.overrides = {
        "data": {
            "source": {"kind": "sql", "url": "sqlite:///log.sqlite", "table": "weather_log"}
            | {"path": None, "format": None}
        }
    }


def unreachable_source(ws: Workspace) -> None:
    ws.overrides = {"data": {"read_retries": {"attempts": 2, "backoff_seconds": 0}}}


def model_missing(ws: Workspace) -> None:
    ws.version_file("model.pkl").unlink()


def model_truncated(ws: Workspace) -> None:
    path = ws.version_file("model.pkl")
    path.write_bytes(path.read_bytes()[:1000])


def model_swapped(ws: Workspace) -> None:
    from sklearn.dummy import DummyClassifier

    other = DummyClassifier().fit([[0, 0, 0, 0]], ["sun"])
    ws.version_file("model.pkl").write_bytes(pickle.dumps(other))


def reference_swapped(ws: Workspace) -> None:
    path = ws.version_file("reference.parquet")
    pd.read_parquet(path).head(50).to_parquet(path, index=False)


def metadata_damaged(ws: Workspace) -> None:
    ws.version_file("metadata.json").write_text("{ not json")


def aliases_damaged(ws: Workspace) -> None:
    (model_directory(ws.registry, MODEL_NAME) / "aliases.json").write_text('{"champion": ')


def version_of_another_model(ws: Workspace) -> None:
    """The champion's metadata names another model: copied in by hand, or left by a shared path."""
    path = ws.version_file("metadata.json")
    path.write_text(json.dumps({**json.loads(path.read_text()), "model_name": "weather-a"}))


def _add_version_of(model_name: str, versions: Path) -> None:
    """Copy v0001 as v0002 whose metadata names another model."""
    shutil.copytree(versions / "v0001", versions / "v0002")
    path = versions / "v0002" / "metadata.json"
    record = json.loads(path.read_text())
    path.write_text(
        json.dumps({**record, "version": "v0002", "model_name": model_name, "status": "registered"})
    )


def version_of_another_model_beside(ws: Workspace) -> None:
    """v0002 beside the champion belongs to weather-a: a promotion or rollback must refuse it."""
    _add_version_of("weather-a", model_directory(ws.registry, MODEL_NAME) / "versions")


def registry_mixing_two_models(ws: Workspace) -> None:
    """The layout before namespaces, shared by two models: weather-b's v0002 beside v0001."""
    namespace = model_directory(ws.registry, MODEL_NAME)
    for entry in namespace.iterdir():
        entry.rename(ws.registry / entry.name)
    namespace.rmdir()
    (ws.registry / "models").rmdir()
    _add_version_of("weather-b", ws.registry / "versions")


def nothing(ws: Workspace) -> None:
    """Break nothing: the run's own arguments are the bad input."""


# -- what to run -----------------------------------------------------------------------------
def monitor(ws: Workspace) -> Any:
    return monitor_flow(str(ws.config()))


def retrain(ws: Workspace) -> Any:
    return retrain_flow(str(ws.config()))


def promote_version(version: str) -> Callable[[Workspace], Any]:
    def run(ws: Workspace) -> Any:
        return promote_flow(str(ws.config()), challenger_version=version)

    return run


def monitor_at(as_of: str) -> Callable[[Workspace], Any]:
    def run(ws: Workspace) -> Any:
        return monitor_flow(str(ws.config()), as_of=as_of)

    return run


def retrain_at(as_of: str) -> Callable[[Workspace], Any]:
    def run(ws: Workspace) -> Any:
        return retrain_flow(str(ws.config()), as_of=as_of)

    return run


def retrain_with(overrides: dict[str, Any]) -> Callable[[Workspace], Any]:
    def run(ws: Workspace) -> Any:
        ws.overrides = merge(ws.overrides, overrides)
        return retrain(ws)

    return run


def config_with(overrides: dict[str, Any]) -> Callable[[Workspace], Any]:
    def run(ws: Workspace) -> Any:
        ws.overrides = merge(ws.overrides, overrides)
        return load_config(ws.config())

    return run


def rollback_to(version: str) -> Callable[[Workspace], Any]:
    def run(ws: Workspace) -> Any:
        return rollback_flow(str(ws.config()), to_version=version, reason="test")

    return run


def missing_config(ws: Workspace) -> Any:
    return monitor_flow(str(ws.root / "no-such-config.yaml"))


def monitor_config_saved_as(encoding: str) -> Callable[[Workspace], Any]:
    def run(ws: Workspace) -> Any:
        path = ws.config()
        path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))
        return monitor_flow(str(path))

    return run


def monitor_config_with_line_after(line: str, added: str) -> Callable[[Workspace], Any]:
    def run(ws: Workspace) -> Any:
        path = ws.config()
        text = path.read_text(encoding="utf-8")
        assert f"\n{line}\n" in text
        path.write_text(text.replace(f"\n{line}\n", f"\n{line}\n{added}\n", 1))
        return monitor_flow(str(path))

    return run


# The demo log with a regressor of temp_max (the merge removes keys set to None).
REGRESSOR: dict[str, Any] = {
    "model": {"estimator": "sklearn.linear_model.Ridge", "params": None},
    "data": {
        "target_column": "temp_max",
        "numerical_features": ["precipitation", "temp_min", "wind"],
    },
    "policy": {
        "performance_metric": {"name": "mae", "average": None},
        "performance_threshold": 3.0,
        "severe_performance_threshold": None,
    },
}


@dataclass(frozen=True)
class Case:
    id: str
    breaks: Callable[[Workspace], None]
    runs: Callable[[Workspace], Any]
    error: type[AutoretrainError]
    message: tuple[str, ...]


CASES = [
    # configuration
    Case(
        "config-unknown-key",
        nothing,
        config_with({"policy": {"drift_treshold": 0.4}}),
        ConfigError,
        ("policy.drift_treshold: unknown key",),
    ),
    Case(
        "config-wrong-type",
        nothing,
        config_with({"policy": {"min_labelled_rows": "many"}}),
        ConfigError,
        ("policy.min_labelled_rows:", "valid integer"),
    ),
    Case(
        "config-threshold-out-of-range",
        nothing,
        config_with({"policy": {"drift_threshold": 1.5}}),
        ConfigError,
        ("policy.drift_threshold:", "less than or equal to 1"),
    ),
    Case(
        "config-negative-threshold",
        nothing,
        config_with({"policy": {"performance_threshold": -0.1}}),
        ConfigError,
        ("policy.performance_threshold:", "greater than or equal to 0"),
    ),
    Case(
        "config-missing-file",
        nothing,
        missing_config,
        ConfigError,
        ("config file not found", "--config PATH"),
    ),
    Case(
        "config-unknown-estimator",
        nothing,
        config_with({"model": {"estimator": "sklearn.ensemble.RandomForestClassifer"}}),
        ConfigError,
        ("model.estimator:", "has no 'RandomForestClassifer'"),
    ),
    Case(
        "config-estimator-not-allowed",
        nothing,
        config_with({"model": {"estimator": "subprocess.Popen"}}),
        ConfigError,
        ("module 'subprocess' is not allowed", "model.allowed_modules"),
    ),
    Case(
        "config-features-overlap-target",
        nothing,
        config_with({"data": {"target_column": "wind"}}),
        ConfigError,
        ("['wind'] cannot be both a feature and the timestamp, target",),
    ),
    Case(
        "config-bad-duration",
        nothing,
        config_with({"windows": {"current": "3 months"}}),
        ConfigError,
        ("windows.current:", "write it like 90d"),
    ),
    Case(
        "config-saved-as-utf16",
        nothing,
        monitor_config_saved_as("utf-16"),
        ConfigError,
        ("not UTF-8 text (it looks like UTF-16)", "save it as UTF-8"),
    ),
    Case(
        "config-duplicate-key",
        nothing,
        monitor_config_with_line_after(
            "  performance_threshold: 0.45", "  performance_threshold: 0.9"
        ),
        ConfigError,
        ("key 'policy.performance_threshold' is written twice (lines", "delete one of them"),
    ),
    Case(
        "config-bad-as-of",
        nothing,
        monitor_at("first of april"),
        ConfigError,
        ("as_of 'first of april' is not an ISO date",),
    ),
    Case(
        "config-params-do-not-fit",
        nothing,
        retrain_with({"model": {"params": {"n_trees": 3}}}),
        ConfigError,
        ("model.params.n_trees: not a parameter of RandomForestClassifier", "n_estimators"),
    ),
    Case(
        "config-param-bad-value",
        nothing,
        retrain_with({"model": {"params": {"n_estimators": "many"}}}),
        ConfigError,
        ("model.params.n_estimators: must be an int", "got 'many'"),
    ),
    # data
    Case(
        "data-missing-column",
        missing_column,
        monitor,
        DataError,
        ("columns ['wind'] are not in", "Fix the column names"),
    ),
    Case(
        "data-renamed-target",
        renamed_target,
        retrain,
        DataError,
        ("columns ['weather'] are not in", "'label'"),
    ),
    Case(
        "data-text-in-numeric-column",
        text_in_numeric,
        monitor,
        DataError,
        ("numerical feature 'temp_max'", "'warm'", "categorical_features"),
    ),
    Case(
        "data-all-nan-current-column",
        empty_current_column,
        monitor,
        DataError,
        ("['wind'] are entirely empty in the current window", "remove them from the features"),
    ),
    Case(
        "data-all-nan-training-column",
        empty_training_column,
        retrain,
        DataError,
        ("['wind'] are empty in all", "labelled training rows"),
    ),
    Case(
        "data-empty-current-window",
        nothing,
        monitor_at("2020-01-01"),
        DataError,
        ("the current window has no rows", "windows.as_of"),
    ),
    Case(
        "data-empty-training-window",
        nothing,
        retrain_at("2020-01-01"),
        ModelError,
        ("no labelled rows to train on", "windows.training"),
    ),
    Case(
        "data-single-class-training",
        single_class_training,
        retrain,
        ModelError,
        ("1 class(es) of 'weather'", "check the labels"),
    ),
    Case(
        "data-future-timestamps",
        future_rows,
        monitor,
        DataError,
        ("10 rows of", "stamped in the future", "windows.as_of"),
    ),
    Case(
        "data-labels-outside-classes",
        renamed_labels,
        monitor,
        DataError,
        (
            "labels ['brouillard', 'soleil'] in the current window",
            "champion v0001",
            "none of the labels is",
            "flows/retrain.py",
        ),
    ),
    Case(
        "data-labels-of-another-type",
        labels_of_another_type,
        monitor,
        DataError,
        ("labels ['0', '1']", "1 is not '1'"),
    ),
    Case(
        "data-corrupt-parquet-file",
        corrupt_parquet,
        monitor,
        DataError,
        ("not Parquet", "data.source.path"),
    ),
    Case(
        "data-link-outside-directory",
        link_outside,
        monitor,
        DataError,
        ("['weather-2016.parquet']", "outside that directory"),
    ),
    Case(
        "data-missing-directory",
        missing_data_directory,
        monitor,
        DataError,
        ("data directory not found", "data.source.path"),
    ),
    Case(
        "data-no-files-of-format",
        csv_without_files,
        monitor,
        DataError,
        ("no *.csv files", "data.source.format"),
    ),
    Case(
        "data-timestamps-not-dates",
        csv_timestamps_not_dates,
        monitor,
        DataError,
        ("timestamp column 'timestamp'", "not dates"),
    ),
    Case(
        "data-sql-table-missing",
        sql_without_table,
        monitor,
        DataError,
        ("no table 'weather_log'", "data.source.table"),
    ),
    Case(
        "data-source-keeps-failing",
        unreachable_source,
        monitor,
        DataError,
        ("after 2 attempt(s)", "data.read_retries.attempts"),
    ),
    # models and registry
    Case(
        "model-file-missing",
        model_missing,
        monitor,
        ModelError,
        ("model file of v0001 is missing",),
    ),
    Case(
        "model-file-truncated",
        model_truncated,
        monitor,
        ModelError,
        ("does not match its registered SHA-256", "refusing to load it", "roll back"),
    ),
    Case(
        "model-file-swapped",
        model_swapped,
        monitor,
        ModelError,
        ("does not match its registered SHA-256",),
    ),
    Case(
        "reference-data-swapped",
        reference_swapped,
        monitor,
        RegistryError,
        ("reference data of v0001 does not match", "refusing to measure drift"),
    ),
    Case(
        "metadata-damaged",
        metadata_damaged,
        monitor,
        RegistryError,
        ("metadata of v0001 is unreadable", "roll back"),
    ),
    Case(
        "aliases-damaged",
        aliases_damaged,
        monitor,
        RegistryError,
        ("aliases.json is unreadable", "tasks.cli.registry verify"),
    ),
    Case(
        "registry-champion-of-another-model",
        version_of_another_model,
        monitor,
        RegistryError,
        ("version v0001", "belongs to model 'weather-a', not to 'seattle-weather'"),
    ),
    Case(
        "registry-promote-another-models-version",
        version_of_another_model_beside,
        promote_version("v0002"),
        RegistryError,
        ("version v0002", "belongs to model 'weather-a', not to 'seattle-weather'"),
    ),
    Case(
        "registry-rollback-to-another-models-version",
        version_of_another_model_beside,
        rollback_to("v0002"),
        RegistryError,
        ("version v0002", "belongs to model 'weather-a', not to 'seattle-weather'"),
    ),
    Case(
        "registry-mixing-two-models",
        registry_mixing_two_models,
        monitor,
        RegistryError,
        (
            "mixes versions of 2 models",
            "'seattle-weather': v0001; 'weather-b': v0002",
            "models/NAME/versions",
        ),
    ),
    Case(
        "config-name-escapes-registry",
        nothing,
        config_with({"name": "../weather-a"}),
        ConfigError,
        ("name: String should match pattern",),
    ),
    Case(
        "event-version-escapes-registry",
        nothing,
        promote_version("../../etc"),
        RegistryError,
        ("'../../etc' is not a version id",),
    ),
    Case(
        "event-version-unknown",
        nothing,
        promote_version("v0099"),
        RegistryError,
        ("no model version v0099",),
    ),
    # regressors
    Case(
        "config-regressor-with-f1",
        nothing,
        config_with({"model": {"estimator": "sklearn.linear_model.Ridge", "params": None}}),
        ConfigError,
        (
            "policy.performance_metric.name: 'f1' is a classification metric",
            "sklearn.linear_model.Ridge is a regressor: use one of mae, rmse",
        ),
    ),
    Case(
        "config-classifier-with-rmse",
        nothing,
        config_with(
            {
                "policy": {
                    "performance_metric": {"name": "rmse"},
                    "performance_threshold": 3.0,
                    "severe_performance_threshold": None,
                }
            }
        ),
        ConfigError,
        ("'rmse' is a regression metric", "RandomForestClassifier is a classifier"),
    ),
    Case(
        "config-mape-without-floor",
        nothing,
        config_with(merge(REGRESSOR, {"policy": {"performance_metric": {"name": "mape"}}})),
        ConfigError,
        ("policy.performance_metric:", "mape needs floor"),
    ),
    Case(
        "config-error-severe-threshold-below",
        nothing,
        config_with(merge(REGRESSOR, {"policy": {"severe_performance_threshold": 2.0}})),
        ConfigError,
        ("must be above performance_threshold", "(lower is better)"),
    ),
    Case(
        "data-regressor-with-a-text-target",
        nothing,
        retrain_with(merge(REGRESSOR, {"data": {"target_column": "weather"}})),
        DataError,
        ("target column 'weather' must be numbers", "needs a numeric target"),
    ),
    Case(
        "data-text-in-a-regression-target",
        text_in_training_target,
        retrain_with(REGRESSOR),
        DataError,
        ("target column 'temp_max' must be numbers", "'warm'"),
    ),
]


class _DeadSource:
    def read(self, columns: list[str], window: Window) -> pd.DataFrame:
        raise data_module.TransientReadError("OperationalError: connection refused")

    def describe(self) -> str:
        return "a database that is down"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_fails_clearly_and_changes_nothing(
    case: Case, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    case.breaks(workspace)
    if case.breaks is unreachable_source:
        # The run's stores make its source (tasks.stores.resources), once.
        monkeypatch.setattr(resources, "make_source", lambda data: _DeadSource())
    before = snapshot(workspace.registry)

    with pytest.raises(case.error) as caught:
        case.runs(workspace)

    for fragment in case.message:
        assert fragment in str(caught.value)
    assert snapshot(workspace.registry) == before


@pytest.mark.parametrize(
    "flow",
    [monitor_flow, retrain_flow, promote_flow, rollback_flow, backtest_flow],
    ids=lambda f: f.name,
)
def test_deployment_run_refuses_a_config_outside_the_project(
    flow: Any, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Triggers take config_path from an event's payload: it must not lead outside the project.
    from tasks.orchestration import runtime as orchestration

    monkeypatch.setattr(orchestration, "_deployment_id", lambda: "a-deployment")
    monkeypatch.chdir(ROOT)
    outside = workspace.config()  # in a temporary directory, not under the project
    before = snapshot(workspace.registry)

    with pytest.raises(ConfigError) as caught:
        flow(str(outside))

    assert "is outside the project directory" in str(caught.value)
    assert snapshot(workspace.registry) == before
    orchestration.check_config_path("config.yaml")  # the project's own config is fine


def test_the_table_holds_at_least_25_cases() -> None:
    assert len(CASES) >= 25
    assert len({case.id for case in CASES}) == len(CASES)


# -- the same through the command line: exit 2, the message on stderr, nothing changed ----------
@pytest.mark.parametrize(
    ("breaks", "script", "expected"),
    [
        (missing_column, "monitor.py", "columns ['wind'] are not in"),
        (model_truncated, "monitor.py", "does not match its registered SHA-256"),
        (single_class_training, "retrain.py", "1 class(es) of 'weather'"),
    ],
    ids=["missing-column", "truncated-model", "single-class"],
)
def test_cli_exits_2_with_the_message_and_changes_nothing(
    workspace: Workspace, breaks: Callable[[Workspace], None], script: str, expected: str
) -> None:
    breaks(workspace)
    config_path = workspace.config()
    before = snapshot(workspace.registry)
    env = {**os.environ, "PREFECT_API_URL": session_api_url()}

    run = subprocess.run(
        [sys.executable, str(ROOT / "flows" / script), "--config", str(config_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode == 2, run.stderr[-3000:]
    assert expected in run.stderr
    assert snapshot(workspace.registry) == before


def _closed_port() -> int:
    """A local port nothing listens on: bound, read, then released."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_cli_with_an_unreachable_prefect_api_exits_2_in_one_line(workspace: Workspace) -> None:
    # The likeliest mistake after stopping `prefect server start`: PREFECT_API_URL still set.
    url = f"http://127.0.0.1:{_closed_port()}/api"
    config_path = workspace.config()
    before = snapshot(workspace.registry)

    run = subprocess.run(
        [sys.executable, str(ROOT / "flows" / "monitor.py"), "--config", str(config_path)],
        env={**os.environ, "PREFECT_API_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode == 2, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        f"error: cannot reach the Prefect API at {url} (PREFECT_API_URL): start that server "
        f"({installed_command('prefect')} server start), or unset PREFECT_API_URL to run with a "
        "temporary local one"
    ]
    assert snapshot(workspace.registry) == before


def test_as_of_resolution_rejects_garbage_without_a_flow() -> None:
    with pytest.raises(ConfigError, match="is not an ISO date"):
        resolve_as_of(load_config(ROOT / "config.yaml"), "tomorrow")
