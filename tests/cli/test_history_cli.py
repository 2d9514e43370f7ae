"""The monitoring history CLI: a table of the runs, a PNG over time, clear errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import matplotlib.image
import pytest

from tasks.cli.history import main
from tasks.core.policy import Breaches, TriggerDecision
from tasks.stores.history import RunRecord, open_history

START = datetime(2014, 1, 1)


def _record(day: int, performance: float | None, status: str) -> RunRecord:
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
    history.record("another-model", _record(0, 0.9, "healthy"))
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
    assert "monitoring history of another-model: 1 runs" in out
    assert "0.900" in out


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
    assert "no runs of nobody to plot" in capsys.readouterr().err
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
    assert line.split()[5:9] == ["0.250", "n/a", "0.412!", "retrain"]
