"""Credentials outside config.yaml: ${ENV_VAR} and {secret: block} references, always masked."""

from __future__ import annotations

import json
import pickle
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from tasks.config import Config, SqlSourceConfig, load_config
from tasks.core.windows import Window
from tasks.errors import ConfigError, DataError
from tasks.secrets import (
    MASK,
    SecretBlockError,
    SecretValue,
    expand_environment,
    mask_url_password,
    read_secret_blocks,
    redact_url_password,
)
from tasks.stores.data import SqlLogSource, load_window
from tests.helpers import demo_log_in_sqlite, repo_config, repo_raw_config

JANUARY_2013 = Window(datetime(2013, 1, 1), datetime(2013, 2, 1))
TOKEN = "tok-3f9a1c7e5b"  # stands for a password: it must never appear in any output


def _sql_config(url: object, table: str = "weather_log") -> Config:
    return repo_config({"data.source": {"kind": "sql", "url": url, "table": table}})


def _write_config(directory: Path, url: object, table: str = "weather_log") -> Path:
    raw = repo_raw_config({"data.source": {"kind": "sql", "url": url, "table": table}})
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def secret_database(tmp_path: Path) -> str:
    """The demo log in SQLite at a path that holds TOKEN: the URL as a whole is the secret."""
    directory = tmp_path / f"vault-{TOKEN}"
    directory.mkdir()
    return demo_log_in_sqlite(directory)


# --- ${VARIABLE} expansion ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${WAREHOUSE_URL}", "postgresql://etl:pw@db/prod"),
        ("postgresql://etl:${DB_PASSWORD}@db/prod", "postgresql://etl:s3cr$t@db/prod"),
        ("price$$5", "price$5"),
        ("$${WAREHOUSE_URL}", "${WAREHOUSE_URL}"),  # an escaped dollar is not a reference
        ("no references", "no references"),
    ],
)
def test_environment_references_expand_and_double_dollar_escapes(text, expected):
    environ = {"WAREHOUSE_URL": "postgresql://etl:pw@db/prod", "DB_PASSWORD": "s3cr$t"}

    assert expand_environment(text, environ)[0] == expected


def test_expanded_values_are_not_expanded_again():
    environ = {"A": "${B}", "B": "leaked"}

    assert expand_environment("${A}", environ) == ("${B}", ["A"])


@pytest.mark.parametrize(
    "text", ["$HOME", "${HOME:-/root}", "$(id)", "${}", "${1ABC}", "trailing $", "${HOME"]
)
def test_anything_but_a_plain_reference_or_double_dollar_is_refused(text):
    with pytest.raises(ValueError, match=r"neither \$\{VARIABLE\} nor \$\$"):
        expand_environment(text, {"HOME": "/root"})


def test_no_shell_evaluation_of_any_kind(tmp_path, monkeypatch):
    marker = tmp_path / "evaluated"
    monkeypatch.setenv("PAYLOAD", f"$(touch {marker})")

    # Command substitution is refused, a variable's value is used as it is, backticks are text.
    with pytest.raises(ConfigError, match=r"data\.source\.url"):
        _sql_config(f"sqlite:///$(touch {marker})")
    from_variable = _sql_config("${PAYLOAD}").data.source
    backticks = _sql_config(f"postgresql://db/`touch {marker}`").data.source

    assert isinstance(from_variable, SqlSourceConfig) and isinstance(backticks, SqlSourceConfig)
    assert from_variable.url.reveal() == f"$(touch {marker})"
    assert backticks.url.reveal() == f"postgresql://db/`touch {marker}`"
    assert not marker.exists()


def test_a_missing_variable_names_the_key_path_and_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTORETRAIN_TEST_UNSET", raising=False)
    path = _write_config(tmp_path, "${AUTORETRAIN_TEST_UNSET}")

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert str(raised.value) == (
        f"{path}: invalid configuration\n"
        "  data.source.url: environment variable AUTORETRAIN_TEST_UNSET is not set: export it "
        "where the flow runs (the worker's environment for a deployment)"
    )


def test_only_secret_fields_expand_never_keys_or_other_values(monkeypatch):
    monkeypatch.setenv("TABLE", "expanded")
    monkeypatch.setenv("URL", "sqlite:///log.db")
    config = repo_config(
        {
            "data.source": {"kind": "sql", "url": "${URL}", "table": "${TABLE}"},
            "model.params": {"criterion": "gini", "n_estimators": 10},
        }
    )

    assert isinstance(config.data.source, SqlSourceConfig)
    assert config.data.source.url.reveal().endswith("log.db")
    assert config.data.source.table == "${TABLE}"
    # A key is never expanded: model.params (checked against the estimator) names it as written.
    with pytest.raises(ConfigError, match=r"model\.params\.\$\{TABLE\}: not a parameter"):
        repo_config({"model.params": {"${TABLE}": "x"}})


# --- {secret: block-name} references ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ({"secret": "Warehouse URL"}, "'Warehouse URL' is not a Prefect block name"),
        ({"secret": "warehouse-url", "default": "x"}, "with no other keys"),
        ({"block": "warehouse-url"}, "a secret reference is {secret: block-name}"),
        (42, "expected text, text with ${VARIABLE} references, or {secret: block-name}"),
    ],
)
def test_bad_secret_references_name_the_key_path(url, message):
    with pytest.raises(ConfigError) as raised:
        _sql_config(url)

    assert "data.source.url: " in str(raised.value)
    assert message in str(raised.value)


def test_a_block_reference_is_read_by_the_reader_the_flow_passes(tmp_path, secret_database):
    path = _write_config(tmp_path, {"secret": "warehouse-url"})
    asked: list[str] = []

    def read_block(name: str) -> str:
        asked.append(name)
        return secret_database

    unread = load_config(path)
    config = load_config(path, read_block)

    assert isinstance(unread.data.source, SqlSourceConfig)
    assert not unread.data.source.url.resolved
    with pytest.raises(ConfigError, match="Prefect Secret block 'warehouse-url' has not been read"):
        unread.data.source.url.reveal()
    assert asked == ["warehouse-url"]
    assert len(load_window(config, JANUARY_2013)) == 31


def test_a_missing_block_names_the_key_path_and_the_block(tmp_path):
    path = _write_config(tmp_path, {"secret": "warehouse-url"})

    def read_block(name: str) -> str:
        raise SecretBlockError(f"Prefect Secret block '{name}' does not exist")

    with pytest.raises(ConfigError) as raised:
        load_config(path, read_block)

    assert str(raised.value).startswith(
        f"{path}: data.source.url: Prefect Secret block 'warehouse-url' does not exist; "
        "create it with"
    )


def test_a_relative_sqlite_path_from_a_block_is_taken_from_the_config_directory(tmp_path):
    path = _write_config(tmp_path / "project", {"secret": "warehouse-url"})

    config = load_config(path, lambda name: "sqlite:///logs/log.db")

    assert isinstance(config.data.source, SqlSourceConfig)
    expected = f"sqlite:///{(tmp_path / 'project' / 'logs' / 'log.db').resolve()}"
    assert config.data.source.url.reveal() == expected


class _Tracking(BaseModel):
    tracking_uri: SecretValue
    token: SecretValue | None = None


class _FutureConfig(BaseModel):
    registry: _Tracking


def test_any_secret_field_of_any_model_resolves_the_same_way(monkeypatch):
    # The type is not tied to the SQL source: a registry's tracking URI and token work alike.
    monkeypatch.setenv("MLFLOW_TOKEN", TOKEN)
    future = _FutureConfig.model_validate(
        {"registry": {"tracking_uri": {"secret": "mlflow-uri"}, "token": "${MLFLOW_TOKEN}"}}
    )

    read = read_secret_blocks(future, lambda name: f"https://{name}.example", "config.yaml")

    assert read.registry.tracking_uri.reveal() == "https://mlflow-uri.example"
    assert read.registry.token is not None and read.registry.token.reveal() == TOKEN
    assert TOKEN not in repr(read) + read.model_dump_json()


# --- the value never shows ----------------------------------------------------------------


def test_plain_text_passwords_are_refused_but_references_to_them_are_not(monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", f"postgresql://etl:{TOKEN}@db.internal/prod")

    with pytest.raises(ConfigError) as raised:
        _sql_config(f"postgresql://etl:{TOKEN}@db.internal/prod")
    from_environment = _sql_config("${WAREHOUSE_URL}")

    assert "data.source.url: holds a password in plain text" in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert isinstance(from_environment.data.source, SqlSourceConfig)
    assert from_environment.data.source.url.origin == "$WAREHOUSE_URL"


def test_the_config_shows_only_a_mask_in_every_form(monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", f"postgresql://etl:{TOKEN}@db.internal/prod")
    config = _sql_config("${WAREHOUSE_URL}")
    source = config.data.source
    assert isinstance(source, SqlSourceConfig)

    shown = [
        repr(config),
        str(config),
        repr(source.url),
        str(source.url),
        f"{source.url}",
        config.model_dump_json(),
        json.dumps(config.model_dump(mode="json")),
        str(config.model_dump()),
    ]

    assert all(TOKEN not in text and "db.internal" not in text for text in shown)
    assert json.loads(config.model_dump_json())["data"]["source"]["url"] == MASK
    assert repr(source.url) == f"SecretValue('{MASK}', from $WAREHOUSE_URL)"
    assert source.url.reveal() == f"postgresql://etl:{TOKEN}@db.internal/prod"
    # A copy (as Prefect may make of a task's arguments) keeps the value and the mask.
    copied = pickle.loads(pickle.dumps(config))
    assert copied == config and TOKEN not in repr(copied)


@pytest.mark.parametrize(
    "text",
    [
        f"could not connect to postgresql://etl:{TOKEN}@db.internal/prod",
        f"password authentication failed: '{TOKEN}'",
        "password is tok%2D3f9a1c7e5b",  # a URL-quoted form of the password
    ],
)
def test_redact_masks_the_value_and_its_password(text):
    url = SecretValue("postgresql://etl:tok%2D3f9a1c7e5b@db.internal/prod", variables=("U",))

    assert TOKEN not in url.redact(text) and "tok%2D3f9a1c7e5b" not in url.redact(text)
    assert MASK in url.redact(text)


# --- the SQL source's messages ------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "table", "message"),
    [
        ("", "no_such_table", "no table 'no_such_table' in table 'no_such_table' at data.source"),
        ("/missing-dir/warehouse.db", "weather_log", "unable to open database file"),
    ],
)
def test_sql_errors_name_the_origin_never_the_url(
    monkeypatch, secret_database, suffix, table, message
):
    url = secret_database.replace("/warehouse.db", suffix) if suffix else secret_database
    monkeypatch.setenv("WAREHOUSE_URL", url)
    config = _sql_config("${WAREHOUSE_URL}", table=table)
    config = config.model_copy(
        update={
            "data": config.data.model_copy(
                update={"read_retries": config.data.read_retries.model_copy(update={"attempts": 1})}
            )
        }
    )

    with pytest.raises(DataError) as raised:
        load_window(config, JANUARY_2013)

    assert message in str(raised.value)
    assert "from $WAREHOUSE_URL" in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert raised.value.__cause__ is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"not a url {TOKEN}", "data.source.url from $U is not a SQLAlchemy URL"),
        (f"nosuchdb://etl:{TOKEN}@db/prod", "install the database's driver"),
    ],
)
def test_a_bad_secret_url_is_reported_without_its_value(url, message):
    source = SqlLogSource(
        SqlSourceConfig(kind="sql", url=SecretValue(url, variables=("U",)), table="t"), "ts"
    )

    with pytest.raises(DataError) as raised:
        source.read(["ts"], JANUARY_2013)

    assert message in str(raised.value)
    assert TOKEN not in str(raised.value) + source.describe()


def test_a_plain_url_in_the_config_is_still_shown_without_password(secret_database):
    source = SqlLogSource(SqlSourceConfig(kind="sql", url=secret_database, table="t"), "ts")

    assert source.describe() == f"table 't' at {secret_database}"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://alice:pw@mlflow:5000/x", "http://alice:**********@mlflow:5000/x"),
        ("https://alice:p%40ss@host", "https://alice:**********@host"),
        ("http://alice@host:5000", "http://alice@host:5000"),  # no password: as it is
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("databricks", "databricks"),
    ],
)
def test_a_url_is_shown_with_its_password_masked(url: str, shown: str) -> None:
    assert mask_url_password(url) == shown


def test_a_library_message_loses_the_url_s_password_in_any_spelling() -> None:
    url = "http://alice:p%40ss@mlflow:5000"
    message = f"GET {url}/api failed; password p@ss or p%40ss rejected"

    redacted = redact_url_password(message, url)

    assert redacted == (
        f"GET http://alice:{MASK}@mlflow:5000/api failed; password {MASK} or {MASK} rejected"
    )
    assert redact_url_password("no url here", "http://127.0.0.1:5000") == "no url here"
