"""The policy on a window that fails a data-quality check: DATA-ISSUE (block) or a warning."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd

from tasks.config import PolicyConfig
from tasks.core.outcomes import monitor_events, status_without_retrain
from tasks.core.policy import PastRun, decide_retrain
from tasks.core.quality import QualityReport, QualityRules, check_quality, profile_reference
from tasks.core.reasons import codes
from tasks.core.signals import ColumnDrift, Performance, Signals

NOW = datetime(2014, 4, 1)
ONE_OF_ONE = {"breaches": 1, "runs": 1}


def _policy(confirmation: dict[str, int] = ONE_OF_ONE) -> PolicyConfig:
    return PolicyConfig.model_validate(
        {
            "performance_threshold": 0.6,
            "drift_threshold": 0.5,
            "confirmation": {"drift": confirmation, "performance": confirmation},
            "cooldown": "0d",
            "retrain_on_drift": True,
        }
    )


def _report(action: Literal["block", "warn"], broken: bool) -> QualityReport:
    """The report of a 60-row window whose wind column arrived empty (broken) or intact."""
    reference = pd.DataFrame({"wind": np.arange(60.0), "rain": np.arange(60.0) % 7})
    profile = profile_reference(reference, ["wind", "rain"], [], ["wind", "rain"])
    window = reference.assign(wind=np.nan) if broken else reference
    return check_quality(profile, window, QualityRules(action=action))


def _signals(quality: QualityReport | None) -> Signals:
    """A drifted window (rain) with a performance breach: today's policy retrains on it."""
    return Signals(
        current_rows=60,
        reference_rows=60,
        drift_share=1.0,
        columns=(ColumnDrift("rain", "K-S p_value", 0.01, 0.05, True),),
        performance=Performance("f1 (macro)", 0.3, 60, "champion"),
        quality=quality,
    )


def test_a_failed_check_blocks_the_retrain_with_decision_data_issue() -> None:
    assert decide_retrain(_signals(None), _policy(), as_of=NOW, champion="v1").retrain

    decision = decide_retrain(_signals(_report("block", True)), _policy(), as_of=NOW, champion="v1")

    assert decision.action == "data-issue"
    assert not decision.retrain
    assert decision.confirmed == ()
    assert codes(decision.reason_codes)[0] == "data-quality-failed"
    first = decision.reason_codes[0]
    assert first.params["failing_columns"] == ["wind"]
    assert first.params["failures"][0]["check"] == "missing"
    assert first.params["failures"][0]["value"] == 1.0
    assert "the data looks broken, not the model" in decision.reasons[0]
    # Its breaches are not judged, so the broken window never confirms a later breach.
    assert (decision.breaches.drift, decision.breaches.performance) == (None, None)
    assert decision.data_quality is not None and decision.data_quality.failed
    assert status_without_retrain(decision, _signals(None)) == "data-issue"


def test_warn_reports_the_failure_and_decides_as_without_it() -> None:
    decision = decide_retrain(_signals(_report("warn", True)), _policy(), as_of=NOW, champion="v1")

    assert decision.retrain
    warned = codes(decision.reason_codes).index("data-quality-warning")
    assert "reported only (data_quality.action warn)" in decision.reasons[warned]
    assert decision.reason_codes[warned].params["failing_columns"] == ["wind"]


def test_a_window_that_passes_adds_no_reason() -> None:
    decision = decide_retrain(
        _signals(_report("block", False)), _policy(), as_of=NOW, champion="v1"
    )
    assert decision.retrain
    assert not [c for c in codes(decision.reason_codes) if c.startswith("data-quality")]


def test_a_data_issue_emits_the_quality_event_with_its_numbers() -> None:
    signals = _signals(_report("block", True))
    decision = decide_retrain(signals, _policy(), as_of=NOW, champion="v1")

    events = dict(monitor_events(decision, signals))

    assert list(events) == ["data.quality-failed"]  # no drift or performance event
    payload = events["data.quality-failed"]
    assert payload["failing_columns"] == ["wind"]
    assert payload["failures"][0]["check"] == "missing"
    assert payload["action"] == "block"
    assert payload["decision"] == "data-issue"
    assert payload["summary"].startswith("the data looks broken, not the model: data quality")
    assert "wind missing share 1.000" in payload["summary"]


def test_earlier_data_issue_windows_do_not_confirm_a_breach() -> None:
    policy = _policy({"breaches": 2, "runs": 2})
    broken = decide_retrain(_signals(_report("block", True)), policy, as_of=NOW, champion="v1")
    earlier = PastRun(
        as_of=datetime(2014, 3, 1),
        champion="v1",
        drift_breach=broken.breaches.drift,
        prediction_drift_breach=broken.breaches.prediction_drift,
        performance_breach=broken.breaches.performance,
        retrained=False,
        promoted=False,
    )
    decision = decide_retrain(_signals(None), policy, [earlier], as_of=NOW, champion="v1")
    assert decision.action == "unconfirmed"
