"""Headless Chromium for the tests that look at a page as a person does.

Debian's `chromium` and `chromium-driver` (Playwright's own browser download does not work
offline), driven by Selenium. Tests skip, saying why, when either is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.processes import wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS_ENV = "AUTORETRAIN_SCREENSHOTS"  # a directory: tests also save their screenshots there

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-extensions",
    "--no-first-run",
    "--window-size=1400,1800",
)


def require_chromium() -> None:
    """Skip the test unless Debian's chromium, its driver and selenium are installed."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not installed: apt-get install -y chromium chromium-driver "
            "(.ci/run installs them)"
        )
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e .[dev])")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium driven by Selenium, quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def save_screenshot(driver: Any, path: Path) -> Path:
    """Save what the browser shows to path, and to $AUTORETRAIN_SCREENSHOTS when it is set."""
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    extra = os.environ.get(SCREENSHOTS_ENV)
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)
    return path


# Per panel (by its title), per series (by its legend): how many marks (line) or bars it drew.
POINTS_SCRIPT = """
const out = {};
for (const heading of document.querySelectorAll('h5')) {
  let card = heading;
  while (card && !card.querySelector('[class*="MuiMarkElement-series-"], [class*="MuiBarElement-series-"]')) {
    card = card.parentElement;
    // Past its own card (another panel's heading inside): the panel drew nothing.
    if (card && card.querySelectorAll('h5').length > 1) card = null;
  }
  if (!card) continue;
  const counts = {};
  for (const el of card.querySelectorAll('[class*="MuiMarkElement-series-"], [class*="MuiBarElement-series-"]')) {
    const series = el.getAttribute('class').match(/Mui(?:Mark|Bar)Element-series-(\\S+)/)[1];
    counts[series] = (counts[series] || 0) + 1;
  }
  const legend = [];
  for (const item of card.querySelectorAll('[class*="MuiChartsLegend-series"]')) {
    if (!legend.includes(item.textContent)) legend.push(item.textContent);
  }
  out[heading.innerText] = {legend: legend, counts: Object.values(counts)};
}
return out;
"""


def evidently_panel_points(
    driver: Any, url: str, series_per_panel: dict[str, int]
) -> dict[str, Any]:
    """Open an Evidently project's dashboard and wait until every panel drew all its series;
    per panel title, each series (by legend) and how many points or bars it drew."""
    driver.get(url)

    def drawn() -> dict[str, Any] | None:
        panels = driver.execute_script(POINTS_SCRIPT)
        ready = all(
            len(panels.get(title, {}).get("counts", [])) == count
            for title, count in series_per_panel.items()
        )
        return panels if ready else None

    panels = wait_for(drawn, 90, f"the dashboard at {url} to draw its panels", interval=2)
    # Series in legend order: name -> number of points drawn.
    return {
        title: dict(zip(panel["legend"], panel["counts"], strict=True))
        for title, panel in panels.items()
    }


# Per panel (by its title): the labels of its value axis, and how many lines it drew.
AXES_SCRIPT = """
const out = {};
for (const heading of document.querySelectorAll('h5')) {
  let card = heading;
  while (card && !card.querySelector('.MuiChartsAxis-directionY')) card = card.parentElement;
  if (!card) continue;
  out[heading.innerText] = {
    ticks: [...card.querySelectorAll('.MuiChartsAxis-directionY .MuiChartsAxis-tickLabel')]
      .map(label => label.textContent),
    lines: card.querySelectorAll('path[class*="MuiLineElement-"]').length,
  };
}
return out;
"""


def evidently_panel_axes(driver: Any) -> dict[str, dict[str, Any]]:
    """On a dashboard evidently_panel_points has drawn: per panel title, its value axis's tick
    labels (`ticks`, bottom to top) and the number of line paths it drew (`lines`)."""
    return dict(driver.execute_script(AXES_SCRIPT))
