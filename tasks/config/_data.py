"""The production log: where it is read from and its columns (`data`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from tasks.config._base import Strict, refuse_plain_text_password, section
from tasks.secrets import SecretValue


class FileSourceConfig(Strict):
    kind: Literal["files"] = Field(
        default="files", description="files: a directory of Parquet or CSV files."
    )
    path: Path = Field(description="Directory of Parquet or CSV files, relative to config.yaml.")
    format: Literal["parquet", "csv"] = Field(
        default="parquet", description="File format of every file in the directory."
    )


class SqlSourceConfig(Strict):
    kind: Literal["sql"] = Field(
        description="sql: a table behind any SQLAlchemy URL (tested on SQLite and PostgreSQL); "
        "its timestamp column holds timestamps, ISO 8601 text (an offset such as +01:00 "
        "optional, UTC without) or Unix seconds."
    )
    url: SecretValue = Field(
        description="SQLAlchemy URL; a relative sqlite path is relative to config.yaml. A URL "
        "with a password is given as ${ENV_VAR} (expanded when the config loads; $$ is a "
        "literal $) or as {secret: block-name} (a Prefect Secret block read at run time), "
        "never in plain text; it is masked in every log, message and artifact."
    )
    table: str = Field(description="Table holding the production log.")

    @field_validator("url")
    @classmethod
    def _no_plain_text_password(cls, value: SecretValue) -> SecretValue:
        refuse_plain_text_password(value)
        return value


class ReadRetryConfig(Strict):
    """Retries of transient read errors (a dropped connection, a busy file system)."""

    attempts: int = Field(default=3, ge=1, le=10, description="1 means no retry.")
    backoff_seconds: float = Field(
        default=1.0, ge=0, le=60, description="Wait before the 2nd attempt; doubles each time."
    )


class DataConfig(Strict):
    source: FileSourceConfig | SqlSourceConfig = Field(
        discriminator="kind",
        description="Where the production log is read from: {kind: files, path, format} or "
        "{kind: sql, url, table}.",
    )
    read_retries: ReadRetryConfig = section(
        ReadRetryConfig,
        "Transient read errors (dropped connection, locked database, I/O error) "
        "are retried, waiting backoff_seconds, then twice that, and so on.",
    )
    timestamp_column: str = Field(description="Time of each row.")
    target_column: str = Field(
        description="The label; null until it arrives (such rows count for drift only)."
    )
    numerical_features: list[str] = Field(
        default=[],
        description="Numeric feature columns: median imputation and scaling, numeric drift tests.",
    )
    categorical_features: list[str] = Field(
        default=[],
        description="Categorical feature columns: constant imputation and one-hot encoding "
        "(unknown categories ignored), categorical drift tests.",
    )
    prediction_column: str | None = Field(
        default=None, description="Logged prediction of the serving model, if the log has one."
    )

    @model_validator(mode="after")
    def _check_columns(self) -> DataConfig:
        features = self.numerical_features + self.categorical_features
        if not features:
            raise ValueError(
                "list at least one column in numerical_features or categorical_features"
            )
        duplicated = sorted({c for c in features if features.count(c) > 1})
        if duplicated:
            raise ValueError(f"columns listed twice among the features: {duplicated}")
        special = {self.timestamp_column, self.target_column, self.prediction_column or ""}
        overlap = sorted(special.intersection(features))
        if overlap:
            raise ValueError(
                f"{overlap} cannot be both a feature and the timestamp, target or prediction column"
            )
        return self

    @property
    def features(self) -> list[str]:
        return self.numerical_features + self.categorical_features
