"""A model's monitor runs on the MLflow tracking server: each one's HTML reports and summary as
the artifacts of an MLflow run in the model's experiment, so they outlive the machine that ran
the monitor; and their retention (reports.keep).

What goes where, for a model NAME, in experiment autoretrain-NAME:

    run "monitor <as_of>"          one per monitor run; tags autoretrain.kind=monitor, the model
                                   name, as_of, decision, status, the champion before and after,
                                   the confirmed breaches, the reasons and their codes
                                   (reason_codes, comma-separated), the Prefect flow run id and
                                   autoretrain.report_run (the run's report directory name,
                                   which orders the runs for reports.keep)
    its artifacts reports/         the run's Evidently HTML reports (drift.html, ...)
                  summary.txt      the run's summary, as the CLI prints it

Deleting a run (reports.keep) is MLflow's soft delete: the run leaves the experiment's list and
its artifacts stay in the artifact store until `mlflow gc` removes them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tasks.core.retention import expired_runs
from tasks.stores.registry._mlflow_client import TAG, MlflowModel

MONITOR_KIND = "monitor"
REPORT_RUN_TAG = f"{TAG}report_run"
SUMMARY_FILE = "summary.txt"
REPORTS_FOLDER = "reports"


@dataclass(frozen=True)
class MonitorRunRecord:
    """Where one monitor run's reports went on the tracking server."""

    run_id: str
    experiment_id: str
    url: str  # the run's page in the MLflow UI


class MlflowMonitorRuns(MlflowModel):
    """The monitor runs of one model in its experiment on a tracking server."""

    def run_page(self, experiment_id: str, run_id: str) -> str:
        """The run's page in the MLflow UI (no password in it)."""
        base = self.shown_uri.rstrip("/")
        return f"{base}/#/experiments/{experiment_id}/runs/{run_id}"

    def log_monitor_run(
        self,
        name: str,
        report_run: str,
        tags: dict[str, str],
        report_dir: Path | None,
        summary: Callable[[MonitorRunRecord], str],
    ) -> MonitorRunRecord:
        """Create the monitor run (tags: autoretrain.<key> each, and report_run, the run's report
        directory name), log the HTML files of report_dir under reports/ and the
        summary (rendered knowing the run's page, so it links itself) as summary.txt.

        Raises RegistryError naming the call when the server fails; a run left half-written
        is marked FAILED when the server still answers.
        """
        experiment_id = self._experiment_id()
        with self._calling(f"creating the monitor run '{name}'"):
            created = self.client.create_run(
                experiment_id,
                run_name=name[:250],
                tags={
                    f"{TAG}kind": MONITOR_KIND,
                    REPORT_RUN_TAG: report_run,
                    **{f"{TAG}{key}": value for key, value in tags.items()},
                },
            )
        run_id = created.info.run_id
        record = MonitorRunRecord(run_id, experiment_id, self.run_page(experiment_id, run_id))
        try:
            with self._calling(f"logging the reports of the monitor run '{name}'"):
                if report_dir is not None and report_dir.is_dir():
                    for path in sorted(report_dir.glob("*.html")):
                        self.client.log_artifact(run_id, str(path), REPORTS_FOLDER)
                self.client.log_text(run_id, summary(record), SUMMARY_FILE)
                self.client.set_terminated(run_id)
        except Exception:
            # The server may be gone: the run then stays RUNNING, its tags say what it is.
            with contextlib.suppress(Exception):
                self.client.set_terminated(run_id, "FAILED")
            raise
        return record

    def monitor_run_names(self) -> dict[str, str]:
        """The model's monitor runs on the server: report directory name -> run id."""
        found: dict[str, str] = {}
        token = None
        with self._calling("listing the monitor runs"):
            experiment_id = self._experiment_id()
            while True:
                page = self.client.search_runs(
                    [experiment_id],
                    filter_string=f"tags.`{TAG}kind` = '{MONITOR_KIND}'",
                    max_results=1000,
                    page_token=token,
                )
                for run in page:
                    report_run = run.data.tags.get(REPORT_RUN_TAG)
                    if report_run:
                        found[report_run] = run.info.run_id
                token = page.token
                if not token:
                    break
        return found

    def prune_monitor_runs(
        self, keep: int | timedelta, now: datetime, current: str | None = None
    ) -> list[str]:
        """Delete the monitor runs reports.keep lets go, oldest first; return their report
        run names. current (a report run name) is always kept."""
        runs = self.monitor_run_names()
        expired = expired_runs(runs, keep, now, current)
        with self._calling("deleting old monitor runs (reports.keep)"):
            for report_run in expired:
                self.client.delete_run(runs[report_run])
        return expired
