"""The data_quality section: its defaults, per-column overrides and the errors of bad ones."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.config import DEFAULT_TOLERANCES, parse_config
from tasks.errors import ConfigError
from tests.helpers import REPO_ROOT, repo_config, repo_raw_config


def _config_error(changes: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(repo_raw_config(changes), REPO_ROOT)
    return str(caught.value)


def test_the_defaults_are_the_one_table_of_tolerances() -> None:
    quality = repo_config().data_quality
    assert quality.enabled and quality.action == "block"
    assert quality.tolerances.as_mapping() == dict(DEFAULT_TOLERANCES)


def test_per_column_overrides_are_kept_and_false_switches_a_check_off() -> None:
    quality = repo_config(
        {"data_quality.columns": {"wind": {"range": 2.0, "constant": False, "missing": None}}}
    ).data_quality
    assert quality.columns == {"wind": {"range": 2.0, "constant": None, "missing": None}}


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        (
            {"data_quality.columns": {"weather": {"missing": 0.2}}},
            ["data_quality.columns names columns that are not features: ['weather']", "wind"],
        ),
        (
            {"data_quality.columns": {"wind": {"rnage": 0.2}}},
            ["data_quality.columns", "wind: unknown check 'rnage': choose from missing, range"],
        ),
        (
            {"data_quality.columns": {"wind": {"duplicates": 0.2}}},
            ["wind: duplicates is a check of the whole window", "data_quality.tolerances"],
        ),
        (
            {"data_quality.columns": {"wind": {"categories": 0.2}}},
            ["data_quality.columns.wind.categories: wind is a numerical feature"],
        ),
        (
            {"data_quality.columns": {"wind": {"missing": 1.5}}},
            ["wind: missing is a share: at most 1.0, got 1.5"],
        ),
        (
            {"data_quality.tolerances": {"missing": -0.1}},
            ["data_quality.tolerances.missing", "greater than or equal to 0"],
        ),
        (
            {"data_quality.tolerances": {"dtype": 0.3}},
            ["data_quality.tolerances.dtype", "dtype takes 0", "or null (off)"],
        ),
        (
            {"data_quality.tolerances": {"range": True}},
            ["data_quality.tolerances.range", "true is not a tolerance"],
        ),
        (
            {"data_quality.tolerances": {"drift": 0.3}},
            ["data_quality.tolerances.drift"],
        ),
        (
            {"data_quality.action": "stop"},
            ["data_quality.action", "'block' or 'warn'"],
        ),
    ],
)
def test_bad_data_quality_settings_name_the_key_and_the_fix(
    changes: dict[str, Any], fragments: list[str]
) -> None:
    message = _config_error(changes)
    for fragment in fragments:
        assert fragment in message, message
