"""The comparison's pages in Prefect's UI fit a 1280-pixel-wide screen (issue 25).

Starts `prefect server start` (SQLite in a temporary PREFECT_HOME), publishes a comparison and
pauses a run for approval from scripts (tests/orchestration/ui_pages_flows.py), opens the pages
in headless Chromium at 1280x900 and checks that the verdict and the numbers that decide it are
on the screen: inside the window and not behind a scrollbar of the page or of a table.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasks.core.numbers import format_number
from tests.browser import chromium, require_chromium, save_screenshot
from tests.helpers import REPO_ROOT
from tests.orchestration.ui_pages_flows import comparison
from tests.processes import (
    api_call,
    free_port,
    prefect_server_environment,
    start_prefect_server,
    stop_process,
    wait_for,
)

pytestmark = pytest.mark.server

WIDTH, HEIGHT = 1280, 900
COMPARISON = "classifier-promoted"  # six guards, McNemar and the permutation test


@dataclass
class UiServer:
    url: str  # the API
    ui: str
    env: dict[str, str]
    logs: Path


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    base = tmp_path_factory.mktemp("ui-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = prefect_server_environment(url, base / "prefect-home")
    process = start_prefect_server(port, env, base, base / "server.log")
    try:
        yield UiServer(url, url.removesuffix("/api"), env, base)
    finally:
        stop_process(process, signal.SIGTERM)


def _api(server: UiServer, method: str, path: str, **body: Any) -> Any:
    return api_call(server.url, method, path, **body)


def _script(server: UiServer, action: str, log: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.orchestration.ui_pages_flows", action, COMPARISON],
        cwd=REPO_ROOT,
        env=server.env,
        stdout=(server.logs / log).open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


# Where each text node that contains one of the given strings (under a root element) ends on
# the right; how far the window and every box around it that clips or scrolls let a person see;
# and whether one of those boxes scrolls sideways (its content wider than the box).
LAYOUT_SCRIPT = """
// The root: the smallest element whose text holds every one of arguments[0].
const wanted = arguments[1];
let root = document.body;
for (let deeper = true; deeper; ) {
  deeper = false;
  for (const child of root.children) {
    if (arguments[0].every(text => child.innerText && child.innerText.includes(text))) {
      root = child;
      deeper = true;
      break;
    }
  }
}
const found = {};
const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode;
  for (const text of wanted) {
    if (!node.textContent.includes(text)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rect = range.getBoundingClientRect();
    if (rect.width === 0) continue;
    let visible = window.innerWidth;
    let scrolls = false;
    for (let box = node.parentElement; box; box = box.parentElement) {
      if (getComputedStyle(box).overflowX !== 'visible') {
        visible = Math.min(visible, box.getBoundingClientRect().right);
        scrolls = scrolls || box.scrollWidth > box.clientWidth + 1;
      }
    }
    (found[text] = found[text] || []).push({right: rect.right, visible: visible, scrolls: scrolls});
  }
}
const page = document.scrollingElement;
return {found: found, scrollWidth: page.scrollWidth, clientWidth: page.clientWidth};
"""


def _assert_on_screen(driver: Any, root: list[str], wanted: list[str]) -> None:
    """Every text of wanted shows (in the smallest element that holds every text of root) inside
    the window, and not behind a scrollbar."""
    layout = driver.execute_script(LAYOUT_SCRIPT, root, wanted)
    assert layout["scrollWidth"] <= layout["clientWidth"], "the page scrolls sideways"
    assert sorted(layout["found"]) == sorted(set(wanted)), layout["found"]
    for text, places in layout["found"].items():
        for place in places:
            assert place["right"] <= min(place["visible"], WIDTH) + 1, (text, place)
            assert not place["scrolls"], f"{text!r} sits in a box that scrolls sideways"


def _deciding_numbers() -> dict[str, str]:
    """The verdict and the numbers behind it, as the pages write them."""
    shown = comparison(COMPARISON)
    rules, interval, permutation = shown.rules, shown.interval, shown.permutation
    assert shown.champion is not None and interval is not None and permutation is not None
    required = rules.required_improvement(shown.champion.score)
    return {
        "verdict": "PROMOTE",
        "champion": format_number(shown.champion.score, "general"),
        "challenger": format_number(shown.challenger.score, "general"),
        "interval": f"[{interval.lower:+.4g}, {interval.upper:+.4g}]",
        "required (table)": f">= {required:+.4g}",
        "required": f"min_improvement {rules.min_improvement:.3f}",
        "p-value": f"p = {format_number(permutation.p_value, 'general')}",
    }


def test_the_comparison_artifacts_show_the_verdict_and_its_numbers_at_1280_pixels(
    ui_server: UiServer, tmp_path: Path
) -> None:
    """The table artifact and the verdict's markdown: nothing that decides is cut off (the old
    table's result column was behind the table's scrollbar at this width)."""
    require_chromium()
    published = _script(ui_server, "publish", "publish.log")
    assert published.wait(timeout=300) == 0, (ui_server.logs / "publish.log").read_text()[-3000:]
    key = f"ui-{COMPARISON}-comparison"
    artifacts = {
        artifact["key"]: artifact["latest_id"]
        for artifact in _api(
            ui_server,
            "POST",
            "/artifacts/latest/filter",
            artifacts={"key": {"any_": [key, f"{key}-verdict"]}},
        )
    }
    numbers = _deciding_numbers()
    wanted = {
        key: [numbers[name] for name in numbers if name != "required"],
        f"{key}-verdict": [numbers[name] for name in numbers if name != "required (table)"],
    }
    assert sorted(artifacts) == sorted(wanted)
    with chromium() as driver:
        driver.set_window_size(WIDTH, HEIGHT)
        for artifact_key, artifact_id in sorted(artifacts.items()):
            driver.get(f"{ui_server.ui}/artifacts/artifact/{artifact_id}")
            wait_for(
                lambda: (
                    numbers["interval"] in driver.execute_script("return document.body.innerText")
                ),
                90,
                f"the artifact page of {artifact_key}",
            )
            save_screenshot(driver, tmp_path / f"prefect-{artifact_key.removeprefix('ui-')}.png")
            _assert_on_screen(driver, wanted[artifact_key], wanted[artifact_key])


def _paused_run(server: UiServer) -> dict[str, Any] | None:
    runs = _api(
        server, "POST", "/flow_runs/filter", flow_runs={"state": {"type": {"any_": ["PAUSED"]}}}
    )
    for run in runs:
        keyset = run["state"]["state_details"].get("run_input_keyset")
        if keyset:
            try:
                _api(server, "GET", f"/flow_runs/{run['id']}/input/{keyset['description']}")
            except httpx.HTTPStatusError:
                continue  # paused, form not saved yet
            return dict(run)
    return None


def test_the_approval_form_shows_the_verdict_and_its_numbers_at_1280_pixels(
    ui_server: UiServer, tmp_path: Path
) -> None:
    require_chromium()
    from selenium.webdriver.common.by import By

    asking = _script(ui_server, "approve", "approve.log")
    try:
        run = wait_for(lambda: _paused_run(ui_server), 180, "the run paused for approval")
        with chromium() as driver:
            driver.set_window_size(WIDTH, HEIGHT)
            driver.get(f"{ui_server.ui}/runs/flow-run/{run['id']}")
            button = wait_for(
                lambda: [
                    b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == "Resume"
                ],
                90,
                "the Resume button of the paused run",
            )[0]
            button.click()
            wait_for(
                lambda: (
                    "Choose a decision" in driver.execute_script("return document.body.innerText")
                ),
                60,
                "the approval form",
            )
            save_screenshot(driver, tmp_path / "prefect-approval-form.png")
            numbers = _deciding_numbers()
            _assert_on_screen(
                driver,
                ["Resume Flow Run", "Choose a decision", "Submit"],
                [numbers[name] for name in numbers if name != "required (table)"],
            )
    finally:
        stop_process(asking, signal.SIGTERM)
