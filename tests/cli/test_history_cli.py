"""The monitoring history CLI: a table of the runs, a PNG over time, clear errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from tasks.cli.history import main
from tasks.config import HistoryConfig, PolicyConfig
from tasks.core.policy import Breaches, TriggerDecision, decide_retrain
from tasks.core.quality import QualityRules, check_quality, profile_reference
from tasks.core.signals import ColumnDrift, Performance, Signals
from tasks.stores.history import RunRecord, open_history
from tests.processes import free_port

START = datetime(2014, 1, 1)


def _record(
    day: int, performance: float | None, status: str, metric: str = "f1 (macro)"
) -> RunRecord:
    breach = performance is not None and performance < 0.45
    decision = TriggerDecision(
        action="retrain" if status in ("promoted", "rejected") else "none",
        reasons=("because",),
        breaches=Breaches(drift=day >= 60, prediction_drift=None, performance=breach, severe=False),
        drift_share=0.25 if day < 60 else 0.75,
        drift_threshold=0.5,
        prediction_drift_score=None,
        performance=performance,
        performance_threshold=0.45,
        severe_performance_threshold=None,
        labelled_rows=80 if performance is not None else 0,
        labelled_period=None,
        current_rows=90,
        confirmed=(),
        last_retrain_as_of=None,
        metric=metric,
    )
    return RunRecord(
        as_of=START + timedelta(days=day),
        champion="v0001",
        decision=decision,
        status=status,
        retrained=status in ("promoted", "rejected"),
        promoted=status == "promoted",
        details={},
    )


@pytest.fixture
def history_config(write_config: Callable[..., Path], tmp_path: Path) -> Path:
    config_path = write_config({"registry": {"path": str(tmp_path / "registry")}})
    history = open_history(tmp_path / "registry")
    runs = [(0, 0.71, "healthy"), (30, None, "insufficient-data"), (60, 0.40, "rejected")]
    runs.append((90, 0.30, "promoted"))
    for day, performance, status in runs:
        history.record("seattle-weather", _record(day, performance, status))
    # A regressor sharing the registry: its own metric and thresholds, recorded with its runs.
    mae = replace(_record(0, 14.2, "healthy"), champion="v0003")
    mae = replace(
        mae,
        decision=replace(
            mae.decision,
            metric="mae",
            performance_threshold=12.5,
            drift_threshold=0.3,
            higher_is_better=False,
        ),
    )
    history.record("another-model", mae)
    return config_path


def test_show_prints_every_run_oldest_first_with_breaches_and_actions(
    history_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "--config", str(history_config)]) == 0

    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("2014-")]
    assert [line[:10] for line in lines] == ["2014-01-01", "2014-01-31", "2014-03-02", "2014-04-01"]
    assert "4 runs; f1 (macro) threshold 0.450, drift share threshold 0.500" in out
    # the metric, then its label-free estimate (none recorded for these runs)
    assert lines[0].split()[-4:] == ["0.710", "n/a", "none", "healthy"]
    assert "f1 (macro) estimated  decision" in out
    assert "n/a" in lines[1] and "insufficient-data" in lines[1]
    # A breach is marked with !, a retrain with R and a promotion with P.
    assert "0.750!" in lines[2] and "0.400!" in lines[2] and lines[2].endswith(" R")
    assert lines[3].endswith(" P") and "promoted" in lines[3]


def test_show_last_and_another_model(
    history_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "--config", str(history_config), "--last", "2"]) == 0
    out = capsys.readouterr().out
    assert [line[:10] for line in out.splitlines() if line.startswith("2014-")] == [
        "2014-03-02",
        "2014-04-01",
    ]

    assert main(["show", "--config", str(history_config), "--model", "another-model"]) == 0
    out = capsys.readouterr().out
    assert "monitoring history of another-model: 1 run;" in out
    assert "14.200" in out


def test_another_model_is_labelled_with_its_own_metric_and_thresholds(
    history_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The config is seattle-weather's (f1, 0.45): another model's numbers keep their own.
    assert main(["show", "--config", str(history_config), "--model", "another-model"]) == 0

    out = capsys.readouterr().out
    assert "mae threshold 12.500, drift share threshold 0.300" in out
    assert "f1" not in out and "0.450" not in out
    assert "         mae estimated  decision" in out


def test_runs_that_did_not_record_their_metric_are_not_labelled_with_another_models(
    history_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A run recorded before runs kept their metric: the config's (seattle-weather's) is not it.
    old = _record(0, 14.2, "healthy", metric="")
    open_history(history_config.parent / "registry").record("old-model", old)

    assert main(["show", "--config", str(history_config), "--model", "old-model"]) == 0

    out = capsys.readouterr().out
    assert "1 run; metric and thresholds not recorded" in out
    assert "f1" not in out
    assert "show them with that model's config (--config)" in out


def test_an_unknown_model_is_an_error_naming_the_models_it_has(
    history_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "--config", str(history_config), "--model", "nope"]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error: no monitor runs of nope in " in captured.err
    assert "it has runs of another-model, seattle-weather (--model NAME)" in captured.err


def test_plot_writes_a_png_of_the_runs_shown(
    history_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "plots" / "history.png"

    assert main(["show", "--config", str(history_config), "--plot", str(target)]) == 0

    assert f"plot: {target}" in capsys.readouterr().out
    image = matplotlib.image.imread(target)
    assert image.shape[0] > 400 and image.shape[1] > 800


def test_no_history_is_a_clear_error(
    write_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = write_config({"registry": {"path": str(tmp_path / "empty")}})

    assert main(["show", "--config", str(config_path)]) == 2

    assert "no monitoring history at" in capsys.readouterr().err


def test_plot_of_an_unknown_model_is_a_clear_error(
    history_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "show",
            "--config",
            str(history_config),
            "--model",
            "nobody",
            "--plot",
            str(tmp_path / "x.png"),
        ]
    )

    assert code == 2
    assert "no monitor runs of nobody in" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_the_estimate_and_its_breach_are_shown_next_to_the_metric() -> None:
    from tasks.render.history import HistoryView, render_monitoring_history

    row = {
        "as_of": "2014-05-01T00:00:00",
        "champion": "v0002",
        "current_rows": 90,
        "labelled_rows": 0,
        "drift_share": 0.25,
        "drift_breach": 0,
        "performance": None,
        "performance_breach": None,
        "estimated_performance": 0.412,
        "estimated_performance_breach": 1,
        "decision": "retrain",
        "status": "promoted",
        "retrained": 1,
        "promoted": 1,
    }

    text = render_monitoring_history(HistoryView("m", "f1 (macro)", 0.45, 0.5, [row]))

    (line,) = [line for line in text.splitlines() if line.startswith("2014-")]
    # "-": the run recorded no data-quality report.
    assert line.split()[5:10] == ["-", "0.250", "n/a", "0.412!", "retrain"]


def _row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "as_of": "2014-05-01T00:00:00",
        "champion": "v0001",
        "current_rows": 90,
        "labelled_rows": 80,
        "drift_share": 0.75,
        "drift_breach": 1,
        "performance": 0.3,
        "performance_breach": 1,
        "decision": "retrain",
        "status": "retrain-requested",
        "retrained": 1,
        "promoted": 0,
        "details": "{}",
    }
    return {**row, **changes}


@pytest.mark.parametrize(
    ("changes", "outcome", "flag"),
    [
        # events mode: the promote run has not recorded its verdict (yet): not "rejected"
        ({}, "no verdict", "R?"),
        ({"status": "retrain-dropped"}, "no verdict", "R?"),
        ({"status": "rejected"}, "rejected", "R"),
        ({"status": "promoted", "promoted": 1}, "promoted", "P"),
        # the promote run recorded the verdict on the window a rerun had replaced
        ({"status": "cooldown", "promoted": 1}, "promoted", "P"),
        (
            {"status": "cooldown", "details": '{"replaced": [{"status": "rejected"}]}'},
            "rejected",
            "R",
        ),
        ({"retrained": 0, "status": "healthy"}, None, ""),
    ],
)
def test_a_retrain_is_labelled_by_what_became_of_it(
    changes: dict[str, object], outcome: str | None, flag: str
) -> None:
    from tasks.render.history import HistoryView, render_monitoring_history, retrain_outcome

    row = _row(**changes)

    assert retrain_outcome(row) == outcome
    text = render_monitoring_history(HistoryView("m", "f1 (macro)", 0.45, 0.5, [row]))
    (line,) = [line for line in text.splitlines() if line.startswith("2014-")]
    assert line.endswith(f" {flag}" if flag else str(row["status"]))


def test_a_history_url_whose_database_is_down_is_a_clear_error_without_its_password(
    write_config: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    password = "pw-0c4e7a"
    url = f"postgresql+psycopg://loop:{password}@127.0.0.1:{free_port()}/history"
    monkeypatch.setenv("AUTORETRAIN_TEST_HISTORY_URL", url)
    config_path = write_config({"history": {"url": "${AUTORETRAIN_TEST_HISTORY_URL}"}})

    assert main(["show", "--config", str(config_path)]) == 2

    captured = capsys.readouterr()
    assert captured.err.startswith(
        "error: cannot open the monitoring history history.url (from "
        "$AUTORETRAIN_TEST_HISTORY_URL): "
    )
    assert password not in captured.out + captured.err


def test_a_sqlite_history_url_is_shown_from_there(
    write_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared" / "history.db"
    shared.parent.mkdir()
    url = f"sqlite:///{shared}"
    open_history(tmp_path / "unused", HistoryConfig.model_validate({"url": url})).record(
        "seattle-weather", _record(0, 0.71, "healthy")
    )
    config_path = write_config(
        {"registry": {"path": str(tmp_path / "registry")}, "history": {"url": url}}
    )

    assert main(["show", "--config", str(config_path)]) == 0
    assert "monitoring history of seattle-weather: 1 run;" in capsys.readouterr().out
    assert main(["show", "--config", str(config_path), "--model", "nope"]) == 2
    assert f"error: no monitor runs of nope in {url};" in capsys.readouterr().err
    assert not (tmp_path / "registry").exists() and not (tmp_path / "unused").exists()


def test_a_data_issue_run_shows_the_drift_share_of_the_other_columns(
    write_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The window's wind arrived empty (not drift-tested); 1 of the other 3 columns drifted.
    reference = pd.DataFrame({"wind": np.arange(60.0), "rain": np.arange(60.0) % 7})
    profile = profile_reference(reference, ["wind", "rain"], [], ["wind", "rain"])
    quality = check_quality(profile, reference.assign(wind=np.nan), QualityRules())
    signals = Signals(
        current_rows=60,
        reference_rows=60,
        drift_share=1 / 3,
        columns=(
            ColumnDrift("rain", "K-S p_value", 0.01, 0.05, True),
            ColumnDrift("temp_max", "K-S p_value", 0.4, 0.05, False),
            ColumnDrift("temp_min", "K-S p_value", 0.6, 0.05, False),
        ),
        performance=Performance("f1 (macro)", 0.3, 60, "champion"),
        quality=quality,
    )
    policy = PolicyConfig.model_validate({"performance_threshold": 0.45, "drift_threshold": 0.5})
    decision = decide_retrain(signals, policy, as_of=START, champion="v0001")
    assert decision.action == "data-issue"
    config_path = write_config({"registry": {"path": str(tmp_path / "registry")}})
    open_history(tmp_path / "registry").record(
        "seattle-weather",
        RunRecord(START, "v0001", decision, "data-issue", False, False, {}),
    )

    assert main(["show", "--config", str(config_path)]) == 0

    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("as of"))
    (run,) = [line for line in out.splitlines() if line.startswith("2014-01-01")]
    at = header.index("drift") + len("drift")
    # The share the monitor's summary shows ("share of drifted columns 0.33"); no breach mark:
    # a data-issue run's breaches are not judged.
    assert float(run[at - 7 : at]) == pytest.approx(1 / 3, abs=5e-4)
    assert "data-issue" in run.split()
