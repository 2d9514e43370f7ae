"""Config loading: the repo's config is valid, and every mistake names its key path."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tasks.config import (
    ApprovalConfig,
    FileSourceConfig,
    SqlSourceConfig,
    load_config,
    parse_config,
)
from tasks.errors import ConfigError
from tests.helpers import REMOVE, REPO_ROOT, TrustedClassifier, repo_config, repo_raw_config


def _write_config(directory: Path, raw: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _config_error(changes: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(repo_raw_config(changes), REPO_ROOT)
    return str(caught.value)


def test_repo_config_loads_with_its_values() -> None:
    config = load_config(REPO_ROOT / "config.yaml")

    assert config.name == "seattle-weather"
    assert isinstance(config.data.source, FileSourceConfig)
    assert config.data.source.path == REPO_ROOT / "data" / "seattle"
    assert config.data.source.format == "parquet"
    assert config.data.features == ["precipitation", "temp_max", "temp_min", "wind"]
    assert config.data.target_column == "weather"
    assert config.model.estimator == "sklearn.ensemble.RandomForestClassifier"
    assert config.policy.performance_metric.describe() == "f1 (macro)"
    assert config.policy.performance_threshold == 0.45
    assert config.policy.drift_threshold == 0.5
    assert config.windows.as_of == datetime(2014, 4, 1)
    assert config.windows.current == timedelta(days=90)
    assert config.windows.training == timedelta(days=180)
    assert config.promotion.min_improvement == 0.02
    assert (config.promotion.confidence, config.promotion.resamples, config.promotion.seed) == (
        0.95,
        2000,
        0,
    )
    assert config.promotion.guards.log_loss == 0.25
    assert config.promotion.slices.columns == []
    assert config.promotion.approval.required is False
    assert config.promotion.approval.bootstrap is False
    assert config.promotion.approval.timeout == timedelta(hours=24)
    assert config.bootstrap.training_start == datetime(2012, 1, 1)
    assert config.registry.path == REPO_ROOT / ".autoretrain" / "registry"
    assert config.reports.path == REPO_ROOT / ".autoretrain" / "reports"


@pytest.mark.parametrize(
    ("changes", "key_path"),
    [
        ({"colour": "blue"}, "colour"),
        ({"policy.drift_treshold": 0.5}, "policy.drift_treshold"),
        ({"data.source.compression": "zstd"}, "data.source.compression"),
        ({"policy.performance_metric.averge": "macro"}, "policy.performance_metric.averge"),
        ({"windows.currrent": "90d"}, "windows.currrent"),
        ({"promotion.guards.recal": 0.05}, "promotion.guards.recal"),
        ({"promotion.approval.timout": "1h"}, "promotion.approval.timout"),
    ],
)
def test_unknown_key_names_its_path(changes: dict[str, Any], key_path: str) -> None:
    message = _config_error(changes)

    assert f"  {key_path}: unknown key" in message
    assert message.startswith(f"{REPO_ROOT / 'config.yaml'}: invalid configuration")


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        (
            {"policy.performance_threshold": 1.5},
            ["policy.performance_threshold:", "less than or equal to 1"],
        ),
        ({"policy.drift_threshold": 0}, ["policy.drift_threshold:", "greater than 0"]),
        (
            {"windows.current": "ninety days"},
            ["windows.current:", "'ninety days' is not a duration", "90d"],
        ),
        ({"windows.current": "0d"}, ["windows.current:", "must be a positive duration"]),
        ({"windows.holdout": "-5d"}, ["windows.holdout:", "not a duration"]),
        (
            {"policy.performance_metric.name": "auc"},
            [
                "policy.performance_metric.name:",
                "'f1', 'precision', 'recall', 'accuracy', 'mae', 'rmse', 'mape', 'r2' or 'pinball'",
                "'auc'",
            ],
        ),
        ({"name": "Seattle Weather"}, ["name:", "pattern"]),
        (
            {"promotion.min_holdout_rows": 0},
            ["promotion.min_holdout_rows:", "greater than or equal to 1"],
        ),
        ({"data.source.format": "xlsx"}, ["data.source.format:", "'parquet' or 'csv'", "'xlsx'"]),
        ({"promotion.confidence": 1.0}, ["promotion.confidence:", "less than 1"]),
        ({"promotion.resamples": 10}, ["promotion.resamples:", "greater than or equal to 100"]),
        (
            {"promotion.guards.latency_ratio": 0.5},
            ["promotion.guards.latency_ratio:", "greater than or equal to 1"],
        ),
        ({"promotion.approval.timeout": "0s"}, ["promotion.approval.timeout:", "at least 1s"]),
        (
            {"promotion.approval.bootstrap": "sometimes"},
            ["promotion.approval.bootstrap:", "valid boolean"],
        ),
        (
            {"policy.confirmation.min_spacing": "-1d"},
            ["policy.confirmation.min_spacing:", "not a duration"],
        ),
        (
            {"orchestration.slot_lease": "30s"},
            ["orchestration.slot_lease:", "between 60s and 1d", "0:00:30"],
        ),
        (
            {"promotion.slices.columns": ["temp_max"]},
            ["promotion.slices.columns must be listed in data.categorical_features", "temp_max"],
        ),
    ],
)
def test_bad_value_names_its_path(changes: dict[str, Any], fragments: list[str]) -> None:
    message = _config_error(changes)

    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    "dotted",
    ["policy.drift_threshold", "data", "data.target_column", "windows.current", "registry.path"],
)
def test_missing_required_key_names_its_path(dotted: str) -> None:
    message = _config_error({dotted: REMOVE})

    assert f"  {dotted}: required key is missing" in message


def test_sql_source_without_table_names_the_table_key() -> None:
    message = _config_error({"data.source": {"kind": "sql", "url": "sqlite:///log.db"}})

    assert "  data.source.table: required key is missing" in message


@pytest.mark.parametrize(
    ("estimator", "fragments"),
    [
        (
            "sklearn.ensemble.nonexistent.Forest",
            ["model.estimator:", "cannot import module 'sklearn.ensemble.nonexistent'"],
        ),
        (
            "sklearn.nonexistent.Forest",
            ["model.estimator:", "module 'sklearn.nonexistent' is not allowed"],
        ),
        # Importing runs code: a module outside the allow-list is never imported.
        ("os.system", ["model.estimator:", "module 'os' is not allowed", "model.allowed_modules"]),
        (
            "sklearn.tree.export_text",
            ["model.estimator:", "is not a scikit-learn style classifier"],
        ),
        (
            "sklearn.ensemble.RandomForestClassifer",
            ["model.estimator:", "module 'sklearn.ensemble' has no 'RandomForestClassifer'"],
        ),
        ("RandomForestClassifier", ["model.estimator:", "is not an import path"]),
    ],
)
def test_unknown_estimator_is_rejected(estimator: str, fragments: list[str]) -> None:
    message = _config_error({"model.estimator": estimator})

    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        (
            {"data.numerical_features": ["precipitation", "weather"]},
            [
                "data:",
                "['weather'] cannot be both a feature and the timestamp, target or prediction",
            ],
        ),
        (
            {"data.categorical_features": ["timestamp"]},
            ["data:", "['timestamp'] cannot be both a feature"],
        ),
        (
            {"data.prediction_column": "wind"},
            ["data:", "['wind'] cannot be both a feature"],
        ),
        (
            {"data.categorical_features": ["wind"]},
            ["data:", "columns listed twice among the features: ['wind']"],
        ),
        (
            {"data.numerical_features": [], "data.categorical_features": []},
            ["data:", "list at least one column"],
        ),
        (
            {"policy.performance_metric": {"name": "f1", "average": "binary"}},
            ["policy.performance_metric:", "average 'binary' needs pos_label"],
        ),
        (
            {"policy.performance_metric": {"name": "f1", "pos_label": "rain"}},
            ["policy.performance_metric:", "pos_label is only used with average 'binary'"],
        ),
        (
            {"policy.column_drift": {"weather": {"method": "psi"}}},
            ["policy.column_drift names columns that are not features: ['weather']"],
        ),
        (
            {"bootstrap.training_end": REMOVE},
            ["bootstrap:", "give both training_start and training_end"],
        ),
        (
            {"bootstrap.training_end": "2011-01-01"},
            ["bootstrap:", "training_start must be before training_end"],
        ),
    ],
)
def test_inconsistent_config_is_rejected(changes: dict[str, Any], fragments: list[str]) -> None:
    message = _config_error(changes)

    for fragment in fragments:
        assert fragment in message


def test_allowed_modules_extend_the_estimator_allow_list() -> None:
    changes = {"model.estimator": "tests.helpers.TrustedClassifier", "model.params": {}}
    assert "module 'tests.helpers' is not allowed" in _config_error(changes)

    config = repo_config({**changes, "model.allowed_modules": ["tests"]})

    assert config.model.estimator == "tests.helpers.TrustedClassifier"
    assert config.model.estimator_class is TrustedClassifier
    assert config.model.kind == "classifier"


def test_allowed_modules_must_be_module_names() -> None:
    message = _config_error({"model.allowed_modules": ["os; rm -rf /"]})

    assert "model.allowed_modules:" in message
    assert "are not module names" in message


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        (
            {"model.params": {"n_estimators": "many"}},
            ["  model.params.n_estimators: ", "RandomForestClassifier", "int", "'many'"],
        ),
        (
            {"model.params": {"n_estimators": 10, "criterion": "ginny"}},
            ["  model.params.criterion: ", "'gini'", "'ginny'"],
        ),
        (
            {"model.params": {"n_trees": 100}},
            [
                "  model.params.n_trees: ",
                "not a parameter of RandomForestClassifier",
                "n_estimators",
            ],
        ),
        (
            {
                "model.estimator": "sklearn.linear_model.LogisticRegression",
                "model.params": {"C": -1},
            },
            ["  model.params.C: ", "LogisticRegression", "-1"],
        ),
        (
            {"model.estimator": "sklearn.multiclass.OneVsRestClassifier", "model.params": {}},
            ["  model.params.estimator: ", "OneVsRestClassifier requires it"],
        ),
    ],
    ids=["wrong-type", "wrong-choice", "unknown-name", "out-of-range", "missing-required"],
)
def test_bad_model_params_are_rejected_when_the_config_loads(
    changes: dict[str, Any], fragments: list[str]
) -> None:
    message = _config_error(changes)

    for fragment in fragments:
        assert fragment in message


def test_valid_model_params_are_kept_as_written() -> None:
    config = repo_config({"model.params": {"n_estimators": 5, "class_weight": "balanced"}})

    assert config.model.params == {"n_estimators": 5, "class_weight": "balanced"}


def test_params_of_a_trusted_estimator_are_checked_too() -> None:
    changes = {
        "model.estimator": "tests.helpers.TrustedClassifier",
        "model.allowed_modules": ["tests"],
    }

    assert repo_config({**changes, "model.params": {"strategy": "prior"}}).model.params
    assert "  model.params.colour: not a parameter" in _config_error(
        {**changes, "model.params": {"colour": "blue"}}
    )


def test_binary_metric_with_pos_label_is_accepted() -> None:
    raw = repo_raw_config(
        {"policy.performance_metric": {"name": "recall", "average": "binary", "pos_label": "rain"}}
    )

    metric = parse_config(raw, REPO_ROOT).policy.performance_metric

    assert metric.pos_label == "rain"
    assert metric.describe() == "recall (class 'rain')"


def test_column_drift_for_a_feature_is_accepted() -> None:
    raw = repo_raw_config({"policy.column_drift": {"wind": {"method": "psi", "threshold": 0.2}}})

    column = parse_config(raw, REPO_ROOT).policy.column_drift["wind"]

    assert (column.method, column.threshold) == ("psi", 0.2)


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("30min", timedelta(minutes=30)),
        ("45s", timedelta(seconds=45)),
    ],
)
def test_durations_are_parsed(text: str, duration: timedelta) -> None:
    config = parse_config(repo_raw_config({"windows.current": text}), REPO_ROOT)

    assert config.windows.current == duration


def test_several_problems_are_all_reported() -> None:
    message = _config_error({"policy.drift_threshold": 0, "windows.current": "0d", "colour": "x"})

    assert "policy.drift_threshold:" in message
    assert "windows.current:" in message
    assert "colour: unknown key" in message


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "config.yaml"

    with pytest.raises(ConfigError, match="config file not found") as caught:
        load_config(missing)

    assert str(missing) in str(caught.value)


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("name: seattle-weather\ndata: [unclosed\n")

    with pytest.raises(ConfigError, match="not valid YAML") as caught:
        load_config(path)

    assert str(caught.value) == (
        f"{path}: not valid YAML on line 3, column 1: expected ',' or ']', but got "
        "'<stream end>' (while parsing a flow sequence that starts on line 2); correct it there "
        "(an unclosed bracket or quote, a tab, or an indent that does not line up with its "
        "neighbours)"
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "cp1252"])
def test_config_not_in_utf8_is_reported(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "config.yaml"
    text = (REPO_ROOT / "config.yaml").read_text(encoding="utf-8")
    path.write_bytes(f"# météo de Seattle\n{text}".encode(encoding))

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: not UTF-8 text")
    assert "save it as UTF-8" in message


def test_config_in_utf8_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    text = (REPO_ROOT / "config.yaml").read_text(encoding="utf-8")
    path.write_bytes(f"# météo\n{text}".encode("utf-8-sig"))

    assert load_config(path).name == "seattle-weather"


def test_duplicate_key_names_its_path_and_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    text = (REPO_ROOT / "config.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  performance_threshold:"))
    lines.insert(first + 3, "  performance_threshold: 0.9     # pasted from another model")
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "'policy.performance_threshold'" in message
    assert f"lines {first + 1} and {first + 4}" in message


@pytest.mark.parametrize(
    ("text", "key", "line_numbers"),
    [
        ("name: a\nname: b\n", "'name'", "lines 1 and 2"),
        ("data:\n  source: {kind: files, kind: sql}\n", "'data.source.kind'", "lines 2 and 2"),
        ("a:\n  - {x: 1}\n  - {y: 1, y: 2}\n", "'a[1].y'", "lines 3 and 3"),
        ("1: one\n1: uno\n", "'1'", "lines 1 and 2"),
    ],
    ids=["top-level", "flow-mapping", "inside-a-list", "non-string-key"],
)
def test_duplicate_keys_are_rejected_at_any_level(
    tmp_path: Path, text: str, key: str, line_numbers: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)

    with pytest.raises(ConfigError, match="is written twice") as caught:
        load_config(path)

    assert key in str(caught.value)
    assert line_numbers in str(caught.value)


def test_keys_a_yaml_merge_brings_in_may_be_overridden(tmp_path: Path) -> None:
    # `<<: *defaults` then a key of its own is how YAML overrides a shared block: not a duplicate.
    path = tmp_path / "config.yaml"
    text = (REPO_ROOT / "config.yaml").read_text(encoding="utf-8")
    merge = "  confirmation:\n    <<: {drift: {breaches: 1, runs: 1}}\n"
    path.write_text(re.sub(r"  confirmation:[^\n]*\n", merge, text, count=1))

    config = load_config(path)

    assert config.policy.confirmation.drift.runs == 3  # the block's own key wins


@pytest.mark.parametrize(
    ("text", "type_name"), [("- a\n- b\n", "list"), ("", "NoneType"), ("just text", "str")]
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, type_name: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)

    with pytest.raises(
        ConfigError, match=f"expected a mapping of keys at the top level, got {type_name}"
    ):
        load_config(path)


def test_relative_paths_are_resolved_from_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = repo_raw_config(
        {
            "data.source.path": "logs/daily",
            "registry.path": "state/registry",
            "reports.path": "../reports",
        }
    )
    path = _write_config(tmp_path / "project", raw)
    monkeypatch.chdir(tmp_path)  # a cwd other than the config's directory

    config = load_config("project/config.yaml")

    project = (tmp_path / "project").resolve()
    assert isinstance(config.data.source, FileSourceConfig)
    assert config.data.source.path == project / "logs" / "daily"
    assert config.registry.path == project / "state" / "registry"
    assert config.reports.path == tmp_path.resolve() / "reports"
    assert path.parent.resolve() == project


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    absolute = tmp_path.resolve() / "elsewhere"
    raw = repo_raw_config(
        {"data.source.path": str(absolute), "registry.path": str(absolute / "registry")}
    )

    config = load_config(_write_config(tmp_path / "project", raw))

    assert isinstance(config.data.source, FileSourceConfig)
    assert config.data.source.path == absolute
    assert config.registry.path == absolute / "registry"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///logs/log.db", "sqlite:///{project}/logs/log.db"),
        ("sqlite:////var/data/log.db", "sqlite:////var/data/log.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql://user@db.example/logs", "postgresql://user@db.example/logs"),
    ],
)
def test_relative_sqlite_url_is_resolved_from_the_config_directory(
    tmp_path: Path, url: str, expected: str
) -> None:
    raw = repo_raw_config({"data.source": {"kind": "sql", "url": url, "table": "log"}})

    config = load_config(_write_config(tmp_path / "project", raw))

    assert isinstance(config.data.source, SqlSourceConfig)
    assert config.data.source.url.reveal() == expected.format(
        project=(tmp_path / "project").resolve()
    )


def test_bootstrap_model_path_is_resolved_from_the_config_directory(tmp_path: Path) -> None:
    raw = repo_raw_config({"bootstrap.model_path": "models/first.pkl"})

    config = load_config(_write_config(tmp_path / "project", raw))

    assert config.bootstrap.model_path == (tmp_path / "project").resolve() / "models" / "first.pkl"


def test_approval_bootstrap_is_off_unless_set_and_says_why_in_its_description() -> None:
    unset = repo_config({"promotion.approval.bootstrap": REMOVE})
    assert unset.promotion.approval.bootstrap is False
    assert repo_config({"promotion.approval.bootstrap": True}).promotion.approval.bootstrap is True
    description = ApprovalConfig.model_fields["bootstrap"].description or ""
    assert "first champion" in description and "replaces no model" in description


def test_config_is_frozen() -> None:
    config = load_config(REPO_ROOT / "config.yaml")

    with pytest.raises(ValueError, match="frozen"):
        config.policy.drift_threshold = 0.9


REGRESSOR = {
    "model.estimator": "sklearn.ensemble.RandomForestRegressor",
    "model.params": {"n_estimators": 10},
    "policy.performance_metric": {"name": "mae"},
    "policy.performance_threshold": 3.0,
    "policy.severe_performance_threshold": 6.0,
}


def test_regressor_config_loads_with_its_direction() -> None:
    config = repo_config({**REGRESSOR, "promotion.min_improvement": 0.5})

    assert config.model.kind == "regressor"
    assert config.policy.performance_metric.higher_is_better is False
    assert config.policy.performance_metric.direction == "lower is better"
    assert config.promotion.min_improvement == 0.5
    assert config.promotion.guards.second_error == 0.05


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        (
            {"model.estimator": "sklearn.ensemble.RandomForestRegressor"},
            [
                "policy.performance_metric.name: 'f1' is a classification metric",
                "RandomForestRegressor is a regressor: use one of mae, rmse, mape, r2, pinball",
            ],
        ),
        (
            {
                "policy.performance_metric": {"name": "rmse"},
                "policy.performance_threshold": 3.0,
                "policy.severe_performance_threshold": None,
            },
            [
                "policy.performance_metric.name: 'rmse' is a regression metric",
                "RandomForestClassifier is a classifier: use one of f1, precision",
            ],
        ),
        (
            {**REGRESSOR, "policy.performance_metric": {"name": "mape"}},
            ["policy.performance_metric:", "mape needs floor"],
        ),
        (
            {**REGRESSOR, "policy.performance_metric": {"name": "pinball"}},
            ["policy.performance_metric:", "pinball needs quantile"],
        ),
        (
            {**REGRESSOR, "policy.performance_metric": {"name": "mae", "pos_label": 1}},
            ["policy.performance_metric:", "average and pos_label are for classifiers"],
        ),
        (
            {**REGRESSOR, "policy.performance_threshold": -1.0},
            ["policy.performance_threshold:", "greater than or equal to 0 for mae"],
        ),
        (
            {**REGRESSOR, "policy.severe_performance_threshold": 2.0},
            [
                "policy:",
                "severe_performance_threshold (2.0) must be above performance_threshold (3.0)",
                "(lower is better)",
            ],
        ),
        (
            {**REGRESSOR, "promotion.min_relative_improvement": 1.5},
            ["promotion.min_relative_improvement:", "less than 1"],
        ),
        (
            {"promotion.min_improvement": 1.5},
            ["promotion.min_improvement: 1.5 is above 1"],
        ),
        (
            {"policy.performance_metric": {"name": "f1", "floor": 1.0}},
            ["policy.performance_metric:", "floor and quantile are for regression metrics"],
        ),
    ],
)
def test_metric_and_estimator_mismatches_name_the_key(
    changes: dict[str, Any], fragments: list[str]
) -> None:
    message = _config_error(changes)

    for fragment in fragments:
        assert fragment in message, message


# --- reports.workspace: a directory or an `evidently ui` service ------------------------------


def test_the_workspace_is_a_directory_relative_to_the_config_by_default(tmp_path: Path) -> None:
    default = parse_config(repo_raw_config(), tmp_path).reports
    moved = parse_config(repo_raw_config({"reports.workspace": "dashboards"}), tmp_path).reports

    assert default.workspace_url is None
    assert default.workspace_dir == tmp_path / ".autoretrain" / "reports" / "workspace"
    assert moved.workspace_url is None and moved.workspace_dir == tmp_path / "dashboards"


def test_a_service_url_with_its_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVIDENTLY_UI_SECRET", "s3cret-value")
    reports = repo_config(
        {
            "reports.workspace": " https://evidently.internal:8000/ ",
            "reports.workspace_secret": "${EVIDENTLY_UI_SECRET}",
            "reports.workspace_retries": {"attempts": 2, "backoff_seconds": 0.5},
        }
    ).reports

    assert reports.workspace_url == "https://evidently.internal:8000"
    assert reports.workspace_secret is not None
    assert reports.workspace_secret.reveal() == "s3cret-value"
    assert "s3cret-value" not in repr(reports) + reports.model_dump_json()
    assert (reports.workspace_retries.attempts, reports.workspace_retries.backoff_seconds) == (
        2,
        0.5,
    )


def test_the_workspace_secret_can_be_a_prefect_secret_block() -> None:
    reports = repo_config(
        {"reports.workspace": "http://127.0.0.1:8000", "reports.workspace_secret": {"secret": "ui"}}
    ).reports

    assert reports.workspace_secret is not None and reports.workspace_secret.block == "ui"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"reports.workspace": "http://evidently.internal:8000/evidently"},
            "reports.workspace: 'http://evidently.internal:8000/evidently' has a path, query or "
            "fragment: Evidently's client calls /api/... at the root of the host",
        ),
        (
            {"reports.workspace": "s3://bucket/workspace"},
            "reports.workspace: 's3://bucket/workspace' is neither a directory nor the http(s) "
            "URL of an `evidently ui` service",
        ),
        (
            {"reports.workspace": "http://admin:hunter2@evidently.internal:8000"},
            "reports.workspace: 'http://admin:**********@evidently.internal:8000' carries a user "
            "or password: give the URL as scheme://host:port and the service's --secret in "
            "reports.workspace_secret",
        ),
        ({"reports.workspace": ""}, "reports.workspace: is empty"),
        (
            {"reports.workspace": "http://h:8000", "reports.workspace_secret": "hunter2"},
            "reports.workspace_secret: is in plain text, and config.yaml is committed and "
            "deployed: give it as ${VARIABLE}",
        ),
        (
            {"reports.workspace_secret": {"secret": "ui"}},
            "reports: workspace_secret is only for an `evidently ui` service: set workspace to "
            "its URL",
        ),
        (
            {"reports.workspace": "http://h:8000", "reports.workspace_retries": {"attempts": 0}},
            "reports.workspace_retries.attempts: Input should be greater than or equal to 1",
        ),
    ],
)
def test_a_bad_workspace_names_the_key_and_the_fix(changes: dict[str, Any], message: str) -> None:
    error = _config_error(changes)

    assert message in error
    assert "hunter2" not in error


# --- history.url ----------------------------------------------------------------------------


def test_the_history_defaults_to_the_file_next_to_the_registry() -> None:
    assert repo_config().history.url is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///shared/history.sqlite", "sqlite:///{project}/shared/history.sqlite"),
        ("postgresql+psycopg://loop@db.internal/history", None),
    ],
)
def test_history_url_is_read_and_a_relative_sqlite_path_anchored(
    tmp_path: Path, url: str, expected: str | None
) -> None:
    raw = repo_raw_config({"history": {"url": url}})

    config = load_config(_write_config(tmp_path / "project", raw))

    assert config.history.url is not None
    project = (tmp_path / "project").resolve()
    assert config.history.url.reveal() == (expected or url).format(project=project)


def test_history_url_from_the_environment_and_from_a_secret_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HISTORY_URL", "postgresql+psycopg://loop:s3cr3t@db.internal/history")
    from_env = load_config(
        _write_config(tmp_path / "a", repo_raw_config({"history": {"url": "${HISTORY_URL}"}}))
    )
    path = _write_config(
        tmp_path / "b", repo_raw_config({"history": {"url": {"secret": "hist-db"}}})
    )
    from_block = load_config(path, lambda name: f"postgresql+psycopg://u:pw@{name}/h")

    assert from_env.history.url is not None and from_block.history.url is not None
    assert from_env.history.url.reveal().endswith(":s3cr3t@db.internal/history")
    assert from_block.history.url.reveal() == "postgresql+psycopg://u:pw@hist-db/h"
    assert "s3cr3t" not in repr(from_env) and "s3cr3t" not in from_env.model_dump_json()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql+psycopg://loop:s3cr3t@db/h",
            "history.url: holds a password in plain text",
        ),
        ("mysql+pymysql://loop@db/h", "is a mysql URL: the history runs on sqlite or postgresql"),
        ("db.internal/history", "is not a SQLAlchemy URL like postgresql+psycopg://"),
        ({"secret": "Bad Name"}, "'Bad Name' is not a Prefect block name"),
    ],
)
def test_a_bad_history_url_names_the_key_and_the_fix(url: Any, message: str) -> None:
    error = _config_error({"history": {"url": url}})

    assert message in error
    assert "s3cr3t" not in error
