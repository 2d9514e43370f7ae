"""The one adapter to Evidently: runs the drift and performance reports, returns plain Signals.

Evidently is imported inside the functions: importing it costs ~3 s and ~280 MB.
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning

from tasks.config import Config
from tasks.core.drift_tests import SUPPORTED, current_side, drift_of_column
from tasks.core.frames import sample_with_column, with_columns
from tasks.core.metrics import score_predictions
from tasks.core.numbers import format_number
from tasks.core.profiles import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    ReferenceProfile,
    text_counts,
)
from tasks.core.signals import ColumnDrift, Performance, PredictionSource, Signals
from tasks.errors import DataError
from tasks.stores.data import label_values
from tasks.stores.files import write_bytes_atomic

logger = logging.getLogger(__name__)

PREDICTION = "__prediction__"
TARGET = "__target__"  # a regressor's target, tested for drift beside the features


def _check_not_empty_columns(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    empty = [c for c in columns if frame[c].isna().all()]
    if empty:
        raise DataError(
            f"columns {empty} are entirely empty in the {what}; drift cannot be tested on them. "
            "Fix the data, or remove them from the features"
        )


def _metric_object(config: Config) -> Any:
    from evidently.metrics import Accuracy, F1Score, Precision, Recall

    metric_class = {"f1": F1Score, "precision": Precision, "recall": Recall, "accuracy": Accuracy}
    return metric_class[config.policy.performance_metric.name]()


def _classification_definition(config: Config, labels: list[Any]) -> Any:
    from evidently import BinaryClassification, MulticlassClassification

    metric = config.policy.performance_metric
    target = config.data.target_column
    if metric.average == "binary":
        return BinaryClassification(
            target=target, prediction_labels=PREDICTION, pos_label=metric.pos_label
        )
    if len(labels) == 2:
        # Evidently treats any two-label data as binary with pos_label 1 and fails on other
        # labels; name one so its report renders (the signal's value comes from score_predictions).
        return BinaryClassification(
            target=target, prediction_labels=PREDICTION, pos_label=labels[1]
        )
    return MulticlassClassification(target=target, prediction_labels=PREDICTION)


def _run_drift(
    config: Config,
    current: pd.DataFrame,
    reference: pd.DataFrame,
    prediction_pair: tuple[np.ndarray, np.ndarray] | None,
    features: list[str] | None = None,
) -> tuple[Any, list[Any], Any | None, Any | None]:
    """Drift of each feature (of features, when given) and, given (current, reference)
    predictions, of the predictions; for a regressor with labelled rows, of the target too."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    data = config.data
    policy = config.policy
    features = list(data.features) if features is None else features
    current_frame, reference_frame = current[features], reference[features]
    categorical = [c for c in data.categorical_features if c in features]
    column_metrics = []
    for column in features:
        override = policy.column_drift.get(column)
        column_metrics.append(
            ValueDrift(
                column=column,
                method=(override.method if override and override.method else policy.drift_method),
                threshold=override.threshold if override else None,
            )
        )
    numerical = [c for c in data.numerical_features if c in features]
    regression = policy.performance_metric.is_regression
    prediction_metric = None
    # Added columns, joined in one concat below: inserting them one by one into a wide frame
    # (one block per column) makes pandas warn that it is highly fragmented.
    current_extra: dict[str, Any] = {}
    reference_extra: dict[str, Any] = {}
    if prediction_pair is not None:
        settings = policy.prediction_drift
        if regression:
            # A regressor's predictions are numbers: Evidently's numeric methods (K-S, Wasserstein).
            current_extra[PREDICTION] = prediction_pair[0].astype(np.float64)
            reference_extra[PREDICTION] = prediction_pair[1].astype(np.float64)
            numerical.append(PREDICTION)
        else:
            # Predicted labels are categories, whatever their type.
            current_extra[PREDICTION] = prediction_pair[0].astype(str)
            reference_extra[PREDICTION] = prediction_pair[1].astype(str)
            categorical.append(PREDICTION)
        prediction_metric = ValueDrift(
            column=PREDICTION, method=settings.method, threshold=settings.threshold
        )
    target_metric = None
    if regression and _has_labels(current, reference, data.target_column):
        # The target's own drift: labelled current rows against the reference's targets.
        target = data.target_column
        current_extra[TARGET] = pd.to_numeric(current[target], errors="coerce").to_numpy()
        reference_extra[TARGET] = pd.to_numeric(reference[target], errors="coerce").to_numpy()
        numerical.append(TARGET)
        target_metric = ValueDrift(column=TARGET, method=policy.drift_method)
    current_frame = with_columns(current_frame, current_extra)
    reference_frame = with_columns(reference_frame, reference_extra)
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    extra = [m for m in (prediction_metric, target_metric) if m is not None]
    # No DriftedColumnsCount: it tests every column again; the share is counted from these.
    report = Report([*column_metrics, *extra], include_tests=True)
    snapshot = report.run(
        Dataset.from_pandas(current_frame, data_definition=definition),
        Dataset.from_pandas(reference_frame, data_definition=definition),
    )
    return snapshot, column_metrics, prediction_metric, target_metric


def _has_labels(current: pd.DataFrame, reference: pd.DataFrame, target: str) -> bool:
    """Enough labelled rows on both sides for the target's drift test (at least 2 each)."""
    if target not in current or target not in reference:
        return False
    return bool(current[target].notna().sum() >= 2 and reference[target].notna().sum() >= 2)


def _read_column_drift(snapshot: Any, metric: Any) -> ColumnDrift:
    result = snapshot.metric_results[metric.metric_id]
    test = result.tests[0]  # ValueDrift's own drift test: FAIL means drifted
    params = test.metric_config.params
    return ColumnDrift(
        column=metric.column,
        method=str(params.get("method")),
        score=float(result.value),
        threshold=float(params.get("threshold")),
        drifted=test.status.value == "FAIL",
    )


def _run_regression(config: Config, labelled: pd.DataFrame, predictions: np.ndarray) -> Any | None:
    """Evidently's regression report (errors, predicted vs actual) of the labelled rows."""
    from evidently import DataDefinition, Dataset, Regression, Report
    from evidently.presets import RegressionPreset

    target = config.data.target_column
    frame = pd.DataFrame(
        {
            target: pd.to_numeric(labelled[target], errors="coerce").to_numpy(dtype=np.float64),
            PREDICTION: np.asarray(predictions, dtype=np.float64),
        }
    ).dropna()
    if len(frame) < 2:
        return None
    definition = DataDefinition(regression=[Regression(target=target, prediction=PREDICTION)])
    # RegressionPreset(include_tests=False) fails in 0.7.23 (KeyError when rendering): keep tests.
    return Report([RegressionPreset()]).run(
        Dataset.from_pandas(frame, data_definition=definition), None
    )


def _run_performance(config: Config, labelled: pd.DataFrame, predictions: np.ndarray) -> Any | None:
    """Evidently's classification report of the labelled rows; None when it cannot render one."""
    from evidently import DataDefinition, Dataset, Report

    if config.policy.performance_metric.is_regression:
        return _run_regression(config, labelled, predictions)
    target = config.data.target_column
    frame = pd.DataFrame({target: labelled[target].to_numpy(), PREDICTION: predictions})
    labels = sorted(set(frame[target]) | set(frame[PREDICTION]), key=str)
    if len(labels) < 2:
        return None  # Evidently's classification metrics fail on a single class
    definition = DataDefinition(classification=[_classification_definition(config, labels)])
    return Report([_metric_object(config)]).run(
        Dataset.from_pandas(frame, data_definition=definition), None
    )


def report_sample_rows(config: Config) -> int:
    """Rows per side the HTML reports are drawn on: drift_rows when drift is sampled, else
    report_rows."""
    sampling = config.sampling
    return sampling.drift_rows if sampling.drift_rows is not None else sampling.report_rows


def compute_signals(
    config: Config,
    current: pd.DataFrame,
    reference: pd.DataFrame,
    predictions: np.ndarray,
    prediction_source: PredictionSource,
    report_dir: Path | None,
    reference_predictions: np.ndarray | None = None,
    timestamps: pd.Series | None = None,
    reference_total_rows: int | None = None,
    profile: ReferenceProfile | None = None,
    skip_columns: Sequence[str] = (),
) -> Signals:
    """Drift of the current window against the reference, performance on its labelled rows,
    and, with report_dir, both Evidently reports saved there as HTML (measure_signals, then
    ReportDrawing.draw)."""
    signals, drawing = measure_signals(
        config,
        current,
        reference,
        predictions,
        prediction_source,
        reference_predictions=reference_predictions,
        timestamps=timestamps,
        reference_total_rows=reference_total_rows,
        profile=profile,
        skip_columns=skip_columns,
        drawn=report_dir is not None,
    )
    return drawing.finish(report_dir, signals)


def measure_signals(
    config: Config,
    current: pd.DataFrame,
    reference: pd.DataFrame,
    predictions: np.ndarray,
    prediction_source: PredictionSource,
    *,
    reference_predictions: np.ndarray | None = None,
    timestamps: pd.Series | None = None,
    reference_total_rows: int | None = None,
    profile: ReferenceProfile | None = None,
    skip_columns: Sequence[str] = (),
    drawn: bool = False,
) -> tuple[Signals, ReportDrawing]:
    """Drift of the current window against the reference, performance on its labelled rows;
    and what draws the HTML reports of them later, if they are wanted (ReportDrawing).

    predictions holds one predicted label per current row (logged or the champion's);
    reference_predictions, the champion's on its reference rows, turns on prediction drift.
    timestamps (of the current rows) date the labelled rows the performance is measured on.
    reference may already be a sample: reference_total_rows then says how many rows it stands for.
    With profile (the champion's reference profile), drift is tested on every current row
    against it, with Evidently's methods and thresholds (tasks/core/drift_tests.py); Evidently
    then only draws the HTML report, on a seeded sample of report_sample_rows per side, and
    tests the columns whose configured method is not computed here, on that sample. Without a
    profile, Evidently tests drift on a seeded sample of at most sampling.drift_rows rows per
    side. Performance uses every labelled row. skip_columns: features not drift-tested (they
    failed a data-quality check): the drift share is of the others. drawn: the reports will
    be drawn, so that where Evidently has to test columns on the sample, its run covers the
    report's columns at once (one run of Evidently instead of two).
    """
    if len(current) == 0:
        raise DataError("the current window has no rows: check windows.as_of and windows.current")
    if skip_columns:
        config = _without_features(config, skip_columns)
    _check_not_empty_columns(current, config.data.features, "current window")
    _check_not_empty_columns(reference, config.data.features, "champion's reference data")
    sampling = config.sampling
    shown_rows = report_sample_rows(config) if profile is not None else sampling.drift_rows
    exact = (
        None
        if profile is None
        else _exact_drift(
            config,
            current,
            predictions,
            profile,
            with_predictions=reference_predictions is not None,
        )
    )
    # The features the drift report would show: with a profile, the drifted ones first.
    shown_features = None if exact is None else exact.report_features(sampling.report_columns)
    drawing = ReportDrawing(
        config,
        current,
        reference,
        predictions,
        reference_predictions,
        shown_rows,
        shown_features,
    )
    with _evidently_quiet():
        # No features left when every one failed a data-quality check: nothing to test.
        if config.data.features and (exact is None or exact.left_to_evidently):
            tested = shown_features if drawn or exact is None else exact.left_features
            columns, prediction_drift, target_drift = drawing.test_on_sample(tested)
        else:
            columns, prediction_drift, target_drift = (), None, None
        if exact is not None:
            columns, prediction_drift, target_drift = exact.merged(
                columns, prediction_drift, target_drift
            )
        performance = _measure_performance(
            config, current, predictions, prediction_source, timestamps
        )
    # The rows sample_with_column keeps (or would keep) per side.
    shown_current = _rows_shown(len(current), shown_rows)
    shown_reference = _rows_shown(len(reference), shown_rows)
    reference_rows_total = reference_total_rows or (profile.rows if profile else len(reference))
    signals = Signals(
        current_rows=len(current),
        reference_rows=reference_rows_total,
        drift_share=sum(c.drifted for c in columns) / len(columns) if columns else 0.0,
        columns=columns,
        performance=performance,
        prediction_drift=prediction_drift,
        target_drift=target_drift,
        drift_rows_current=len(current) if profile else shown_current,
        drift_rows_reference=reference_rows_total if profile else shown_reference,
        sample_seed=sampling.seed,
    )
    return signals, drawing


def _rows_shown(rows: int, shown_rows: int | None) -> int:
    """The rows a seeded sample of at most shown_rows keeps of rows (all, without a limit)."""
    return rows if shown_rows is None else min(rows, shown_rows)


class ReportDrawing:
    """Draws the two Evidently HTML reports of one measured window, when they are wanted
    (reports.html): the drift report on the seeded sample of both sides, the performance
    report on a sample of the labelled rows. It holds the window until draw or release."""

    def __init__(
        self,
        config: Config,
        current: pd.DataFrame,
        reference: pd.DataFrame,
        predictions: np.ndarray,
        reference_predictions: np.ndarray | None,
        shown_rows: int | None,
        shown_features: list[str] | None,
    ) -> None:
        self.config = config
        self._frames: tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray | None] | None = (
            current,
            reference,
            predictions,
            reference_predictions,
        )
        self.shown_rows = shown_rows
        self.shown_features = shown_features
        self._with_predictions = reference_predictions is not None
        # Evidently's run on the sample when measuring needed one, and the features it covered.
        self._tested: tuple[Any, list[Any], Any | None, Any | None] | None = None
        self._tested_features: list[str] | None = None

    def _window(self) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray | None]:
        """The window held since measuring: current, reference and both sides' predictions."""
        if self._frames is None:
            raise RuntimeError("the window's reports were drawn or released already")
        return self._frames

    def _samples(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Both sides' seeded samples, each row with its prediction (as a column)."""
        current, reference, predictions, reference_predictions = self._window()
        seed = self.config.sampling.seed
        return (
            sample_with_column(current, PREDICTION, predictions, self.shown_rows, seed),
            sample_with_column(reference, PREDICTION, reference_predictions, self.shown_rows, seed),
        )

    def _run(self, features: list[str] | None) -> tuple[Any, list[Any], Any | None, Any | None]:
        drift_current, drift_reference = self._samples()
        prediction_pair = (
            (drift_current[PREDICTION].to_numpy(), drift_reference[PREDICTION].to_numpy())
            if self._with_predictions
            else None
        )
        return _run_drift(self.config, drift_current, drift_reference, prediction_pair, features)

    def test_on_sample(
        self, features: list[str] | None
    ) -> tuple[tuple[ColumnDrift, ...], ColumnDrift | None, ColumnDrift | None]:
        """Evidently's drift tests on the sample (of features, when given): per column, of the
        predictions and (regressors) of the target. The run is kept for the drift report."""
        self._tested = self._run(features)
        self._tested_features = features
        snapshot, column_metrics, prediction_metric, target_metric = self._tested
        columns = tuple(_read_column_drift(snapshot, m) for m in column_metrics)
        prediction_drift = (
            _read_column_drift(snapshot, prediction_metric) if prediction_metric else None
        )
        target_drift = None
        if target_metric is not None:
            drift = _read_column_drift(snapshot, target_metric)
            target_drift = replace(drift, column=self.config.data.target_column)
        return columns, prediction_drift, target_drift

    def draw(self, report_dir: Path, signals: Signals) -> Signals:
        """Save drift.html and performance.html (when it can be drawn) in report_dir; return
        signals (the window's) with their paths. The window is released after."""
        current, reference, _, _ = self._window()
        report_dir.mkdir(parents=True, exist_ok=True)
        paths: list[str] = []
        drift_drawn = bool(self.config.data.features)
        with _evidently_quiet():
            if drift_drawn:
                paths.append(self._draw_drift(report_dir))
            performance = self._draw_performance(report_dir)
            paths += [performance] if performance else []
        self.release()
        signals = replace(signals, report_paths=tuple(paths))
        # Shown features exist with a profile only: the flags used every row, the plots a sample.
        if self.shown_features is None or not drift_drawn:
            return signals
        return replace(
            signals,
            report_rows_current=_rows_shown(len(current), self.shown_rows),
            report_rows_reference=_rows_shown(len(reference), self.shown_rows),
            report_columns=len(self.shown_features),
        )

    def finish(self, report_dir: Path | None, signals: Signals) -> Signals:
        """draw in report_dir; with None, release the window without drawing."""
        if report_dir is None:
            self.release()
            return signals
        return self.draw(report_dir, signals)

    def release(self) -> None:
        """Let go of the window (a run that draws no reports, or after drawing them)."""
        self._frames = None
        self._tested = None

    def _draw_drift(self, report_dir: Path) -> str:
        covered = self._tested is not None and self._tested_features == self.shown_features
        tested = self._tested if covered and self._tested else self._run(self.shown_features)
        snapshot, column_metrics, prediction_metric, target_metric = tested
        _show_exact_scores(
            snapshot,
            [*column_metrics, *(m for m in (prediction_metric, target_metric) if m is not None)],
        )
        path = report_dir / "drift.html"
        snapshot.save_html(str(path))
        return str(path)

    def _draw_performance(self, report_dir: Path) -> str | None:
        """The performance report of a sample of the labelled rows (the value is
        score_predictions' on every row: a sample renders the same picture)."""
        current, _, predictions, _ = self._window()
        target = self.config.data.target_column
        labelled_mask = current[target].notna().to_numpy()
        if labelled_mask.sum() == 0:
            return None
        labelled = current[[target]][labelled_mask]
        labelled = labelled.assign(**{target: label_values(labelled[target])})
        shown = sample_with_column(
            labelled,
            PREDICTION,
            predictions[labelled_mask],
            report_sample_rows(self.config),
            self.config.sampling.seed,
        )
        snapshot = _run_performance(self.config, shown, shown[PREDICTION].to_numpy())
        if snapshot is None:
            return None
        path = report_dir / "performance.html"
        snapshot.save_html(str(path))
        return str(path)


class _ExactDrift:
    """Drift tested on every row against the profile; None where Evidently tests it."""

    def __init__(
        self,
        columns: dict[str, ColumnDrift | None],
        prediction_drift: ColumnDrift | None,
        prediction_left: bool,
        target_drift: ColumnDrift | None,
        target_left: bool,
    ) -> None:
        self.columns = columns
        self.prediction_drift = prediction_drift
        self.prediction_left = prediction_left
        self.target_drift = target_drift
        self.target_left = target_left

    @property
    def left_to_evidently(self) -> bool:
        return (
            any(c is None for c in self.columns.values())
            or self.prediction_left
            or self.target_left
        )

    @property
    def left_features(self) -> list[str]:
        """The features whose configured method is left to Evidently (tested on the sample)."""
        return [name for name, result in self.columns.items() if result is None]

    def report_features(self, limit: int | None) -> list[str]:
        """The features the HTML drift report shows: those Evidently tests, then the drifted
        ones, then the rest in config order, up to limit in all."""
        left = self.left_features
        drifted = [n for n, r in self.columns.items() if r is not None and r.drifted]
        rest = [n for n, r in self.columns.items() if r is not None and not r.drifted]
        room = len(self.columns) if limit is None else max(limit - len(left), 0)
        shown = set(left) | set((drifted + rest)[:room])
        return [name for name in self.columns if name in shown]

    def merged(
        self,
        evidently_columns: tuple[ColumnDrift, ...],
        evidently_prediction: ColumnDrift | None,
        evidently_target: ColumnDrift | None,
    ) -> tuple[tuple[ColumnDrift, ...], ColumnDrift | None, ColumnDrift | None]:
        """These results, Evidently's (on the sample) where a method is not computed here."""
        sampled = {c.column: c for c in evidently_columns}
        columns = tuple(
            result if result is not None else sampled[name] for name, result in self.columns.items()
        )
        prediction = evidently_prediction if self.prediction_left else self.prediction_drift
        target = evidently_target if self.target_left else self.target_drift
        return columns, prediction, target


def _column_drift(
    column: str,
    profile: ColumnProfile,
    values: Any,
    method: str | None,
    threshold: float | None,
) -> ColumnDrift | None:
    """One column tested on every row against its profile; None for a method left to Evidently."""
    if method is not None and method not in SUPPORTED:
        return None
    result = drift_of_column(column, profile, current_side(profile, values), method, threshold)
    return ColumnDrift(
        column=column,
        method=result.shown_method,
        score=result.score,
        threshold=result.threshold,
        drifted=result.drifted,
    )


def _exact_drift(
    config: Config,
    current: pd.DataFrame,
    predictions: np.ndarray,
    profile: ReferenceProfile,
    *,
    with_predictions: bool,
) -> _ExactDrift:
    """Every feature, the predictions and (regressors) the target against the profile."""
    data, policy = config.data, config.policy
    missing = [c for c in data.features if c not in profile.columns]
    if missing:
        raise DataError(
            f"the champion's reference profile has no columns {missing}: it was registered "
            "with other features. Retrain, or roll back to a version with these features"
        )
    columns: dict[str, ColumnDrift | None] = {}
    for column in data.features:
        override = policy.column_drift.get(column)
        method = override.method if override and override.method else policy.drift_method
        threshold = override.threshold if override else None
        column_profile = profile.columns[column]
        expected = column in data.categorical_features
        if expected != isinstance(column_profile, CategoricalProfile):
            raise DataError(
                f"column {column!r} is {'categorical' if expected else 'numeric'} in the config "
                "but was profiled the other way at registration: retrain the champion"
            )
        columns[column] = _column_drift(column, column_profile, current[column], method, threshold)
    prediction_drift, prediction_left = None, False
    if with_predictions and profile.predictions is not None:
        settings = policy.prediction_drift
        values: Any = (
            np.asarray(predictions, dtype=np.float64)
            if isinstance(profile.predictions, NumericProfile)
            else text_counts(predictions)
        )
        prediction_drift = _column_drift(
            PREDICTION, profile.predictions, values, settings.method, settings.threshold
        )
        prediction_left = prediction_drift is None
    elif with_predictions:
        prediction_left = True  # a profile without predictions: Evidently on the sample
    target_drift, target_left = None, False
    target = data.target_column
    if policy.performance_metric.is_regression and profile.target is None:
        target_left = True  # profiled without its target: Evidently on the sample
    elif policy.performance_metric.is_regression and profile.target is not None:
        labelled = pd.to_numeric(current[target], errors="coerce")
        if labelled.notna().sum() >= 2 and profile.target.count >= 2:
            drift = _column_drift(TARGET, profile.target, labelled, policy.drift_method, None)
            target_drift = replace(drift, column=target) if drift else None
            target_left = drift is None
    return _ExactDrift(columns, prediction_drift, prediction_left, target_drift, target_left)


def _without_features(config: Config, columns: Sequence[str]) -> Config:
    """The config with columns left out of its features (for the drift tests only)."""
    data = config.data
    kept = data.model_copy(
        update={
            "numerical_features": [c for c in data.numerical_features if c not in columns],
            "categorical_features": [c for c in data.categorical_features if c not in columns],
        }
    )
    return config.model_copy(update={"data": kept})


# scipy's warnings of anderson_ksamp (scipy 1.17), matched from the start of the message.
ANDERSON_WARNINGS = (
    r"Parameter `variant` has been introduced to replace `midrank`",
    r"p-value (capped|floored): true value (larger|smaller) than",
)


@contextlib.contextmanager
def _evidently_quiet() -> Iterator[None]:
    """Silence the warnings of Evidently's stack that are not ours to fix."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        # Evidently scores with sklearn's default zero_division; the value is the same as ours.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        # On a window with a single class its binary rates divide zero by zero (NaN in the
        # HTML report only: the signal's value comes from score_predictions).
        warnings.simplefilter("ignore", RuntimeWarning)
        # The anderson method: Evidently calls scipy's anderson_ksamp without `variant`, which
        # warns on every call, and its p-value is kept within [0.001, 0.25], which warns on
        # most (the bound decides drift the same for thresholds inside it, 0.1 by default).
        for message in ANDERSON_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        yield


def _measure_performance(
    config: Config,
    current: pd.DataFrame,
    predictions: np.ndarray,
    prediction_source: PredictionSource,
    timestamps: pd.Series | None,
) -> Performance | None:
    """The metric on every labelled row (None without labels)."""
    target = config.data.target_column
    labelled_mask = current[target].notna().to_numpy()
    if labelled_mask.sum() == 0:
        return None
    # Only the target is scored: not a copy of every column of the labelled rows. Integer
    # labels with missing values come as nullable Int64: as int64 classes once the missing
    # are gone.
    labels = label_values(current[target][labelled_mask])
    metric = config.policy.performance_metric
    if len(pd.unique(labels)) < 2 and metric.average == "macro" and not metric.is_regression:
        logger.warning("only one class among labelled rows; macro scores are of that class alone")
    return Performance(
        metric=metric.describe(),
        # The gate scores with the same function, so monitor and gate never disagree on what
        # the metric means (Evidently's "macro" turns binary on two labels).
        value=score_predictions(metric, labels, predictions[labelled_mask]),
        labelled_rows=int(labelled_mask.sum()),
        prediction_source=prediction_source,
        labelled_start=_moment(timestamps, labelled_mask, first=True),
        labelled_end=_moment(timestamps, labelled_mask, first=False),
    )


def _moment(timestamps: pd.Series | None, mask: np.ndarray, *, first: bool) -> str | None:
    """The first or last timestamp among the masked rows, as ISO text."""
    if timestamps is None:
        return None
    chosen = timestamps[mask]
    value = chosen.min() if first else chosen.max()
    return pd.Timestamp(value).isoformat(sep=" ", timespec="minutes")


def _show_exact_scores(snapshot: Any, metrics: list[Any]) -> None:
    """Write each ValueDrift score into its widget and test text with format_number.

    Evidently rounds the score to 3 decimals in its counter ("Drift score: 0.0" for a p-value
    of 4e-12) and to 2 in its test description; the HTML is rendered from these texts.
    """
    by_title: dict[str, str] = {}
    for metric in metrics:
        result = snapshot.metric_results[metric.metric_id]
        shown = format_number(float(result.value), "general")
        for widget in result.widget or []:
            for counter in (widget.params or {}).get("counters", []):
                label = counter.get("label")
                if isinstance(label, str):
                    counter["label"] = re.sub(r"Drift score: \S+$", f"Drift score: {shown}", label)
        for test in result.tests or []:
            by_title[test.name] = shown
    # The tests section is rendered from widgets the snapshot built during run() (a private
    # attribute): match its entries by test title. Should Evidently rename it, nothing changes.
    for widget in getattr(snapshot, "_tests_widgets", None) or []:
        for entry in (widget.params or {}).get("tests", []):
            exact = by_title.get(entry.get("title"))
            if exact is not None and isinstance(entry.get("description"), str):
                entry["description"] = re.sub(
                    r"Drift score is \S+?\.(?=\s|$)",
                    f"Drift score is {exact}.",
                    entry["description"],
                )


_HEADER_START = "<!-- autoretrain header -->"
_HEADER_END = "<!-- /autoretrain header -->"
_BODY = re.compile(rb"<body[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class HeaderAlert:
    """A boxed block at the top of the header, red when it warns: a headline, a line under it,
    a table, notes
    (sentences, as a list), and rows folded under a line a person clicks to open (such as the
    checks that passed)."""

    headline: str
    table: list[dict[str, str]]
    subline: str = ""
    notes: list[str] = field(default_factory=list)
    warning: bool = True
    folded: list[dict[str, str]] = field(default_factory=list)
    folded_label: str = ""


def add_report_header(
    path: Path,
    title: str,
    facts: list[tuple[str, str]],
    table: list[dict[str, str]] | None = None,
    alert: HeaderAlert | None = None,
) -> None:
    """Put a first section into a saved Evidently HTML report: what it is about, in words.

    facts are (label, text) lines such as the model, window, reference and decision; table, if
    given, is shown under them; alert, if given, right under the title, before the facts. A
    header written before is replaced, so labelling is repeatable.
    """
    # A page is ~3.7 MB, Evidently's script inside: spliced as bytes, never decoded (40-48 ms a
    # page as text, 11-16 as bytes), and replaced in one step (not fsynced: a report is redrawn).
    page = _without_header(path.read_bytes())
    cell = "padding:2px 12px 2px 0;text-align:left;vertical-align:top"
    lines = [
        _HEADER_START,
        '<section id="autoretrain-header" style="font-family:system-ui,sans-serif;'
        "font-size:14px;padding:16px 24px;border-bottom:2px solid #4d4d4d;background:#f6f6f6;"
        'color:#222">',
        f'<h2 style="margin:0 0 8px 0;font-size:20px">{html.escape(title)}</h2>',
    ]
    if alert is not None:
        lines += _alert_lines(alert, cell)
    lines += ['<table style="border-collapse:collapse">']
    for label, value in facts:
        lines.append(
            f'<tr><th style="{cell}">{html.escape(label)}</th>'
            f'<td style="{cell}">{html.escape(value)}</td></tr>'
        )
    lines.append("</table>")
    if table:
        lines += _table_lines(table, cell)
    lines += ["</section>", _HEADER_END]
    header = "\n".join(lines).encode("utf-8")
    body = _BODY.search(page)
    # Not the page Evidently writes (no <body>): the header still comes first.
    at = body.end() if body else 0
    write_bytes_atomic(path, page[:at] + header + page[at:], durable=False)


def _without_header(page: bytes) -> bytes:
    """The page without the headers written into it before."""
    start_mark, end_mark = _HEADER_START.encode(), _HEADER_END.encode()
    while (start := page.find(start_mark)) != -1:
        end = page.find(end_mark, start)
        if end == -1:
            break
        page = page[:start] + page[end + len(end_mark) :]
    return page


def _table_lines(table: list[dict[str, str]], cell: str) -> list[str]:
    headers = list(table[0])
    lines = ['<table style="border-collapse:collapse;margin-top:10px">']
    lines.append(
        "<tr>" + "".join(f'<th style="{cell}">{html.escape(h)}</th>' for h in headers) + "</tr>"
    )
    for row in table:
        lines.append(
            "<tr>"
            + "".join(f'<td style="{cell}">{html.escape(row[h])}</td>' for h in headers)
            + "</tr>"
        )
    lines.append("</table>")
    return lines


def _alert_lines(alert: HeaderAlert, cell: str) -> list[str]:
    color, background = ("#b00020", "#fdecee") if alert.warning else ("#2e7d32", "#edf7ee")
    lines = [
        f'<div id="autoretrain-alert" style="border:2px solid {color};background:{background};'
        'padding:8px 12px;margin:0 0 10px 0">',
        f'<p style="margin:0;font-weight:bold;color:{color}">{html.escape(alert.headline)}</p>',
    ]
    if alert.subline:
        lines.append(f'<p style="margin:4px 0 0 0">{html.escape(alert.subline)}</p>')
    if alert.table:
        lines += _table_lines(alert.table, cell)
    if alert.notes:
        lines.append('<ul style="margin:6px 0 0 0;padding-left:20px">')
        lines += [f"<li>{html.escape(note)}</li>" for note in alert.notes]
        lines.append("</ul>")
    if alert.folded:
        lines.append('<details style="margin-top:6px">')
        lines.append(f'<summary style="cursor:pointer">{html.escape(alert.folded_label)}</summary>')
        lines += _table_lines(alert.folded, cell)
        lines.append("</details>")
    lines.append("</div>")
    return lines
