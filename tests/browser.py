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
