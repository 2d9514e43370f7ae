"""The thin Prefect layer for people: artifacts in the UI.

A create is not idempotent (a second version of the key), so each is sent again only when the
server certainly did not take it (`call_api`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tasks.core.fleet import row_from_result
from tasks.core.gate import Comparison
from tasks.orchestration.retries import call_api
from tasks.render.backtest_report import summary_rows
from tasks.render.quality import render_quality_markdown
from tasks.render.reporting import (
    MonitorResult,
    comparison_table,
    render_comparison_markdown,
    render_dashboard_warning,
    render_reports_warning,
    render_summary,
)
from tasks.steps.backtest import BacktestResult
from tasks.steps.commands import installed_command, shell_path
from tasks.stores.registry import StoredCard


def publish_comparison(comparison: Comparison) -> None:
    """The comparison as a table artifact and as markdown with the verdict in words."""
    key = f"{comparison.model_name}-comparison"
    _table(
        key=key,
        table=comparison_table(comparison),
        description=f"Champion-challenger comparison: verdict {comparison.verdict.upper()}",
    )
    _markdown(
        key=f"{key}-verdict",
        markdown=render_comparison_markdown(comparison),
        description=f"Verdict {comparison.verdict}",
    )


def publish_monitor_summary(result: MonitorResult, config_path: str | None = None) -> None:
    """The monitor run's summary as a markdown artifact, and its numbers as a one-row table
    (a fleet that ran the monitor as a deployment reads its row from it); with config_path,
    the command that prints the champion's model card."""
    summary = f"```\n{render_summary(result)}\n```"
    if config_path is not None and result.champion_after is not None:
        champion = result.champion_after
        summary += (
            f"\n\nModel card of the champion {champion}: "
            f"`{installed_command('autoretrain')} registry card {champion} "
            f"--config {shell_path(Path(config_path))}` "
            "(stored with the version in the registry)"
        )
    description = f"Monitor status: {result.status}"
    quality = result.signals.quality
    if quality is not None:
        # A broken feed comes first: it is why the run did what it did.
        section = render_quality_markdown(quality)
        summary = f"{section}\n\n{summary}" if quality.failed else f"{summary}\n\n{section}"
        if quality.failed:
            description += "; data quality FAILED"
    if result.dashboard is not None and not result.dashboard.updated:
        summary = f"{render_dashboard_warning(result.dashboard)}\n\n{summary}"
        description += "; dashboard NOT updated"
    if result.reports is not None:
        if result.reports.uploaded:
            summary = f"Reports and summary: [MLflow run]({result.reports.url})\n\n{summary}"
        else:
            summary = f"{render_reports_warning(result.reports)}\n\n{summary}"
            description += "; reports NOT uploaded"
    _markdown(key=f"{result.model_name}-monitor-summary", markdown=summary, description=description)
    _table(
        key=monitor_row_key(result.model_name),
        table=[row_from_result(result, config_path="", duration_seconds=0).to_dict()],
        description=f"Monitor status: {result.status}",
    )


def monitor_row_key(model_name: str) -> str:
    return f"{model_name}-monitor-row"


def publish_step_outcome(
    model_name: str, step: str, status: str, message: str, trigger: str | None = None
) -> None:
    """What a retrain or promote run did (registered, promoted, dropped, duplicate...) and what
    started it (the trigger line: reason and request id).

    An artifact is written through the API before the run ends, unlike logs, which are shipped in
    the background: a person (and a test) sees why a run did nothing as soon as it finishes.
    """
    lines = [f"**{step}: {status}**", "", message]
    if trigger:
        lines += ["", f"Trigger: {trigger}"]
    _markdown(
        key=f"{model_name}-{step}-outcome",
        markdown="\n".join(lines),
        description=f"{step} status: {status}",
    )


def publish_model_card(model_name: str, card: StoredCard | None, version: str) -> None:
    """The champion's model card as a markdown artifact of the run that wrote it (or why there
    is none)."""
    if card is None:
        markdown = f"**The model card of {version} was not written**: see the run's log."
        description = f"Model card of {version}: NOT written"
    else:
        markdown = f"{card.markdown}\n\n*Stored at {card.location}.*"
        description = f"Model card of {version}"
    _markdown(key=f"{model_name}-model-card", markdown=markdown, description=description)


def publish_backtest(result: BacktestResult, summary: str) -> None:
    """The backtest's summary as a markdown artifact, its strategy table as a table artifact."""
    key = f"{result.model_name}-backtest"
    _table(key=key, table=summary_rows(result), description="Backtest: strategies compared")
    _markdown(key=f"{key}-summary", markdown=f"```\n{summary}\n```", description="Backtest summary")


def _table(key: str, table: list[dict[str, Any]], description: str) -> None:
    call_api(
        f"publishing the artifact {key}",
        lambda: create_table_artifact(key=key, table=table, description=description),
        idempotent=False,
    )


def _markdown(key: str, markdown: str, description: str) -> None:
    call_api(
        f"publishing the artifact {key}",
        lambda: create_markdown_artifact(key=key, markdown=markdown, description=description),
        idempotent=False,
    )
