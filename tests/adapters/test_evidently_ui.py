"""The Evidently UI over a workspace filled by the demo and a short backtest, in a real browser.

Starts `evidently ui` on 127.0.0.1, opens each project's dashboard in headless Chromium and
counts the points each panel drew, series by series.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from flows.backtest import backtest_flow
from flows.monitor import monitor_flow
from tasks.adapters.evidently_workspace import PANEL_TITLES
from tasks.config import load_config
from tasks.core.quality_view import failed_shares_by_check
from tests.browser import (
    chromium,
    evidently_panel_axes,
    evidently_panel_points,
    require_chromium,
    save_screenshot,
)
from tests.processes import evidently_ui

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]


def test_demo_and_backtest_show_as_trends_in_evidently_ui(write_config, tmp_path: Path) -> None:
    require_chromium()
    config_path = write_config({"registry": {"path": str(tmp_path / "registry")}})
    config = load_config(config_path)

    demo = monitor_flow(str(config_path))
    replay = backtest_flow(
        str(config_path),
        step="90d",
        start="2013-04-01",
        end="2014-04-01",
        strategies=["policy"],
        output=str(tmp_path / "backtest"),
        workspace=True,
    )

    assert demo.dashboard is not None and demo.dashboard.updated, demo.dashboard
    policy = replay.get("policy")
    windows = len(policy.outcomes)
    labelled = sum(outcome.labelled_rows > 0 for outcome in policy.outcomes)
    features = list(config.data.features)
    metric = config.policy.performance_metric.describe()
    expected_series = {title: 2 for title in PANEL_TITLES[:-1]}
    expected_series[PANEL_TITLES[1]] = len(features)
    # Data quality: all checks, and each check the demo's window could make (no row count
    # before three windows are on record).
    assert demo.signals.quality is not None
    demo_checks = failed_shares_by_check(demo.signals.quality)
    demo_series = {**expected_series, PANEL_TITLES[-1]: 1 + len(demo_checks)}
    workspace = config.reports.workspace_dir
    with evidently_ui(workspace, tmp_path / "evidently-ui.log") as url, chromium() as driver:
        projects = {p["name"]: p["id"] for p in httpx.get(f"{url}/api/projects").json()}
        assert set(projects) == {"seattle-weather", "seattle-weather (backtest)"}

        shown = evidently_panel_points(
            driver, f"{url}/projects/{projects['seattle-weather (backtest)']}", expected_series
        )
        save_screenshot(driver, tmp_path / "evidently-dashboard.png")

        assert shown["Share of drifted columns"] == {"drift share": windows, "threshold": windows}
        assert shown["Drift score of each feature"] == dict.fromkeys(features, windows)
        assert shown["Performance against its threshold"] == {
            f"{metric} (realised)": labelled,
            "retrain threshold": windows,
        }
        assert shown["Rows and labelled rows per window"] == {
            "rows": windows,
            "labelled rows": windows,
        }
        assert shown["Retrains and promotions"] == {"retrained": windows, "promoted": windows}
        # Bars, not lines: no curve between windows shows a value nobody measured (issue 25).
        axes = evidently_panel_axes(driver)
        assert {title: axis["lines"] for title, axis in axes.items()} == dict.fromkeys(
            PANEL_TITLES, 0
        )

        # The demo's monitor run: one snapshot, every series one point.
        demo_shown = evidently_panel_points(
            driver, f"{url}/projects/{projects['seattle-weather']}", demo_series
        )
        assert demo_shown[PANEL_TITLES[-1]] == dict.fromkeys(["all checks", *demo_checks], 1)
        assert all(set(series.values()) == {1} for series in demo_shown.values()), demo_shown
        # One window: the axis of the drift share runs from 0 to its value, labelled as such (a
        # line panel of equal values labelled its one tick "1" for a share of 0.5).
        share = demo.signals.drift_share
        assert share is not None
        ticks = evidently_panel_axes(driver)[PANEL_TITLES[0]]["ticks"]
        top = max(share, config.policy.drift_threshold)
        assert float(ticks[0]) == 0 and float(ticks[-1]) == pytest.approx(top, abs=0.051), ticks
        save_screenshot(driver, tmp_path / "evidently-one-window.png")
    assert (tmp_path / "evidently-dashboard.png").stat().st_size > 10_000
