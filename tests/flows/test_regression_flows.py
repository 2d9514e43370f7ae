"""A regressor end to end on real data: the UK seat belt law of 1983 (examples/seatbelts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from flows.backtest import backtest_flow
from flows.monitor import monitor_flow
from flows.promote import promote_flow
from flows.rollback import rollback_flow
from tasks.adapters.modeling import fit_model
from tasks.config import load_config
from tasks.core.windows import plan_windows, resolve_as_of
from tasks.render.reporting import render_summary
from tasks.stores.data import load_window
from tasks.stores.registry import LocalRegistry
from tests.helpers import LATENCY_GUARD_ASIDE, REPO_ROOT, make_lineage, merge

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

EXAMPLE = REPO_ROOT / "examples" / "seatbelts" / "config.yaml"


def _seatbelts_config(tmp_path: Path) -> Path:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["data"]["source"]["path"] = str(REPO_ROOT / "data" / "seatbelts")
    raw["registry"]["path"] = str(tmp_path / "registry")
    raw["reports"]["path"] = str(tmp_path / "reports")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(merge(raw, LATENCY_GUARD_ASIDE), sort_keys=False))
    return path


def _register_worse_challenger(config_path: Path) -> str:
    """A regressor fitted on the training window with its targets shuffled."""
    config = load_config(config_path)
    plan = plan_windows(config, resolve_as_of(config))
    training = load_window(config, plan.training, labelled_only=True)
    shuffled = training.assign(
        front=np.random.default_rng(0).permutation(training["front"].to_numpy())
    )
    registry = LocalRegistry(config.registry.path, config.name)
    record = registry.register(
        fit_model(config, shuffled),
        shuffled,
        make_lineage(
            estimator=config.model.estimator,
            training_window=plan.training.to_dict(),
            training_rows=len(shuffled),
            data_fingerprint="shuffled",
            source="test: shuffled targets",
            reason="deliberately worse",
        ),
    )
    registry.set_alias("challenger", record.version, reason="test", action="register")
    return record.version


def test_regressor_is_monitored_retrained_promoted_and_rolled_back(tmp_path):
    config_path = _seatbelts_config(tmp_path)

    result = monitor_flow(str(config_path))

    # The first champion (1976-1981) passes its floor on 1982, before the law.
    assert result.bootstrap is not None and result.bootstrap.verdict == "promote"
    # 1984, under the law: front-seat casualties fell, the champion overpredicts them.
    performance = result.signals.performance
    assert performance is not None and performance.metric == "mae"
    assert performance.value > 150  # severe: above severe_performance_threshold
    assert result.decision.retrain and result.decision.higher_is_better is False
    assert result.signals.target_drift is not None and result.signals.target_drift.drifted
    assert result.signals.prediction_drift is not None
    assert result.signals.prediction_drift.method == "K-S p_value"
    assert result.status == "promoted"
    assert (result.champion_before, result.champion_after) == ("v0001", "v0002")
    comparison = result.comparison
    assert comparison is not None and comparison.verdict == "promote"
    assert comparison.champion is not None and comparison.champion.errors["bias"] > 100
    assert comparison.interval is not None and comparison.interval.lower > 10
    # 6 holdout months: the smallest two-sided sign-flip p-value is 2 / 2**6 = 0.031.
    assert comparison.permutation is not None and comparison.permutation.p_value < 0.05
    assert [g.name.split(" (")[0] for g in comparison.guards] == [
        "rmse",
        "|bias|",
        "p90 abs error",
        "latency ms per 1k rows",
        "model size bytes",
    ]
    summary = render_summary(result)
    assert "performance mae " in summary and "lower is better" in summary
    # The bar that follows the champion: 1.25x its own holdout error (performance_drop 0.25).
    holdout, limit = result.decision.holdout_score, result.decision.performance_drop_limit
    assert holdout is not None and limit == pytest.approx(1.25 * holdout)
    assert f"or {limit:.3f} from the champion's holdout score {holdout:.3f}" in summary
    assert "improvement (champion - challenger, lower is better)" in summary
    report_names = sorted(Path(p).name for p in result.signals.report_paths)
    assert report_names == ["drift.html", "performance.html"]

    # A challenger trained on shuffled targets is rejected; the champion stays.
    worse = _register_worse_challenger(config_path)
    outcome = promote_flow(str(config_path), challenger_version=worse)

    assert outcome.status == "rejected"
    assert outcome.comparison is not None and outcome.comparison.verdict == "reject"
    registry = LocalRegistry(tmp_path / "registry", "uk-seatbelts")
    assert registry.get_alias("champion") == "v0002"

    message = rollback_flow(str(config_path), reason="regression rollback", actor="on-call")

    assert message == (
        "champion of uk-seatbelts: v0002 -> v0001 (rollback by on-call: regression rollback)"
    )
    assert registry.get_alias("champion") == "v0001"


def test_backtest_of_a_regressor_is_direction_aware(tmp_path):
    config_path = _seatbelts_config(tmp_path)

    result = backtest_flow(
        str(config_path),
        step="91d",
        output=str(tmp_path / "backtest"),
        strategies=["policy", "never", "every-window"],
    )

    assert result.higher_is_better is False
    policy, never = result.get("policy"), result.get("never")
    assert policy.promotions >= 1
    assert never.retrains == 0
    # Lower is better: retraining after the law cuts the error the never-retrained model keeps.
    assert policy.mean_metric is not None and never.mean_metric is not None
    assert policy.mean_metric < never.mean_metric
    assert (tmp_path / "backtest" / "backtest.csv").is_file()
