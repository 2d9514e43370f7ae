"""The fleet file: strict keys with key-path errors, configs by list and glob, defaults merged
under each model's config, and broken members as errors instead of exceptions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tasks.config import (
    FileSourceConfig,
    FleetConfig,
    SqlSourceConfig,
    deep_merge,
    load_config,
    load_fleet,
)
from tasks.errors import ConfigError
from tests.helpers import DEMO_DATA, ROOT, repo_raw_config


def _write(path: Path, content: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


def _shared_defaults() -> dict[str, Any]:
    """The demo config without its name: what a fleet's models share."""
    raw = repo_raw_config()
    del raw["name"]
    raw["data"]["source"]["path"] = str(DEMO_DATA)
    raw["registry"]["path"] = "state/registry"  # relative: to the fleet file
    raw["reports"]["path"] = "state/reports"
    return raw


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Path:
    _write(tmp_path / "models" / "north.yaml", {"name": "north"})
    _write(
        tmp_path / "models" / "south.yaml",
        {"name": "south", "windows": {"as_of": "2013-10-01"}, "policy": {"drift_threshold": 0.3}},
    )
    return tmp_path


def test_members_come_from_the_glob_with_defaults_merged_under_each_config(fleet_dir: Path):
    fleet_path = _write(
        fleet_dir / "fleet.yaml", {"models": ["models/*.yaml"], "defaults": _shared_defaults()}
    )

    fleet = load_fleet(fleet_path)

    assert [member.name for member in fleet.members] == ["north", "south"]
    assert all(member.error is None for member in fleet.members)
    north, south = (load_config(member.config_path or "") for member in fleet.members)
    # The model's own keys win, key by key; the rest comes from the defaults.
    assert south.policy.drift_threshold == 0.3
    assert north.policy.drift_threshold == 0.5
    assert south.policy.performance_threshold == north.policy.performance_threshold == 0.45
    assert str(south.windows.as_of) == "2013-10-01 00:00:00"
    # Relative paths of the defaults are taken from the fleet file's directory.
    assert north.registry.path == fleet_dir / "state" / "registry"
    assert isinstance(north.data.source, FileSourceConfig)
    assert north.data.source.path == DEMO_DATA


def test_a_merged_config_reads_back_as_the_config_it_was_merged_into(fleet_dir: Path):
    defaults = _shared_defaults()
    fleet = load_fleet(
        _write(fleet_dir / "fleet.yaml", {"models": ["models/north.yaml"], "defaults": defaults})
    )
    direct = deep_merge(
        defaults, {"name": "north", "registry": {"path": str(fleet_dir / "state/registry")}}
    )
    direct["reports"]["path"] = str(fleet_dir / "state" / "reports")
    expected = _write(fleet_dir / "direct.yaml", direct)

    (member,) = fleet.members
    assert load_config(member.config_path or "") == load_config(expected)


def test_a_broken_or_missing_config_is_an_error_member_and_the_rest_are_ready(fleet_dir: Path):
    _write(fleet_dir / "models" / "typo.yaml", {"name": "typo", "polcy": {}})
    fleet_path = _write(
        fleet_dir / "fleet.yaml",
        {"models": ["models/*.yaml", "missing.yaml"], "defaults": _shared_defaults()},
    )

    fleet = load_fleet(fleet_path)

    errors = {member.name: member.error for member in fleet.members if member.error}
    assert [member.name for member in fleet.ready] == ["north", "south"]
    assert set(errors) == {"typo", "missing"}
    assert "polcy: unknown key" in (errors["typo"] or "")
    assert "model config not found" in (errors["missing"] or "")


def test_two_configs_with_one_model_name_keep_the_first_and_name_the_clash(fleet_dir: Path):
    _write(fleet_dir / "models" / "zz-copy.yaml", {"name": "north"})
    fleet = load_fleet(
        _write(
            fleet_dir / "fleet.yaml", {"models": ["models/*.yaml"], "defaults": _shared_defaults()}
        )
    )

    clash = [member for member in fleet.members if member.error]
    assert [member.source for member in clash] == [str(fleet_dir / "models" / "zz-copy.yaml")]
    assert "model name 'north' is already used by" in (clash[0].error or "")


def test_model_timeouts_set_single_models_and_the_rest_keep_model_timeout(fleet_dir: Path):
    fleet_path = _write(
        fleet_dir / "fleet.yaml",
        {
            "models": ["models/*.yaml"],
            "defaults": _shared_defaults(),
            "model_timeout": "20min",
            "model_timeouts": {"south": "2h"},
        },
    )

    settings = load_fleet(fleet_path).config

    assert settings.timeout_of("south") == timedelta(hours=2)
    assert settings.timeout_of("north") == timedelta(minutes=20)


def test_model_timeouts_naming_no_model_of_the_fleet_is_refused_naming_them(fleet_dir: Path):
    fleet_path = _write(
        fleet_dir / "fleet.yaml",
        {
            "models": ["models/*.yaml"],
            "defaults": _shared_defaults(),
            "model_timeouts": {"sotuh": "2h", "north": "5min"},
        },
    )

    with pytest.raises(ConfigError) as raised:
        load_fleet(fleet_path)

    assert str(raised.value) == (
        f"{fleet_path}: model_timeouts names sotuh, no model of this fleet (its models: north, "
        "south): use the models' names (config.yaml's name)"
    )


def test_a_glob_that_matches_nothing_is_an_error_of_the_fleet_file(tmp_path: Path):
    fleet_path = _write(tmp_path / "fleet.yaml", {"models": ["nowhere/*.yaml"]})
    with pytest.raises(ConfigError, match=r"models entry 'nowhere/\*\.yaml' matches no file"):
        load_fleet(fleet_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"models": ["a.yaml"], "runer": "dask"}, "runer: unknown key"),
        (
            {"models": ["a.yaml"], "runner": "ray"},
            "runner: Input should be 'dask' or 'deployments'",
        ),
        ({"models": []}, "models: List should have at least 1 item"),
        ({}, "models: required key is missing"),
        ({"models": ["a.yaml"], "max_parallel": 0}, "max_parallel: Input should be greater"),
        (
            {"models": ["a.yaml"], "model_timeout": "soon"},
            "model_timeout: 'soon' is not a duration",
        ),
        ({"models": ["a.yaml"], "model_timeout": "0s"}, "model_timeout: must be at least 1s"),
        (
            {"models": ["a.yaml"], "model_timeouts": {"a": "soon"}},
            "model_timeouts.a: 'soon' is not a duration",
        ),
        (
            {"models": ["a.yaml"], "model_timeouts": {"a": "soon"}},
            "model_timeouts.a: 'soon' is not a duration",
        ),
        ({"models": ["a.yaml"], "deployment": "loop"}, "deployment: String should match pattern"),
        (["a.yaml"], "expected a mapping of keys at the top level, got list"),
    ],
)
def test_a_bad_fleet_file_names_the_key_path(tmp_path: Path, content: Any, message: str):
    fleet_path = _write(tmp_path / "fleet.yaml", content)
    with pytest.raises(ConfigError) as raised:
        load_fleet(fleet_path)
    assert message in str(raised.value)
    assert str(fleet_path) in str(raised.value)


def test_every_fleet_key_is_described():
    undescribed = [
        name for name, field in FleetConfig.model_fields.items() if not field.description
    ]
    assert undescribed == []


def test_the_shipped_demo_fleet_has_three_ready_models():
    fleet = load_fleet(ROOT / "examples" / "fleet" / "fleet.yaml")
    assert [member.name for member in fleet.ready] == [
        "seattle-2013q3",
        "seattle-2014q1",
        "seattle-2015q1",
    ]
    assert fleet.config.runner == "dask"
    # Its outputs go under the project's .autoretrain/ (git ignores it, make clean removes it),
    # not into the source tree beside the example.
    project_outputs = ROOT / ".autoretrain"
    assert fleet.output_dir.resolve().is_relative_to(project_outputs)
    for member in fleet.ready:
        assert member.config_path is not None
        config = load_config(member.config_path)
        assert config.registry.path.resolve().is_relative_to(project_outputs)
        assert config.reports.path.resolve().is_relative_to(project_outputs)


def test_a_model_with_its_own_estimator_takes_none_of_the_default_params(fleet_dir: Path):
    _write(
        fleet_dir / "models" / "linear.yaml",
        {"name": "linear", "model": {"estimator": "sklearn.linear_model.LogisticRegression"}},
    )
    fleet = load_fleet(
        _write(
            fleet_dir / "fleet.yaml", {"models": ["models/*.yaml"], "defaults": _shared_defaults()}
        )
    )

    configs = {member.name: load_config(member.config_path or "") for member in fleet.members}
    assert configs["linear"].model.params == {}
    assert configs["north"].model.params["n_estimators"] == 100


def test_a_fleet_file_with_a_key_written_twice_is_refused_naming_the_lines(tmp_path: Path):
    fleet_path = tmp_path / "fleet.yaml"
    fleet_path.write_text(
        "models: [models/*.yaml]\nmax_parallel: 4\nrunner: dask\nmax_parallel: 40\n"
    )

    with pytest.raises(ConfigError) as raised:
        load_fleet(fleet_path)

    assert str(raised.value) == (
        f"{fleet_path}: key 'max_parallel' is written twice (lines 2 and 4): YAML would "
        "silently keep the later one; delete one of them"
    )


def test_a_key_written_twice_in_the_defaults_is_refused(tmp_path: Path):
    fleet_path = tmp_path / "fleet.yaml"
    fleet_path.write_text(
        "models: [a.yaml]\ndefaults:\n  policy:\n    drift_threshold: 0.3\n"
        "    drift_threshold: 0.5\n"
    )

    with pytest.raises(ConfigError, match=r"'defaults\.policy\.drift_threshold' is written twice"):
        load_fleet(fleet_path)


@pytest.mark.parametrize(
    ("encoding", "detail"),
    [("cp1252", "not UTF-8 text (byte 0xe9 on line 1)"), ("utf-16", "not UTF-8 text (it looks")],
)
def test_a_fleet_file_not_in_utf8_is_refused_naming_the_fix(
    tmp_path: Path, encoding: str, detail: str
):
    fleet_path = tmp_path / "fleet.yaml"
    fleet_path.write_bytes("# flotte météo\nmodels: [models/*.yaml]\n".encode(encoding))

    with pytest.raises(ConfigError) as raised:
        load_fleet(fleet_path)

    message = str(raised.value)
    assert message.startswith(f"{fleet_path}: {detail}")
    assert message.endswith("save it as UTF-8 (in most editors: Save As, encoding UTF-8)")


def test_a_model_config_with_a_key_written_twice_is_an_error_member(fleet_dir: Path):
    (fleet_dir / "models" / "twice.yaml").write_text("name: twice\nname: thrice\n")
    fleet = load_fleet(
        _write(
            fleet_dir / "fleet.yaml", {"models": ["models/*.yaml"], "defaults": _shared_defaults()}
        )
    )

    errors = {member.name: member.error for member in fleet.members if member.error}
    assert [member.name for member in fleet.ready] == ["north", "south"]
    assert errors == {
        "twice": f"{fleet_dir / 'models' / 'twice.yaml'}: key 'name' is written twice (lines 1 "
        "and 2): YAML would silently keep the later one; delete one of them"
    }


def test_a_fleet_file_that_is_not_yaml_names_the_line(tmp_path: Path):
    fleet_path = tmp_path / "fleet.yaml"
    fleet_path.write_text("models: [a.yaml\nrunner: dask\n")

    with pytest.raises(ConfigError) as raised:
        load_fleet(fleet_path)

    assert str(raised.value).startswith(f"{fleet_path}: not valid YAML on line ")


def test_relative_sqlite_urls_of_the_defaults_are_taken_from_the_fleet_file(fleet_dir: Path):
    defaults = _shared_defaults()
    defaults["data"]["source"] = {"kind": "sql", "url": "sqlite:///logs/log.db", "table": "t"}
    fleet = load_fleet(
        _write(fleet_dir / "fleet.yaml", {"models": ["models/north.yaml"], "defaults": defaults})
    )

    (member,) = fleet.members
    config = load_config(member.config_path or "")
    assert isinstance(config.data.source, SqlSourceConfig)
    assert config.data.source.url.reveal() == f"sqlite:///{fleet_dir / 'logs' / 'log.db'}"


def test_a_relative_sqlite_history_url_of_the_defaults_is_taken_from_the_fleet_file(
    fleet_dir: Path,
):
    # One history database for the whole fleet, named once in the defaults: each model's config
    # lives elsewhere (models/), so anchoring at the model's file would give it a database of its own.
    defaults = _shared_defaults()
    defaults["history"] = {"url": "sqlite:///state/history.db"}
    fleet = load_fleet(
        _write(fleet_dir / "fleet.yaml", {"models": ["models/north.yaml"], "defaults": defaults})
    )

    (member,) = fleet.members
    config = load_config(member.config_path or "")
    assert config.history.url is not None
    assert config.history.url.reveal() == f"sqlite:///{fleet_dir / 'state' / 'history.db'}"


def test_a_sql_source_url_reaches_the_merged_config_as_written_never_masked(
    fleet_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    # The merged config is what the model's run reads: a masked URL ('**********') there
    # fails every run; a value read from ${VARIABLE} must not be written to disk either.
    monkeypatch.setenv("AUTORETRAIN_TEST_WAREHOUSE", "postgresql+psycopg://u:pw@db/warehouse")
    sources = {
        "own": {"kind": "sql", "url": "sqlite:///own.db", "table": "t"},
        "variable": {"kind": "sql", "url": "${AUTORETRAIN_TEST_WAREHOUSE}", "table": "t"},
        "block": {"kind": "sql", "url": {"secret": "warehouse-url"}, "table": "t"},
    }
    for name, source in sources.items():
        _write(fleet_dir / "sql" / f"{name}.yaml", {"name": name, "data": {"source": source}})
    defaults = _shared_defaults()
    del defaults["data"]["source"]
    fleet = load_fleet(
        _write(fleet_dir / "fleet.yaml", {"models": ["sql/*.yaml"], "defaults": defaults})
    )

    assert [member.error for member in fleet.members] == [None, None, None]
    written = {
        member.name: yaml.safe_load(Path(member.config_path or "").read_text())["data"]["source"]
        for member in fleet.members
    }
    assert written["own"]["url"] == f"sqlite:///{fleet_dir / 'sql' / 'own.db'}"
    assert written["variable"]["url"] == "${AUTORETRAIN_TEST_WAREHOUSE}"
    assert written["block"]["url"] == {"secret": "warehouse-url"}
    own = load_config(next(m.config_path for m in fleet.members if m.name == "own") or "")
    assert isinstance(own.data.source, SqlSourceConfig)
    assert own.data.source.url.reveal() == f"sqlite:///{fleet_dir / 'sql' / 'own.db'}"


def test_a_history_url_reaches_the_merged_config_as_written_never_masked(
    fleet_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    # history.url (the shared PostgreSQL history of a fleet) was written masked: every model of
    # a fleet with one failed to load its merged config.
    monkeypatch.setenv("AUTORETRAIN_TEST_HISTORY", "postgresql+psycopg://u:hist-s3cret@db/history")
    urls = {"own": "sqlite:///own-history.db", "variable": "${AUTORETRAIN_TEST_HISTORY}"}
    for name, url in urls.items():
        _write(fleet_dir / "hist" / f"{name}.yaml", {"name": name, "history": {"url": url}})
    fleet = load_fleet(
        _write(
            fleet_dir / "fleet.yaml", {"models": ["hist/*.yaml"], "defaults": _shared_defaults()}
        )
    )

    assert [member.error for member in fleet.members] == [None, None]
    paths = {member.name: Path(member.config_path or "") for member in fleet.members}
    written = {name: yaml.safe_load(path.read_text())["history"] for name, path in paths.items()}
    assert written["own"]["url"] == f"sqlite:///{fleet_dir / 'hist' / 'own-history.db'}"
    assert written["variable"]["url"] == "${AUTORETRAIN_TEST_HISTORY}"
    assert "hist-s3cret" not in paths["variable"].read_text()
    variable = load_config(paths["variable"]).history.url
    assert variable is not None
    assert variable.reveal() == "postgresql+psycopg://u:hist-s3cret@db/history"


@pytest.mark.parametrize(
    ("workspace", "expected"),
    [
        ("state/dashboards", "{fleet}/state/dashboards"),  # a directory: from the fleet file
        ("http://evidently.internal:8000", "http://evidently.internal:8000"),  # a service
    ],
)
def test_the_shared_workspace_is_a_directory_beside_the_fleet_file_or_a_service(
    fleet_dir: Path, workspace: str, expected: str
):
    defaults = _shared_defaults()
    defaults["reports"]["workspace"] = workspace
    fleet = load_fleet(
        _write(fleet_dir / "fleet.yaml", {"models": ["models/*.yaml"], "defaults": defaults})
    )

    configs = [load_config(member.config_path or "") for member in fleet.members]

    assert [config.reports.workspace for config in configs] == [
        expected.format(fleet=fleet_dir)
    ] * 2
