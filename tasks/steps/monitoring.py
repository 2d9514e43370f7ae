"""Measuring the current window against the champion's reference data."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.adapters.evidently_report import (
    HeaderAlert,
    ReportDrawing,
    add_report_header,
    measure_signals,
    report_sample_rows,
)
from tasks.adapters.memory import avoid_huge_pages
from tasks.adapters.modeling import check_known_labels, predict_labels
from tasks.config import Config
from tasks.core.metrics import holdout_metric_key
from tasks.core.numbers import format_number
from tasks.core.policy import TriggerDecision, decide_retrain
from tasks.core.quality import QualityReport
from tasks.core.quality_view import (
    BROKEN,
    describe_failures,
    quality_action,
    quality_rows,
    quality_verdict,
)
from tasks.core.retention import draws_reports, skipped_reports_note
from tasks.core.signals import PredictionSource, Signals
from tasks.core.sorted_numbers import sharing_sorts
from tasks.core.watch import WatchDecision
from tasks.core.windows import Window
from tasks.steps.estimation import estimate_window, log_estimate
from tasks.steps.followup import follow_up_evidence
from tasks.steps.logs import step_logger
from tasks.steps.profiles import load_profile
from tasks.steps.quality import check_window_quality, numbers_for_model
from tasks.stores.data import load_window
from tasks.stores.history import Recorded, RunRecord
from tasks.stores.reports import prune_report_runs
from tasks.stores.resources import Stores


@dataclass(frozen=True)
class Measured:
    """A measured window: its signals, and what draws its HTML reports if the run wants them
    (draw_reports)."""

    signals: Signals
    drawing: ReportDrawing


def window_signals(
    config: Config,
    stores: Stores,
    window: Window,
    champion_version: str,
    report_dir: Path | None,
    *,
    champion_model: Any = None,
) -> Signals:
    """The window's signals (measure_window), with its HTML reports drawn in report_dir unless
    it is None (they are then never drawn)."""
    measured = measure_window(
        config,
        stores,
        window,
        champion_version,
        champion_model=champion_model,
        drawn=report_dir is not None,
    )
    return measured.drawing.finish(report_dir, measured.signals)


# The data-quality checks' sorts of numeric columns are kept for the drift tests meanwhile.
@sharing_sorts()
def measure_window(
    config: Config,
    stores: Stores,
    window: Window,
    champion_version: str,
    *,
    champion_model: Any = None,
    drawn: bool = False,
) -> Measured:
    """Measure drift, prediction drift, performance and estimated performance of window for
    the champion; draw_reports draws the HTML reports of it after, if they are wanted.

    Predictions are the logged ones where the log has them; the champion predicts the rest.
    The estimate uses the champion's own predictions and calibrated probabilities on every row.
    champion_model: the champion's model when the caller has loaded it already (else it is
    loaded when needed). drawn: the reports will be drawn (reports.html: always), so that a
    drift test left to Evidently's sample covers the report's columns in the same run.
    """
    avoid_huge_pages()  # first touches of large arrays cost system CPU with them (see there)
    registry = stores.registry
    # Text in a numerical feature is kept for the type check to judge; numbers_for_model
    # converts it after (a data issue) or refuses it.
    current = load_window(config, window, source=stores.source, keep_text_features=True)
    # Drift is tested on every row against the champion's reference profile, unless
    # sampling.drift_rows asks for Evidently on samples; the reference sample (drawn once and
    # kept with the version) is then what Evidently tests, else what its HTML report shows.
    sampled_drift = config.sampling.drift_rows is not None
    reference = registry.load_reference(
        champion_version, report_sample_rows(config), config.sampling.seed
    )
    record = registry.get_version(champion_version)
    # Checked first: a broken column is data quality, not drift (it is not drift-tested).
    quality = check_window_quality(config, stores, champion_version, current, window.end)
    current = numbers_for_model(config, current, quality, f"the current window {window}")
    prediction_drift = config.policy.prediction_drift.enabled
    logged = config.data.prediction_column
    missing = current[logged].isna().to_numpy() if logged else np.ones(len(current), dtype=bool)
    estimating = config.policy.estimated_performance.enabled and len(current) > 0
    champion = champion_model
    if champion is None and (missing.any() or prediction_drift or estimating):
        champion = registry.load_model(champion_version)

    def champion_loaded() -> Any:
        return champion if champion is not None else registry.load_model(champion_version)

    profile = (
        None if sampled_drift else load_profile(config, registry, champion_version, champion_loaded)
    )
    if champion is not None:
        check_known_labels(
            champion,
            current[config.data.target_column],
            f"champion {champion_version}",
            "current window",
        )
    predictions, source = _window_predictions(config, current, missing, champion)
    reference_predictions = (
        predict_labels(champion, reference, config.data.features) if prediction_drift else None
    )
    signals, drawing = measure_signals(
        config,
        current,
        reference,
        predictions,
        source,
        drawn=drawn,
        reference_predictions=reference_predictions,
        timestamps=current[config.data.timestamp_column],
        reference_total_rows=record.training_rows,
        profile=profile,
        skip_columns=quality.failing_columns if quality else (),
    )
    estimate, note = estimate_window(
        config,
        registry,
        champion_version,
        champion,
        current,
        predictions if source == "champion" else None,  # logged ones may be another model's
    )
    log_estimate(estimate, note)
    holdout_score = record.metrics.get(holdout_metric_key(config.policy.performance_metric))
    signals = replace(
        signals,
        estimate=estimate,
        estimate_note=note,
        holdout_score=holdout_score,
        quality=quality,
    )
    step_logger(__name__).info(
        "window %s: %d rows, drift share %.2f, performance %s",
        window,
        signals.current_rows,
        signals.drift_share,
        f"{signals.performance.value:.3f}" if signals.performance else "n/a",
    )
    return Measured(signals, drawing)


def _window_predictions(
    config: Config, current: pd.DataFrame, missing: np.ndarray, champion: Any
) -> tuple[np.ndarray, PredictionSource]:
    """The window's predictions: the logged ones, the champion's where the log has none."""
    logged = config.data.prediction_column
    if logged and not missing.any():
        column = current[logged]
        if isinstance(column.dtype, np.dtype) and column.dtype.kind in "ifb":
            # Already one numpy dtype, the one the conversion below would infer: no detour
            # through a million Python objects.
            return column.to_numpy(copy=True), "logged"
    if logged:
        predictions = current[logged].to_numpy(dtype=object, copy=True)
    else:
        predictions = np.empty(len(current), dtype=object)
    if missing.any():
        predictions[missing] = predict_labels(champion, current[missing], config.data.features)
    # One dtype for all predictions (logged and filled-in), as the label column has.
    predictions = pd.Series(predictions).infer_objects().to_numpy()
    if not logged:
        return predictions, "champion"
    return predictions, "logged, champion where missing" if missing.any() else "logged"


def decide_on_history(
    config: Config, stores: Stores, signals: Signals, as_of: datetime, champion: str
) -> TriggerDecision:
    """Decide on this run's signals and the recent monitoring history (the policy)."""
    history = stores.history
    runs = history.champion_runs(config.name, champion, as_of)
    return decide_retrain(
        signals,
        config.policy,
        history.recent(
            config.name,
            as_of,
            config.policy.history_runs,
            config.policy.confirmation.min_spacing,
        ),
        as_of=as_of,
        champion=champion,
        last_retrain_as_of=history.last_retrain(config.name, as_of),
        champion_runs=runs,
        follow_up_evidence=follow_up_evidence(config, stores, champion, as_of, runs),
    )


def record_run(
    config: Config,
    stores: Stores,
    as_of: datetime,
    champion: str,
    decision: TriggerDecision,
    status: str,
    *,
    bootstrapped: bool = False,
    request_id: str | None = None,
    watch: WatchDecision | None = None,
) -> Recorded:
    """Record this monitor run (signals summary, decision, action taken) as its window's record
    in the history; a rerun of a window replaces its record, and says so in the log.

    Args:
        request_id: the retrain request the run emitted (events mode): the promote run it
            starts records the verdict on this record (record_request_outcome).
        watch: the watch's decision after a promotion, kept in details["watch"].
    """
    retrained = decision.retrain
    details: dict[str, Any] = {"bootstrapped": bootstrapped, "confirmed": list(decision.confirmed)}
    if watch is not None:
        details["watch"] = watch.to_dict()
    recorded = stores.history.record(
        config.name,
        RunRecord(
            as_of=as_of,
            champion=champion,
            decision=decision,
            status=status,
            retrained=retrained,
            promoted=status == "promoted",
            details={
                **details,
                # What performance_drop was measured from (policy.drop_reference).
                "drop_reference": decision.drop_reference,
                "drop_reference_rule": decision.drop_reference_rule,
                **_quality_details(decision),
            },
            request_id=request_id,
        ),
    )
    if note := describe_rerun(recorded, as_of):
        step_logger(__name__).warning("%s: %s", config.name, note)
    return recorded


def _quality_details(decision: TriggerDecision) -> dict[str, Any]:
    """The window's data-quality report for the history's details (nothing when off)."""
    quality = decision.data_quality
    return {"data_quality": quality.to_dict()} if quality is not None else {}


# What prefect.yaml's triggers pass when an event carries no request id.
NO_REQUEST_ID = "no-request-id"


def record_request_outcome(
    config: Config, stores: Stores, request_id: str | None, status: str
) -> int:
    """Record on the monitor run that requested a retrain (events mode) what became of it: the
    promote run's status (promoted, rejected, dropped) or the retrain's (retrain-dropped), so
    the history does not show a requested retrain as rejected. Nothing without a request id (a
    run by hand, or inline, where the monitor records the outcome itself); return how many
    records were updated."""
    if not request_id or request_id == NO_REQUEST_ID:
        return 0
    updated = stores.history.record_outcome(config.name, request_id, status)
    logger = step_logger(__name__)
    if updated:
        logger.info(
            "monitoring history: the retrain request %s of %s ended %s",
            request_id,
            config.name,
            status,
        )
    else:
        logger.warning(
            "no monitor run of %s with retrain request %s is in the monitoring history at %s, "
            "so its outcome (%s) is not shown there (the request came from elsewhere, or the "
            "monitor run stopped before recording itself)",
            config.name,
            request_id,
            config.registry.path,
            status,
        )
    return updated


def describe_rerun(recorded: Recorded, as_of: datetime) -> str | None:
    """One line on the earlier run of the window this run replaced; None for a first run."""
    earlier = recorded.replaced
    if earlier is None:
        return None
    runs = f"{earlier.runs} earlier run{'s' if earlier.runs > 1 else ''}"
    kept = [
        name
        for name, done in (("retrain", earlier.retrained), ("promotion", earlier.promoted))
        if done
    ]
    note = (
        f"rerun of the window ending {as_of:%Y-%m-%d %H:%M}: this run replaces its record in the "
        f"monitoring history ({runs} of it; the last recorded at {earlier.recorded_at}: "
        f"champion {earlier.champion or '-'}, decision {earlier.decision}, status "
        f"{earlier.status}); confirmation counts the window once"
    )
    if kept:
        note += f"; the window keeps its {' and '.join(kept)}, which the cooldown counts"
    return note


def prune_reports(config: Config, current: Path | None) -> list[Path]:
    """Apply reports.keep to this model's report run directories; keep all when it is null."""
    keep = config.reports.keep
    if keep is None:
        return []
    now = datetime.now(UTC).replace(tzinfo=None)  # run directories are named in UTC
    deleted = prune_report_runs(config.reports.path / config.name, keep, now, current)
    if deleted:
        step_logger(__name__).info(
            "reports.keep %s: deleted %d older report run(s) of %s, %s to %s",
            keep if isinstance(keep, int) else f"{keep.days}d",
            len(deleted),
            config.name,
            deleted[0].name,
            deleted[-1].name,
        )
    return deleted


def quality_alert(report: QualityReport) -> HeaderAlert | None:
    """A failed data-quality report as the block at the top of an HTML report: the verdict,
    the failing checks with their numbers and tolerances and in words, the others folded; None
    when every check passed (the facts then say so in one line)."""
    if not report.failed:
        return None
    rows = quality_rows(report)
    others = [row for row in rows if row["result"] != "FAIL"]
    passed = sum(row["result"] == "ok" for row in others)
    label = f"the other checks: {passed} passed"
    if passed < len(others):
        label += f", {len(others) - passed} not judged"
    return HeaderAlert(
        headline=f"Data quality FAILED: {BROKEN}",
        subline=f"{describe_failures(report)}. {quality_action(report)}",
        table=[row for row in rows if row["result"] == "FAIL"],
        notes=[finding.message for finding in report.failures],
        folded=others,
        folded_label=label,
    )


def draw_reports(
    config: Config,
    window: Window,
    champion: str,
    measured: Measured,
    decision: TriggerDecision,
    report_dir: Path,
    watch: WatchDecision | None = None,
) -> Signals:
    """Draw the window's HTML reports in report_dir when reports.html wants them for this run
    (draws_reports: always, on a breach or an action, never), each with what it is about at
    its top (label_reports); return the window's signals with their paths, or with the note
    why there are none."""
    setting = config.reports.html
    if not draws_reports(setting, decision, watch):
        measured.drawing.release()
        note = skipped_reports_note(setting)
        step_logger(__name__).info("%s: HTML reports %s", config.name, note)
        return replace(measured.signals, reports_note=note)
    signals = measured.drawing.draw(report_dir, measured.signals)
    label_reports(config, window, champion, signals, decision)
    return signals


def label_reports(
    config: Config,
    window: Window,
    champion: str,
    signals: Signals,
    decision: TriggerDecision,
) -> None:
    """Put what each HTML report is about at its top: model, window, reference and decision,
    and the window's data quality (a failed check first of all)."""
    quality = signals.quality
    reference = f"champion {champion}'s training data, {signals.reference_rows:,} rows"
    shown = signals.report_columns
    if signals.report_rows_current is not None:  # every row tested against the profile
        if signals.report_sampled:
            reference += (
                f" (drift tested on every row against its profile; the plots below are drawn "
                f"from a seeded sample of {signals.report_rows_current:,} current and "
                f"{signals.report_rows_reference:,} reference rows, sampling.report_rows)"
            )
        if shown is not None and shown < len(signals.columns):
            reference += (
                f"; the plots show {shown:,} of the {len(signals.columns):,} feature columns, "
                "the drifted ones first (sampling.report_columns); the table below, every one"
            )
    elif signals.sampled:
        reference += (
            f" (drift tested on a seeded sample: {signals.drift_rows_current:,} current and "
            f"{signals.drift_rows_reference:,} reference rows)"
        )
    facts = [
        ("Model", config.name),
        ("Window", f"{window}, {signals.current_rows:,} rows"),
        ("Reference", reference),
        # The reasons follow line by line: the decision line names only what triggered it.
        (
            "Decision",
            f"RETRAIN: {decision.trigger}" if decision.retrain else decision.action.upper(),
        ),
        *[("", f"- {reason}") for reason in decision.reasons],
    ]
    if quality is not None and not quality.failed:
        facts.append(("Data quality", quality_verdict(quality)))
    performance = signals.performance
    if performance is not None:
        facts.append(
            (
                "Performance",
                f"{performance.metric} {performance.value:.3f} (threshold "
                f"{decision.performance_threshold:.3f}, {decision.direction}) on {performance.labelled_rows:,} labelled "
                f"rows; predictions: {performance.prediction_source}",
            )
        )
    if signals.estimate is not None:
        estimate = signals.estimate
        facts.append(
            (
                "Estimated performance",
                f"{estimate.metric} {estimate.value:.3f} on all {estimate.rows:,} rows, no labels "
                f"needed (champion's holdout score {estimate.holdout_score:.3f})",
            )
        )
    elif signals.estimate_note:
        facts.append(("Estimated performance", f"none: {signals.estimate_note}"))
    tested = [(column.column, column) for column in signals.columns]
    if signals.prediction_drift is not None:
        tested.append(("champion's predictions", signals.prediction_drift))
    if signals.target_drift is not None:
        tested.append((f"target {signals.target_drift.column} (reported)", signals.target_drift))
    drift_table = [
        {
            "column": name,
            "method": column.method,
            "score": format_number(column.score, "general"),
            "threshold": format_number(column.threshold, "general"),
            "drifted": "DRIFTED" if column.drifted else "ok",
        }
        for name, column in tested
    ]
    alert = quality_alert(quality) if quality is not None else None
    for report in signals.report_paths:
        path = Path(report)
        if path.stem == "drift":
            title = f"{config.name}: data drift of {window} against champion {champion}"
            add_report_header(path, title, facts, drift_table, alert=alert)
        else:
            title = f"{config.name}: performance of champion {champion} on {window}"
            add_report_header(path, title, facts, alert=alert)
