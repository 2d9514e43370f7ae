"""The Evidently adapter on real windows of the demo log."""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.adapters.evidently_report import _evidently_quiet, compute_signals
from tasks.config import Config, load_config
from tasks.core.metrics import score_predictions
from tasks.core.windows import Window
from tasks.errors import DataError
from tasks.stores.data import load_window


@pytest.fixture
def config(write_config) -> Config:
    return load_config(write_config())


def _window(config: Config, start: str, end: str) -> pd.DataFrame:
    return load_window(config, Window(datetime.fromisoformat(start), datetime.fromisoformat(end)))


def test_drift_between_2012_and_a_2014_quarter_is_detected_column_by_column(config, tmp_path):
    reference = _window(config, "2012-01-01", "2013-01-01")
    current = _window(config, "2014-01-01", "2014-04-01")
    predictions = np.full(len(current), "rain", dtype=object)

    signals = compute_signals(config, current, reference, predictions, "champion", tmp_path)

    by_column = {column.column: column for column in signals.columns}
    assert set(by_column) == {"precipitation", "temp_max", "temp_min", "wind"}
    # 366 reference rows: Evidently picks K-S (p-value, drift below 0.05).
    assert {c.method for c in signals.columns} == {"K-S p_value"}
    assert by_column["temp_max"].drifted and by_column["temp_max"].score < 0.05
    assert not by_column["precipitation"].drifted and by_column["precipitation"].score >= 0.05
    assert signals.drift_share == sum(c.drifted for c in signals.columns) / 4
    assert (signals.current_rows, signals.reference_rows) == (len(current), len(reference))


def test_same_distribution_shows_no_drift(config, tmp_path):
    frame = _window(config, "2014-01-01", "2016-01-01")
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    half = len(shuffled) // 2

    signals = compute_signals(
        config,
        shuffled.iloc[:half],
        shuffled.iloc[half:],
        shuffled["weather"].to_numpy()[:half],
        "champion",
        tmp_path,
    )

    assert signals.drift_share < 0.5


def test_per_column_method_and_threshold_are_used(write_config, tmp_path):
    config = load_config(
        write_config({"policy": {"column_drift": {"wind": {"method": "psi", "threshold": 0.2}}}})
    )
    reference = _window(config, "2012-01-01", "2013-01-01")
    current = _window(config, "2014-01-01", "2014-04-01")

    signals = compute_signals(
        config, current, reference, current["weather"].to_numpy(), "logged", tmp_path
    )

    wind = next(c for c in signals.columns if c.column == "wind")
    assert (wind.method, wind.threshold) == ("psi", 0.2)
    assert wind.drifted == (wind.score >= 0.2)


def test_performance_is_scored_on_labelled_rows_only_and_reports_are_saved(config, tmp_path):
    reference = _window(config, "2012-01-01", "2013-01-01")
    current = _window(config, "2013-01-01", "2013-07-01")
    rng = np.random.default_rng(1)
    labels = np.array(["rain", "sun", "fog", "drizzle", "snow"], dtype=object)
    predictions = np.where(
        rng.random(len(current)) < 0.6,
        current["weather"].fillna("sun"),
        rng.choice(labels, len(current)),
    )

    signals = compute_signals(config, current, reference, predictions, "champion", tmp_path / "r")

    labelled = current["weather"].notna().to_numpy()
    assert signals.performance is not None
    assert signals.performance.labelled_rows == labelled.sum() < len(current)
    expected = score_predictions(
        config.policy.performance_metric,
        current["weather"][labelled].tolist(),
        predictions[labelled].tolist(),
    )
    assert signals.performance.value == pytest.approx(expected)
    assert [Path(p).name for p in signals.report_paths] == ["drift.html", "performance.html"]


def test_evidently_agrees_with_our_macro_f1_when_three_or_more_classes_are_present(config):
    from evidently import DataDefinition, Dataset, MulticlassClassification, Report
    from evidently.metrics import F1Score

    current = _window(config, "2012-01-01", "2013-07-01").dropna(subset=["weather"])
    rng = np.random.default_rng(2)
    predictions = np.where(rng.random(len(current)) < 0.7, current["weather"], "sun")
    frame = pd.DataFrame({"target": current["weather"].to_numpy(), "prediction": predictions})
    metric = F1Score()
    definition = DataDefinition(
        classification=[MulticlassClassification(target="target", prediction_labels="prediction")]
    )
    snapshot = Report([metric]).run(Dataset.from_pandas(frame, data_definition=definition), None)

    ours = score_predictions(
        config.policy.performance_metric, frame["target"].tolist(), predictions.tolist()
    )
    assert float(snapshot.metric_results[metric.metric_id].value) == pytest.approx(ours)


def test_two_label_window_with_string_labels_does_not_crash(config, tmp_path):
    # Evidently treats two labels as binary with pos_label 1 and raised KeyError on strings.
    reference = _window(config, "2014-01-01", "2015-01-01")
    current = _window(config, "2014-04-01", "2014-07-01")
    current = current[current["weather"].isin(["sun", "fog"])].reset_index(drop=True)
    predictions = np.where(current["precipitation"] > 0, "fog", "sun")

    signals = compute_signals(config, current, reference, predictions, "champion", tmp_path)

    assert signals.performance is not None
    assert 0 < signals.performance.value < 1


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda f: f.assign(wind=np.nan),
            "columns ['wind'] are entirely empty in the current window",
        ),
        (lambda f: f.iloc[0:0], "the current window has no rows"),
    ],
)
def test_unusable_current_window_is_a_clear_error(config, tmp_path, mutate, message):
    reference = _window(config, "2012-01-01", "2013-01-01")
    current = mutate(_window(config, "2014-01-01", "2014-04-01"))

    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        compute_signals(
            config, current, reference, np.array(["sun"] * len(current)), "champion", tmp_path
        )


def test_single_class_window_is_monitored_without_a_crash(config, tmp_path):
    # Training on one class is an error; monitoring a window whose labels are all one class is not.
    reference = _window(config, "2012-01-01", "2013-01-01")
    current = _window(config, "2014-06-01", "2014-09-01")
    current = current.assign(weather=current["weather"].where(current["weather"].isna(), "sun"))
    predictions = np.where(current["precipitation"] > 0, "rain", "sun")

    signals = compute_signals(config, current, reference, predictions, "champion", tmp_path)

    assert signals.performance is not None
    assert signals.performance.labelled_rows == int(current["weather"].notna().sum())
    assert len(signals.columns) == 4


def test_unseen_categories_are_drift_not_a_crash(write_config, tmp_path):
    from tasks.adapters.modeling import fit_model, predict_labels

    base = load_config(write_config())
    config = base.model_copy(
        update={
            "data": base.data.model_copy(
                update={
                    "numerical_features": ["precipitation", "temp_max"],
                    "categorical_features": ["season"],
                }
            )
        }
    )

    def with_season(frame: pd.DataFrame, seasons: list[str]) -> pd.DataFrame:
        months = frame["timestamp"].dt.month
        return frame.assign(season=np.where(months < 7, seasons[0], seasons[1]))

    reference = with_season(_window(base, "2012-01-01", "2013-01-01"), ["cold", "warm"])
    current = with_season(_window(base, "2014-01-01", "2014-04-01"), ["monsoon", "monsoon"])
    model = fit_model(config, reference)

    predictions = predict_labels(model, current, config.data.features)
    signals = compute_signals(config, current, reference, predictions, "champion", tmp_path)

    assert len(predictions) == len(current)
    assert "season" in signals.drifted_columns


def test_without_a_report_directory_no_performance_report_is_built(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The backtest measures without HTML: Evidently's performance report would only be HTML
    # (the metric is score_predictions'), so it is not built; the signals are the same.
    from tasks.adapters import evidently_report

    reference = _window(config, "2012-01-01", "2013-01-01")
    current = _window(config, "2014-01-01", "2014-04-01")
    predictions = np.where(current["precipitation"] > 0, "rain", "sun").astype(object)
    with_html = compute_signals(config, current, reference, predictions, "champion", tmp_path)
    built: list[int] = []
    original = evidently_report._run_performance

    def counting(*args: object) -> object:
        built.append(1)
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(evidently_report, "_run_performance", counting)

    without = compute_signals(config, current, reference, predictions, "champion", None)

    assert built == []
    assert without.report_paths == ()
    assert without.performance is not None and with_html.performance is not None
    assert without.performance.value == pytest.approx(with_html.performance.value)
    assert [(c.column, c.drifted) for c in without.columns] == [
        (c.column, c.drifted) for c in with_html.columns
    ]
    assert [c.score for c in without.columns] == pytest.approx([c.score for c in with_html.columns])
    assert len(with_html.report_paths) == 2


def test_the_anderson_method_runs_under_warnings_as_errors(write_config, tmp_path):
    # scipy's anderson_ksamp warns on every call (its `midrank` argument is deprecated) and on
    # every p-value outside [0.001, 0.25] (capped, floored): neither may fail a user's run.
    config = load_config(write_config({"policy": {"drift_method": "anderson"}}))
    reference = _window(config, "2012-01-01", "2013-01-01")
    current = _window(config, "2014-01-01", "2014-04-01")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        signals = compute_signals(
            config, current, reference, current["weather"].to_numpy(), "logged", tmp_path
        )

    assert {c.method for c in signals.columns} == {"anderson"}
    by_column = {c.column: c for c in signals.columns}
    # p-values held at 0.001 and 0.25 still decide drift against the 0.1 threshold.
    assert all(c.threshold == pytest.approx(0.1) for c in signals.columns)
    assert all(c.drifted == (c.score < 0.1) for c in signals.columns)
    assert by_column["temp_max"].drifted and by_column["temp_max"].score <= 0.001 + 1e-9
    # Another UserWarning is not swallowed.
    with warnings.catch_warnings(), pytest.raises(UserWarning, match="not ours"):
        warnings.simplefilter("error")
        with _evidently_quiet():
            warnings.warn("not ours", UserWarning, stacklevel=1)
