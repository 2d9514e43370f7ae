"""Class labels are read as the user wrote them: integers with missing values stay integers."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from tasks.config import Config
from tasks.core.windows import Window
from tasks.stores.data import load_window
from tests.helpers import repo_config

START = datetime(2020, 1, 1)
WINDOW = Window(START, START + timedelta(days=10))
LABELS: list[int | None] = [0, 1, None, 1, 0, None, 0, 1, 1, None]


def _log(labels: list[Any]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": [START + timedelta(days=i) for i in range(len(labels))],
            "x": np.linspace(0, 1, len(labels)),
            "label": labels,
        }
    )


def _write(writer: str, log: pd.DataFrame, directory: Path) -> dict[str, Any]:
    """The log as another tool would write it; the config's data.source for it."""
    directory.mkdir()
    if writer == "csv":  # a blank where the label has not arrived
        log.to_csv(directory / "log.csv", index=False)
        return {"kind": "files", "path": str(directory), "format": "csv"}
    if writer == "parquet":  # int64 with nulls, written by pyarrow (no pandas metadata)
        table = pa.table(
            {
                "ts": pa.array(log["ts"], pa.timestamp("us")),
                "x": pa.array(log["x"]),
                "label": pa.array(LABELS, pa.int64()),
            }
        )
        pq.write_table(table, directory / "log.parquet")
        return {"kind": "files", "path": str(directory), "format": "parquet"}
    url = f"sqlite:///{directory / 'log.db'}"  # an INTEGER column with NULLs
    engine = sa.create_engine(url)
    try:
        log.astype({"label": "Int64"}).to_sql("log", engine, index=False)
    finally:
        engine.dispose()
    return {"kind": "sql", "url": url, "table": "log"}


def _config(source: dict[str, Any], **changes: Any) -> Config:
    return repo_config(
        {
            "data.source": source,
            "data.timestamp_column": "ts",
            "data.target_column": "label",
            "data.numerical_features": ["x"],
            **changes,
        }
    )


@pytest.mark.parametrize("writer", ["csv", "parquet", "sqlite"])
def test_integer_labels_with_missing_values_stay_integers(writer: str, tmp_path: Path) -> None:
    config = _config(_write(writer, _log(LABELS), tmp_path / "log"))

    window = load_window(config, WINDOW)
    labelled = load_window(config, WINDOW, labelled_only=True)

    # Not 0.0 and 1.0: the classes are the 0 and 1 the log holds; the missing stay missing.
    assert str(window["label"].dtype) == "Int64"
    assert [None if pd.isna(v) else v for v in window["label"]] == LABELS
    assert labelled["label"].dtype == np.int64
    assert labelled["label"].tolist() == [v for v in LABELS if v is not None]
    assert sorted(map(str, labelled["label"].unique())) == ["0", "1"]


@pytest.mark.parametrize(
    ("labels", "kind"),
    [
        ([0.5, 1.0, None], "float64"),  # floats the user wrote stay floats
        (["sun", None, "rain"], "object"),
        ([0, 1, 1], "int64"),  # nothing missing: already integers
    ],
)
def test_other_labels_are_kept_as_they_are(labels: list[Any], kind: str, tmp_path: Path) -> None:
    config = _config(_write("csv", _log(labels), tmp_path / "log"))

    window = load_window(config, Window(START, START + timedelta(days=3)))

    assert str(window["label"].dtype) in (kind, "str")  # pandas 3 reads text as str
    assert [None if pd.isna(v) else v for v in window["label"]] == labels


def test_a_regressors_target_stays_numbers(tmp_path: Path) -> None:
    config = _config(
        _write("csv", _log(LABELS), tmp_path / "log"),
        **{
            "policy.performance_metric": {"name": "mae"},
            "policy.performance_threshold": 1.0,
            "policy.severe_performance_threshold": None,
            "model.estimator": "sklearn.linear_model.Ridge",
            "model.params": {},
        },
    )

    assert load_window(config, WINDOW)["label"].dtype == np.float64


def test_label_values_give_numpy_integers_for_nullable_ones() -> None:
    from tasks.stores.data import keep_integer_labels, label_values

    labels = keep_integer_labels(pd.Series([1.0, None, 0.0]))

    assert str(labels.dtype) == "Int64"
    values = label_values(labels.dropna())
    assert values.dtype == np.int64 and values.tolist() == [1, 0]
    assert label_values(pd.Series(["a", "b"])).tolist() == ["a", "b"]
