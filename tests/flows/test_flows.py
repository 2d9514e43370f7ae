"""The flows end to end on the bundled real data, under a temporary Prefect server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import pickle
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows.monitor import bootstrap_champion, monitor_flow
from flows.promote import promote_flow
from flows.rollback import rollback_flow
from tasks.adapters.modeling import fit_model
from tasks.config import load_config
from tasks.core.windows import plan_bootstrap, plan_windows, resolve_as_of
from tasks.render.reporting import render_summary
from tasks.stores.data import load_window
from tasks.stores.demo import build_production_log
from tasks.stores.history import open_history
from tasks.stores.registry import LocalRegistry
from tasks.stores.resources import open_stores
from tests.helpers import make_lineage, read_artifact
from tests.reasons import params_of

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]


def _registry(config_path: Path) -> LocalRegistry:
    config = load_config(config_path)
    return LocalRegistry(config.registry.path, config.name)


def _artifact_keys(keys: list[str]) -> dict[str, int]:
    async def read() -> dict[str, int]:
        async with get_client() as client:
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys))
            )
        counts: dict[str, int] = {}
        for artifact in artifacts:
            assert artifact.key is not None  # the filter selects by key
            counts[artifact.key] = counts.get(artifact.key, 0) + 1
        return counts

    return asyncio.run(read())


def test_drifted_window_retrains_and_promotes_a_better_challenger(write_config, tmp_path):
    config_path = write_config({"registry": {"path": str(tmp_path / "registry")}})

    result = monitor_flow(str(config_path))

    # No champion at first: the 2012 model was bootstrapped on the quarter after its training.
    assert result.bootstrap is not None and result.bootstrap.verdict == "promote"
    assert result.champion_before == "v0001"
    # The 2014 Q1 window has drifted from 2012 and the old labelling makes the champion fail.
    assert result.signals.drift_share >= 0.5
    assert {"temp_max", "temp_min"} <= set(result.signals.drifted_columns)
    assert result.signals.performance is not None
    assert result.signals.performance.value < 0.45
    assert result.decision.retrain
    # A fresh registry has no history, so nothing is confirmed yet: the run retrains because
    # the breach is severe (below severe_performance_threshold), which skips confirmation.
    assert result.decision.breaches.severe
    assert "severe performance breach: confirmation skipped" in result.decision.reasons
    assert result.decision.labelled_period == ("2014-01-01 00:00", "2014-03-31 00:00")
    # The challenger, trained on the 180 days before the holdout, wins clearly and is promoted.
    comparison = result.comparison
    assert comparison is not None and comparison.verdict == "promote"
    assert comparison.champion is not None and comparison.champion.version == "v0001"
    assert comparison.challenger.score is not None and comparison.champion.score is not None
    assert comparison.challenger.score - comparison.champion.score >= 0.02
    # 0.81 vs 0.14 macro F1 on 89 rows: clear even at the interval's lower bound.
    assert comparison.interval is not None and comparison.interval.lower >= 0.02
    assert comparison.holdout_rows == 89
    assert all(guard.passed for guard in comparison.guards) and len(comparison.guards) == 6
    assert not comparison.challenger.trained_on_holdout
    assert result.status == "promoted" and result.champion_after == "v0002"

    registry = _registry(config_path)
    assert registry.get_alias("champion") == "v0002"
    assert registry.get_alias("challenger") is None
    assert registry.get_version("v0001").status == "retired"
    saved = registry.load_comparison(comparison.comparison_id)
    assert saved["verdict"] == "promote" and saved["challenger"]["version"] == "v0002"
    assert saved["interval"]["lower"] == comparison.interval.lower  # the numbers behind it too
    lineage = registry.get_version("v0002")
    assert lineage.training_window == {"start": "2013-07-05T00:00:00", "end": "2014-01-01T00:00:00"}
    assert lineage.training_rows == len(registry.load_reference("v0002")) > 150
    assert [entry.action for entry in registry.history()] == [
        "register",
        "promote",
        "promote",
        "register",
        "promote",
        "promote",
    ]
    for report in result.signals.report_paths:
        assert Path(report).stat().st_size > 100_000
    verdict = read_artifact("seattle-weather-comparison-verdict")
    assert verdict is not None and isinstance(verdict.data, str)
    assert "Promote v0002 over v0001: on the same 89 rows it is better by" in verdict.data
    assert "| difference | ok |  | +0.6644 | [+0." in verdict.data
    assert "| log loss | ok |" in verdict.data
    counts = _artifact_keys(["seattle-weather-comparison", "seattle-weather-monitor-summary"])
    assert counts.get("seattle-weather-comparison", 0) >= 2  # bootstrap and retrain
    assert counts.get("seattle-weather-monitor-summary", 0) >= 1


def test_a_second_run_right_after_a_promotion_is_held_by_the_cooldown(write_config, tmp_path):
    # retrain_on_drift: true, so the drift alone would retrain (the default, when-harmful,
    # finds it harmless: tests/flows/test_cli.py) and the cooldown is what holds it.
    config_path = write_config(
        {"registry": {"path": str(tmp_path / "registry")}, "policy": {"retrain_on_drift": True}}
    )
    assert monitor_flow(str(config_path)).status == "promoted"

    second = monitor_flow(str(config_path))

    # The new champion sees seasonal drift against its spring-summer training data, but the
    # same window (the config's fixed as_of) already retrained: no retrain is wasted on it.
    assert second.champion_before == "v0002"
    assert second.decision.action == "cooldown"
    assert second.status == "cooldown"
    assert params_of(second.decision.reason_codes, "cooldown-same-window") == {
        "as_of": "2014-04-01T00:00:00"
    }
    assert [v.version for v in _registry(config_path).list_versions()] == ["v0001", "v0002"]
    config = load_config(config_path)
    with sqlite3.connect(config.registry.path / "history.sqlite") as connection:
        rows = connection.execute(
            "SELECT champion, decision, status, retrained, promoted, runs FROM monitor_runs"
        ).fetchall()
    # One record of the window: the rerun's measurement, with the promotion the first made.
    assert rows == [("v0002", "cooldown", "cooldown", 1, 1, 2)]
    assert second.rerun is not None
    assert second.rerun.startswith(
        "rerun of the window ending 2014-04-01 00:00: this run replaces its record"
    )
    assert "champion v0001, decision retrain, status promoted" in second.rerun
    assert "the window keeps its retrain and promotion" in second.rerun
    assert f"rerun       {second.rerun}" in render_summary(second)


def test_a_rerun_of_the_same_window_does_not_confirm_its_own_breach(write_config, tmp_path):
    # The quarter after the bootstrap's holdout: the 2012 champion breaches (f1 0.216, above
    # the severe 0.20), which needs 2 of the last 3 windows. A retried job or a rerun by hand
    # of the same window is the same rows again: it must not confirm the breach.
    config_path = write_config({"registry": {"path": str(tmp_path / "registry")}})

    first = monitor_flow(str(config_path), as_of="2013-06-30")
    rerun = monitor_flow(str(config_path), as_of="2013-06-30")

    assert first.decision.action == "unconfirmed" and first.rerun is None
    assert rerun.decision.action == "unconfirmed"
    assert rerun.status == "unconfirmed"
    unconfirmed = params_of(
        rerun.decision.reason_codes, "breach-not-confirmed", signal="performance"
    )
    assert (unconfirmed["signal"], unconfirmed["seen"], unconfirmed["looked"]) == (
        "performance",
        1,
        1,
    )
    assert (unconfirmed["breaches"], unconfirmed["runs"]) == (2, 3)
    assert rerun.rerun is not None and "decision unconfirmed" in rerun.rerun
    assert [v.version for v in _registry(config_path).list_versions()] == ["v0001"]
    (row,) = open_history(tmp_path / "registry").rows("seattle-weather")
    assert (row["decision"], row["retrained"], row["runs"]) == ("unconfirmed", 0, 2)


def test_healthy_window_triggers_nothing(write_config, tmp_path):
    # A model of 2014 watching 2015: the same labelling, a full seasonal cycle on both sides.
    config_path = write_config(
        {
            "registry": {"path": str(tmp_path / "registry")},
            "policy": {"performance_threshold": 0.35},
            "windows": {"as_of": "2016-01-01", "current": "365d", "holdout": "365d"},
            "bootstrap": {"training_start": "2014-01-01", "training_end": "2015-01-01"},
        }
    )

    result = monitor_flow(str(config_path))

    assert result.status == "healthy"
    assert result.decision.action == "none"
    assert result.signals.drift_share < 0.5
    assert result.signals.performance is not None and result.signals.performance.value >= 0.35
    assert result.comparison is None
    registry = _registry(config_path)
    assert [v.version for v in registry.list_versions()] == ["v0001"]
    assert registry.get_alias("champion") == "v0001"


def test_a_broken_dashboard_is_reported_and_the_decision_stands(write_config, tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "workspace").write_text("a file where the Evidently workspace should be")
    config_path = write_config(
        {
            "registry": {"path": str(tmp_path / "registry")},
            "reports": {"path": str(reports)},
            "policy": {"performance_threshold": 0.35},
            "windows": {"as_of": "2016-01-01", "current": "365d", "holdout": "365d"},
            "bootstrap": {"training_start": "2014-01-01", "training_end": "2015-01-01"},
        }
    )

    result = monitor_flow(str(config_path))

    assert result.status == "healthy"
    assert result.dashboard is not None and not result.dashboard.updated
    assert "dashboard   NOT updated: cannot write the Evidently workspace " in render_summary(
        result
    )
    assert "(the decision stands)" in render_summary(result)
    rows = open_history(tmp_path / "registry").rows("seattle-weather")
    assert [row["status"] for row in rows] == ["healthy"]


def _register_shuffled_challenger(config_path: Path) -> str:
    config = load_config(config_path)
    plan = plan_windows(config, resolve_as_of(config))
    training = load_window(config, plan.training, labelled_only=True)
    shuffled = training.assign(
        weather=np.random.default_rng(0).permutation(training["weather"].to_numpy())
    )
    registry = _registry(config_path)
    record = registry.register(
        fit_model(config, shuffled),
        shuffled,
        make_lineage(
            estimator=config.model.estimator,
            training_window=plan.training.to_dict(),
            training_rows=len(shuffled),
            data_fingerprint="shuffled",
            source="test: shuffled labels",
            reason="deliberately worse",
        ),
    )
    registry.set_alias("challenger", record.version, reason="test", action="register")
    return record.version


def test_worse_challenger_is_rejected_and_rollback_restores_the_previous_champion(
    write_config, tmp_path
):
    config_path = write_config({"registry": {"path": str(tmp_path / "registry")}})
    assert monitor_flow(str(config_path)).champion_after == "v0002"
    registry = _registry(config_path)
    history_before = registry.history()

    worse = _register_shuffled_challenger(config_path)
    outcome = promote_flow(str(config_path), challenger_version=worse)

    assert outcome.status == "rejected"
    assert outcome.comparison is not None
    assert outcome.comparison.verdict == "reject"
    assert outcome.comparison.interval is not None
    assert outcome.comparison.interval.upper < 0.02
    assert any("so the improvement is not shown" in reason for reason in outcome.comparison.reasons)
    assert registry.get_alias("champion") == "v0002"
    assert registry.get_alias("challenger") is None
    assert registry.get_version(worse).status == "rejected"
    assert all(entry.alias != "champion" for entry in registry.history()[len(history_before) :])

    # A holdout with no labelled rows at all (years after the log ends) cannot promote anything.
    another = _register_shuffled_challenger(config_path)
    empty = promote_flow(str(config_path), as_of="2030-01-01", challenger_version=another)

    assert empty.status == "rejected"
    assert empty.comparison is not None
    assert empty.comparison.verdict == "insufficient-evidence"
    assert empty.comparison.holdout_rows == 0
    assert params_of(empty.comparison.reason_codes, "insufficient-evidence") == {
        "holdout_rows": 0,
        "min_holdout_rows": 30,
    }
    assert registry.get_alias("champion") == "v0002"

    message = rollback_flow(str(config_path), reason="test rollback", actor="on-call")

    assert message == (
        "champion of seattle-weather: v0002 -> v0001 (rollback by on-call: test rollback)"
    )
    assert registry.get_alias("champion") == "v0001"
    last = registry.history()[-1]
    assert (last.action, last.from_version, last.to_version, last.reason, last.actor) == (
        "rollback",
        "v0002",
        "v0001",
        "test rollback",
        "on-call",
    )


def test_the_demo_bootstraps_the_same_champion_from_a_sqlite_copy_of_its_log(
    write_config, tmp_path
):
    # DataFrame.to_sql through sqlite3 stores '2012-01-01 00:00:00': the windows compared it
    # with '2012-01-01 00:00:00.000000' and became (start, end], so the first champion lost
    # 2012-01-01, trained on the holdout's first day and scored 0.414 instead of 0.496.
    with contextlib.closing(sqlite3.connect(tmp_path / "warehouse.sqlite")) as connection:
        build_production_log().to_sql("weather_log", connection, index=False)
    sql_source = {"kind": "sql", "url": "sqlite:///warehouse.sqlite", "table": "weather_log"}
    champions = {}
    for name, source in (("files", {}), ("sql", {**sql_source, "path": None, "format": None})):
        config_path = write_config(
            {"data": {"source": source}, "registry": {"path": f"registry-{name}"}},
            name=f"{name}.yaml",
        )
        config = load_config(config_path)
        stores = open_stores(config)
        comparison = bootstrap_champion(str(config_path), resolve_as_of(config), stores)
        assert comparison is not None and comparison.verdict == "promote", name
        champions[name] = (comparison, stores.registry.get_version("v0001"))

    (files, files_version), (sql, sql_version) = champions["files"], champions["sql"]
    assert sql_version.training_window == files_version.training_window
    assert sql_version.training_window["start"] == "2012-01-01T00:00:00"
    assert sql_version.training_rows == files_version.training_rows
    assert (sql.holdout_rows, sql.holdout_window) == (files.holdout_rows, files.holdout_window)
    assert sql.challenger.score == pytest.approx(files.challenger.score, abs=1e-12)


def test_own_data_in_sqlite_with_other_column_names_and_an_adopted_model(write_config, tmp_path):
    # A user's log in a SQL table, with their own column names and their own pickled model.
    log = build_production_log().rename(
        columns={"timestamp": "event_time", "weather": "label", "wind": "wind_speed"}
    )
    log["region"] = np.where(log["temp_max"] > 15, "warm", "cold")  # a categorical feature
    database = tmp_path / "production.sqlite"
    with sqlite3.connect(database) as connection:
        log.to_sql("predictions_log", connection, index=False)
    overrides = {
        "data": {
            "source": {
                "kind": "sql",
                "url": "sqlite:///production.sqlite",
                "table": "predictions_log",
                "path": None,
                "format": None,
            },
            "timestamp_column": "event_time",
            "target_column": "label",
            "numerical_features": ["precipitation", "temp_max", "temp_min", "wind_speed"],
            "categorical_features": ["region"],
        },
        "registry": {"path": "registry"},
        "bootstrap": {"model_path": "my_model.pkl"},
        "promotion": {"slices": {"columns": ["region"], "min_rows": 20}},
    }
    config_path = write_config(overrides)
    config = load_config(config_path)
    bootstrap_training = plan_bootstrap(config, resolve_as_of(config)).training
    own_model = fit_model(config, load_window(config, bootstrap_training, labelled_only=True))
    (tmp_path / "my_model.pkl").write_bytes(pickle.dumps(own_model))

    result = monitor_flow(str(config_path))

    registry = _registry(config_path)
    assert registry.get_version("v0001").source.startswith("adopted from")
    assert "region" in {column.column for column in result.signals.columns}
    assert result.status == "promoted"
    assert result.comparison is not None
    judged = [s for s in result.comparison.slices if s.judged]
    assert judged and {s.column for s in judged} == {"region"}
    assert sum(s.rows for s in result.comparison.slices) == result.comparison.holdout_rows
    assert not any(s.regressed for s in judged)
    assert json.loads((registry.root / "aliases.json").read_text()) == {"champion": "v0002"}
