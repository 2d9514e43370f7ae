"""The gate on a holdout that fails the data-quality checks: insufficient-evidence, with why."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from tasks.core.gate import Comparison, compare_models
from tasks.core.quality import QualityReport, QualityRules, check_quality, profile_reference
from tasks.core.reasons import codes
from tests.core.test_gate import HOLDOUT, _pair, _rules


def _holdout_quality(action: Literal["block", "warn"], broken: bool) -> QualityReport:
    """The report of a 400-row holdout whose wind column is in millimetres (broken) or metres."""
    reference = pd.DataFrame({"wind": np.linspace(0.0, 10.0, 400)})
    profile = profile_reference(reference, ["wind"], [], ["wind"])
    holdout = reference.assign(wind=reference["wind"] * 1000) if broken else reference
    return check_quality(profile, holdout, QualityRules(action=action))


def _compare(quality: QualityReport | None) -> Comparison:
    truth, challenger, champion = _pair(400, 200, 320)  # a clear win on a sound holdout
    return compare_models(
        comparison_id="20240101t000000-v0002-vs-v0001",
        model_name="seattle-weather",
        holdout_window=HOLDOUT,
        y_true=truth,
        rules=_rules(),
        champion=champion,
        challenger=challenger,
        holdout_quality=quality,
    )


def test_a_holdout_that_fails_the_checks_is_insufficient_evidence() -> None:
    assert _compare(None).verdict == "promote"
    assert _compare(_holdout_quality("block", False)).verdict == "promote"

    comparison = _compare(_holdout_quality("block", True))

    assert comparison.verdict == "insufficient-evidence"
    assert codes(comparison.reason_codes)[0] == "data-quality-holdout-failed"
    first = comparison.reason_codes[0]
    assert first.params["failing_columns"] == ["wind"]
    assert first.params["failures"][0]["check"] == "range"
    assert comparison.reasons[0].startswith(
        "insufficient evidence: the holdout fails the data-quality checks, so no model is "
        "judged on it: data quality failed in wind: wind range 0 to 1e+04"
    )


def test_warn_only_notes_a_failing_holdout() -> None:
    comparison = _compare(_holdout_quality("warn", True))

    assert comparison.verdict == "promote"
    assert "data-quality-warning" in codes(comparison.reason_codes)
