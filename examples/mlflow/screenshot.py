"""Run the demo against a fresh MLflow server and photograph its registered model page.

    .venv/bin/python examples/mlflow/screenshot.py

Starts `mlflow server` (SQLite and artifacts in a temporary directory) on a free port, runs the
monitor flow with examples/mlflow/config.yaml pointed at it (bootstrap v0001, retrain, promote
v0002), then opens the model's page in Debian's headless Chromium and saves
docs/img/mlflow-registered-model.png. Needs `apt-get install chromium chromium-driver`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OUTPUT = ROOT / "docs" / "img" / "mlflow-registered-model.png"
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(uri: str, server: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"mlflow server exited with {server.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{uri}/health", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(1)
    raise SystemExit(f"mlflow server at {uri} not healthy after {timeout:.0f} s")


def run_demo(uri: str, directory: Path) -> Path:
    """examples/mlflow/config.yaml pointed at uri, with its local state in directory."""
    config = yaml.safe_load((ROOT / "examples" / "mlflow" / "config.yaml").read_text())
    config["data"]["source"]["path"] = str(ROOT / "data" / "seattle")
    config["registry"].update(tracking_uri=uri, path=str(directory / "state"))
    config["reports"]["path"] = str(directory / "reports")
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    subprocess.run(
        [str(BIN / "python"), "flows/monitor.py", "--config", str(path)],
        cwd=ROOT,
        env={**os.environ, **QUIET, "PREFECT_HOME": str(directory / "prefect")},
        check=True,
    )
    return path


def photograph(uri: str, model_name: str, output: Path) -> None:
    from selenium import webdriver
    from selenium.common.exceptions import NoSuchElementException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,760")
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(f"{uri}/#/models/{model_name}")
        wait = WebDriverWait(driver, 60)
        # The versions table shows the champion alias as "@ champion".
        wait.until(lambda page: "@ champion" in page.find_element(By.TAG_NAME, "body").text)
        # The assistant panel and the long sections above the versions hide the aliases.
        with contextlib.suppress(NoSuchElementException):
            driver.find_element(By.XPATH, "//button[@aria-label='Close']").click()
        for header in (
            "//span[normalize-space(text())='Description']",
            "//div[normalize-space(text())='Tags']",
        ):
            with contextlib.suppress(NoSuchElementException):
                driver.find_element(By.XPATH, header).click()
        time.sleep(2)  # let the page settle after collapsing
        output.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(output))
    finally:
        driver.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where the PNG goes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="autoretrain-mlflow-") as scratch:
        directory = Path(scratch)
        uri = f"http://127.0.0.1:{free_port()}"
        command = [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{directory / 'mlflow.db'}",
            "--artifacts-destination",
            str(directory / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            uri.rsplit(":", 1)[1],
            "--workers",
            "1",
        ]
        with (directory / "server.log").open("w") as log:
            server = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **QUIET},
                start_new_session=True,
            )
        try:
            wait_healthy(uri, server)
            config = run_demo(uri, directory)
            photograph(uri, yaml.safe_load(config.read_text())["name"], args.output)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    print(f"saved {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
