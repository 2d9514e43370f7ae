"""The estimate agrees with NannyML's CBPE (0.13.1, the reference implementation) within 0.01.

NannyML is not a dependency (it pulls FLAML, XGBoost, LightGBM, NCCL and cloud storage clients,
about 1 GB): its estimates on the seeded frames below are kept in
tests/data/nannyml_cbpe.json. With the optional extra installed
(`.venv/bin/pip install --require-hashes -r requirements/nannyml.txt`), `test_the_recorded_numbers_are_nannyml_s`
recomputes them with NannyML; `python -m tests.core.test_estimate_nannyml` rewrites the file.

The frames go through `np.exp`, whose last bits depend on the SIMD code numpy dispatches to on
the CPU at hand: the inputs are checked against a recorded fingerprint with a tolerance (column
sums and label counts), never against the bytes of the floats.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tasks.config import MetricConfig, MetricName
from tasks.core.estimate import estimate_metric, fit_calibration
from tests.helpers import ROOT

RECORDED = Path(__file__).resolve().parent.parent / "data" / "nannyml_cbpe.json"
REFERENCE_ROWS = 3000
CHUNK_ROWS = 1000
CHUNKS = 4
METRICS: tuple[MetricName, ...] = ("f1", "precision", "recall", "accuracy")
TOLERANCE = 0.01


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def make_frames(classes: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and analysis frames of a miscalibrated model (its probabilities are flatter
    than the truth's); the analysis side has covariate shift (its scores move)."""
    rng = np.random.default_rng(7 + classes)

    def frame(rows: int, shift: float) -> pd.DataFrame:
        logits = rng.normal(0.0, 1.2, size=(rows, classes))
        logits[:, 0] += shift
        model = _softmax(logits)
        truth = _softmax(1.6 * logits)
        labels = np.array([rng.choice(classes, p=row) for row in truth])
        data = pd.DataFrame(model, columns=[f"p{c}" for c in range(classes)])
        data["y_pred"] = model.argmax(axis=1)
        data["y_true"] = labels
        return data

    return frame(REFERENCE_ROWS, 0.0), frame(CHUNK_ROWS * CHUNKS, 0.8)


def fingerprint(classes: int) -> dict[str, Any]:
    """What identifies the seeded frames on any CPU: rows, label counts, probability sums.

    A change of numpy's random stream moves the sums by far more than the 1e-9 relative
    tolerance they are compared with; the last bits `np.exp` gives on another CPU do not.
    """
    reference, analysis = make_frames(classes)
    probabilities = [f"p{c}" for c in range(classes)]
    return {
        name: {
            "rows": len(data),
            "y_true": {
                str(k): int(v) for k, v in data["y_true"].value_counts().sort_index().items()
            },
            "y_pred": {
                str(k): int(v) for k, v in data["y_pred"].value_counts().sort_index().items()
            },
            "sums": {c: float(data[c].sum()) for c in probabilities},
            "sums_of_squares": {c: float((data[c] ** 2).sum()) for c in probabilities},
        }
        for name, data in (("reference", reference), ("analysis", analysis))
    }


def check_inputs(classes: int, recorded: dict[str, Any]) -> None:
    """Fail if the seeded frames are not the ones NannyML's numbers were recorded on."""
    now = fingerprint(classes)
    for side in ("reference", "analysis"):
        mine, theirs = now[side], recorded[side]
        same = (
            mine["rows"] == theirs["rows"]
            and mine["y_true"] == theirs["y_true"]
            and mine["y_pred"] == theirs["y_pred"]
            and all(
                mine[key] == pytest.approx(theirs[key], rel=1e-9, abs=0)
                for key in ("sums", "sums_of_squares")
            )
        )
        assert same, (
            f"the seeded {side} frame changed (numpy's random stream?): {mine} != {theirs}; "
            "rerun `python -m tests.core.test_estimate_nannyml` with the nannyml extra installed"
        )


def _metric(name: MetricName, classes: int) -> MetricConfig:
    if classes == 2 and name != "accuracy":
        return MetricConfig(name=name, average="binary", pos_label=1)
    return MetricConfig(name=name)


def ours(classes: int) -> dict[str, list[float]]:
    """Our estimate of each metric on each analysis chunk, calibrated on the reference."""
    reference, analysis = make_frames(classes)
    columns = [f"p{c}" for c in range(classes)]
    calibration = fit_calibration(
        list(range(classes)),
        reference[columns].to_numpy(),
        reference["y_true"].to_numpy(),
        metric="test",
        holdout_score=0.0,
    )
    result: dict[str, list[float]] = {}
    for name in METRICS:
        result[name] = [
            estimate_metric(
                _metric(name, classes),
                calibration,
                chunk[columns].to_numpy(),
                chunk["y_pred"].to_numpy(),
            )
            for chunk in (
                analysis.iloc[start : start + CHUNK_ROWS]
                for start in range(0, len(analysis), CHUNK_ROWS)
            )
        ]
    return result


def nannyml_estimates(classes: int) -> dict[str, list[float]]:
    """NannyML's CBPE on the same frames and chunks (needs the optional extra)."""
    os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # it reports usage over the network otherwise
    import nannyml

    reference, analysis = make_frames(classes)
    columns = [f"p{c}" for c in range(classes)]
    estimator = nannyml.CBPE(
        y_pred_proba=columns[1] if classes == 2 else dict(enumerate(columns)),
        y_pred="y_pred",
        y_true="y_true",
        metrics=list(METRICS),
        chunk_size=CHUNK_ROWS,
        problem_type="classification_binary" if classes == 2 else "classification_multiclass",
    )
    with warnings.catch_warnings():
        # a handful of 1,000-row chunks is what this comparison needs
        warnings.filterwarnings("ignore", "The resulting number of chunks is too low")
        estimator.fit(reference)
        table = estimator.estimate(analysis).filter(period="analysis").to_df()
    return {name: [float(v) for v in table[(name, "value")]] for name in METRICS}


def _recorded() -> dict[str, Any]:
    return json.loads(RECORDED.read_text())


@pytest.mark.parametrize("classes", [2, 3])
def test_the_estimate_agrees_with_nannyml(classes: int) -> None:
    recorded = _recorded()[str(classes)]
    check_inputs(classes, recorded["inputs"])

    mine = ours(classes)

    for name in METRICS:
        assert len(mine[name]) == len(recorded[name]) == CHUNKS
        for index, (value, reference_value) in enumerate(
            zip(mine[name], recorded[name], strict=True)
        ):
            assert abs(value - reference_value) <= TOLERANCE, (name, index, value, reference_value)


def _simd_levels() -> tuple[list[str], list[str]]:
    """The SIMD levels numpy can dispatch to above its baseline, and those this CPU runs."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return list(__cpu_dispatch__), [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]


def test_the_inputs_match_the_record_without_the_cpu_s_simd_extensions() -> None:
    # An older CPU (no AVX-512, no AVX2) gets other last bits from np.exp: emulate it by
    # switching off every SIMD level numpy can dispatch to, in a fresh interpreter.
    disabled = " ".join(_simd_levels()[0])
    script = (
        "import json, sys\n"
        "from tests.core.test_estimate_nannyml import _recorded, _simd_levels, check_inputs\n"
        "assert _simd_levels()[1] == [], _simd_levels()\n"
        "for classes in (2, 3):\n"
        "    check_inputs(classes, _recorded()[str(classes)]['inputs'])\n"
        "print('inputs agree')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "NPY_DISABLE_CPU_FEATURES": disabled, "OPENBLAS_CORETYPE": "Nehalem"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0 and "inputs agree" in result.stdout, result.stderr[-3000:]


@pytest.mark.parametrize("classes", [2, 3])
def test_the_recorded_numbers_are_nannyml_s(classes: int) -> None:
    pytest.importorskip(
        "nannyml",
        reason="the optional extra: pip install --require-hashes -r requirements/nannyml.txt",
    )
    live = nannyml_estimates(classes)

    recorded = _recorded()[str(classes)]
    mine = ours(classes)

    for name in METRICS:
        assert live[name] == pytest.approx(recorded[name], abs=1e-12)
        assert mine[name] == pytest.approx(live[name], abs=TOLERANCE)


def record() -> None:
    """Rewrite tests/data/nannyml_cbpe.json from NannyML (needs the optional extra)."""
    data = {}
    for classes in (2, 3):
        data[str(classes)] = {"inputs": fingerprint(classes), **nannyml_estimates(classes)}
    RECORDED.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    record()
