"""Reports that outlive the machine: with the MLflow registry, each monitor run's HTML reports
and summary go to the tracking server as the artifacts of a monitoring run of the model's
experiment; with the local registry they stay under reports.path (tasks.steps.monitoring).

Reports are for people: a problem uploading them is logged and reported in the run's summary,
and never changes or fails the run's decision; the local copy then stays.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from tasks.config import Config
from tasks.core.outcomes import MonitorResult, ReportsUpload
from tasks.core.reasons import codes
from tasks.steps.logs import step_logger
from tasks.steps.monitoring import prune_reports
from tasks.stores.registry import MlflowMonitorRuns, MonitorRunRecord
from tasks.stores.resources import Stores


def upload_reports(
    config: Config,
    stores: Stores,
    result: MonitorResult,
    report_dir: Path | None,
    as_of: datetime,
    render: Callable[[MonitorResult], str],
    flow_run_id: str | None = None,
) -> ReportsUpload | None:
    """Log the run's reports (report_dir's HTML files) and its summary (render of the result,
    linking the MLflow run) on a monitoring run of the model's experiment; delete the local
    copy once uploaded, then apply reports.keep to the model's monitoring runs.

    None with a registry that is not MLflow's (the reports stay under reports.path). Never
    raises: the run's decision stands whatever happens to its reports.
    """
    registry = stores.registry
    if not isinstance(registry, MlflowMonitorRuns):
        return None
    logger = step_logger(__name__)
    report_run = report_dir.name if report_dir is not None else f"{as_of:%Y%m%dT%H%M}-run-none"
    files = sorted(path.name for path in report_dir.glob("*.html")) if report_dir else []
    detail = f"'monitor {as_of.isoformat()}': {', '.join([*files, 'summary.txt'])}"

    def summary(record: MonitorRunRecord) -> str:
        uploaded = ReportsUpload(uploaded=True, detail=detail, url=record.url)
        return render(replace(result, reports=uploaded))

    try:
        record = registry.log_monitor_run(
            f"monitor {as_of.isoformat()}",
            report_run,
            {
                "model": config.name,
                "as_of": as_of.isoformat(),
                "decision": result.decision.action,
                "status": result.status,
                "champion_before": result.champion_before or "",
                "champion": result.champion_after or "",
                "confirmed": ",".join(result.decision.confirmed),
                "reasons": "\n".join(result.decision.reasons)[:5000],
                "reason_codes": ",".join(codes(result.decision.reason_codes)),
                "flow_run_id": flow_run_id or "",
            },
            report_dir,
            summary,
        )
    except Exception as error:  # any failure of the upload must leave the run standing
        problem = str(error) or type(error).__name__
        logger.warning(
            "the reports were NOT uploaded to MLflow: %s; they stay in %s (the decision stands)",
            problem,
            report_dir,
        )
        return ReportsUpload(
            uploaded=False,
            detail=problem,
            local_copy=str(report_dir) if report_dir is not None else None,
        )
    logger.info("reports of %s: MLflow run %s", config.name, record.url)
    if report_dir is not None:
        shutil.rmtree(report_dir, ignore_errors=True)
    _prune_monitor_runs(config, registry, report_run)
    return ReportsUpload(uploaded=True, detail=detail, url=record.url)


def _prune_monitor_runs(config: Config, registry: MlflowMonitorRuns, current: str) -> None:
    """Apply reports.keep to the model's monitoring runs on the server (oldest first)."""
    keep = config.reports.keep
    if keep is None:
        return
    logger = step_logger(__name__)
    now = datetime.now(UTC).replace(tzinfo=None)  # report run names are in UTC
    try:
        deleted = registry.prune_monitor_runs(keep, now, current)
    except Exception as error:  # retention is housekeeping: the next run tries again
        logger.warning("reports.keep: could not delete old monitoring runs in MLflow: %s", error)
        return
    if deleted:
        logger.info(
            "reports.keep %s: deleted %d older monitoring run(s) of %s in MLflow, %s to %s",
            keep if isinstance(keep, int) else f"{keep.days}d",
            len(deleted),
            config.name,
            deleted[0],
            deleted[-1],
        )


def publish_reports(
    config: Config,
    stores: Stores,
    result: MonitorResult,
    report_dir: Path | None,
    as_of: datetime,
    render: Callable[[MonitorResult], str],
    flow_run_id: str | None = None,
) -> ReportsUpload | None:
    """Apply reports.keep to the model's local report runs (this run's kept), then upload this
    run's reports where the registry keeps them (upload_reports): one step of the run, as
    both look after the same reports."""
    prune_reports(config, report_dir)
    return upload_reports(config, stores, result, report_dir, as_of, render, flow_run_id)
