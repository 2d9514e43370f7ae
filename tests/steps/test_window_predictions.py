"""The window's predictions: logged ones taken as they are, the champion's where missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.steps.monitoring import _window_predictions
from tests.helpers import repo_config


@pytest.mark.parametrize(
    "logged",
    [
        np.array([1, 0, 2], dtype=np.int64),
        np.array([1.0, 0.0, 2.0]),
        np.array([True, False, True]),
        np.array(["rain", "sun", "rain"], dtype=object),
    ],
)
def test_logged_predictions_keep_the_dtype_the_conversion_gives(
    tmp_path: Path, logged: np.ndarray
) -> None:
    config = repo_config({"data.prediction_column": "logged"}, tmp_path)
    current = pd.DataFrame({"logged": logged})

    predictions, source = _window_predictions(
        config, current, np.zeros(len(current), dtype=bool), None
    )

    # As every path gives them: one numpy dtype inferred from the values.
    expected = pd.Series(current["logged"].to_numpy(dtype=object)).infer_objects().to_numpy()
    assert source == "logged"
    assert predictions.dtype == expected.dtype
    assert predictions.tolist() == expected.tolist()
    predictions[0] = predictions[1]  # a copy: the window keeps its column
    assert current["logged"].tolist() == logged.tolist()
