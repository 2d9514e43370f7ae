"""The stack, for real: `make stack-test` (after `make image`) runs this with the dev venv.

Brings compose.yaml up under its own project name with podman-compose (or `docker compose`),
waits until every service is healthy, runs the demo chain through it (the monitor deployment;
retrain and promote follow through events), checks the champion alias in MLflow and the
dashboards' project in the Evidently UI over HTTP, screenshots each UI in headless Chromium,
brings the stack down and up again and checks that the state survived and a monitor run resumes
from it, then tears everything down, containers and volumes, and checks that nothing is left.

    python deploy/stack_test.py [--image autoretrain:latest] [--keep] [--out build/stack]

Prints the timings: up -> healthy, up -> first promoted champion, second up -> healthy.
Exits non-zero, with the services' logs, when a step fails. Ports are free ones picked here
(the host's 4200, 5000 and 8000 may be taken), secrets are random and never written to disk.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger("stack-test")
ROOT = Path(__file__).resolve().parent.parent
MODEL = "seattle-weather"  # examples/compose/config.yaml's name
HEALTHY = ("postgres", "prefect-server", "mlflow", "evidently-ui", "worker")  # have health checks
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
T = TypeVar("T")


class StackTestError(RuntimeError):
    """A step of the stack test failed; the message says which and why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*command: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    """Run a command, return its stdout; on failure raise with its stderr."""
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if check and done.returncode != 0:
        raise StackTestError(
            f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
        )
    return done.stdout


def wait(what: str, deadline_s: float, probe: Callable[[], T | None], every: float = 3.0) -> T:
    """Call probe until it returns something other than None, or fail after deadline_s."""
    end = time.monotonic() + deadline_s
    last: Exception | None = None
    while time.monotonic() < end:
        try:
            result = probe()
        except StackTestError:
            raise
        except Exception as error:  # a service not answering yet: try again
            last = error
            result = None
        if result is not None:
            return result
        time.sleep(every)
    raise StackTestError(f"{what}: not within {deadline_s:.0f} s (last error: {last})")


def http_json(url: str, body: dict[str, Any] | None = None, timeout: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"} if data else {}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


@dataclass
class Stack:
    """One compose project of compose.yaml, its ports and secrets."""

    image: str
    project: str = "autoretrain-stacktest"
    ports: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    compose: list[str] = field(default_factory=list)
    engine: str = "podman"

    def __post_init__(self) -> None:
        self.ports = {"prefect": free_port(), "mlflow": free_port(), "evidently": free_port()}
        digest = run(self.engine, "image", "inspect", "--format", "{{.Digest}}", self.image)
        self.env = {
            **os.environ,
            "POSTGRES_USER": "autoretrain",
            "POSTGRES_PASSWORD": secrets.token_hex(16),
            "EVIDENTLY_SECRET": secrets.token_hex(16),
            "AUTORETRAIN_IMAGE": self.image,
            "AUTORETRAIN_IMAGE_DIGEST": digest.strip(),
            "PREFECT_PORT": str(self.ports["prefect"]),
            "MLFLOW_PORT": str(self.ports["mlflow"]),
            "EVIDENTLY_PORT": str(self.ports["evidently"]),
            "PREFECT_UI_API_URL": f"http://localhost:{self.ports['prefect']}/api",
        }
        if self.engine == "podman":
            # 1.0.3 ignores compose.yaml's `name:`, hence -p
            self.compose = ["podman-compose", "-p", self.project, "-f", str(ROOT / "compose.yaml")]
        else:
            self.compose = [
                "docker",
                "compose",
                "-p",
                self.project,
                "-f",
                str(ROOT / "compose.yaml"),
            ]

    def url(self, service: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def up(self) -> None:
        run(*self.compose, "up", "-d", env=self.env)

    def down(self, volumes: bool = False) -> None:
        run(*self.compose, "down", *(["-v"] if volumes else []), env=self.env, check=False)
        if volumes and self.engine == "podman":  # podman-compose 1.0.3 leaves the network
            run(self.engine, "network", "rm", f"{self.project}_default", check=False)

    def containers(self) -> dict[str, str]:
        """The project's containers, service -> container name."""
        out = run(
            self.engine, "ps", "-a", "--filter", f"label=com.docker.compose.project={self.project}",
            "--format", '{{.Names}} {{index .Labels "com.docker.compose.service"}}',
        )  # fmt: skip
        return {line.split()[1]: line.split()[0] for line in out.splitlines() if line.strip()}

    def volumes(self) -> list[str]:
        out = run(self.engine, "volume", "ls", "--format", "{{.Name}}")
        return [name for name in out.split() if name.startswith(f"{self.project}_")]

    def healthy(self) -> bool | None:
        """True when every service with a health check passes it and deploy exited 0."""
        containers = self.containers()
        missing = [s for s in (*HEALTHY, "deploy") if s not in containers]
        if missing:
            raise StackTestError(f"no container for {', '.join(missing)} after up")
        for service in HEALTHY:
            # podman without systemd runs no health checks by itself: run one now
            if self.engine == "podman":
                code = subprocess.run(
                    [self.engine, "healthcheck", "run", containers[service]], capture_output=True
                ).returncode
                if code != 0:
                    return None
            else:
                status = run(
                    self.engine, "inspect", "--format", "{{.State.Health.Status}}",
                    containers[service],
                ).strip()  # fmt: skip
                if status != "healthy":
                    return None
        state = run(
            self.engine, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}",
            containers["deploy"],
        ).split()  # fmt: skip
        if state[0] == "exited" and state[1] != "0":
            raise StackTestError(f"deploy exited {state[1]}: {self.logs('deploy')}")
        return True if state[0] == "exited" else None

    def logs(self, service: str, tail: int = 60) -> str:
        name = self.containers().get(service)
        if name is None:
            return "(no container)"
        done = subprocess.run(
            [self.engine, "logs", "--tail", str(tail), name], capture_output=True, text=True
        )
        return done.stdout + done.stderr

    def history_windows(self) -> int:
        """How many monitored windows the monitoring history on the stack's PostgreSQL holds."""
        out = run(
            self.engine, "exec", self.containers()["postgres"], "psql", "-U", "autoretrain",
            "-d", "autoretrain", "-tAc", f"select count(*) from monitor_runs where model_name = '{MODEL}'",
        )  # fmt: skip
        return int(out.strip())

    def history_url(self) -> str:
        """history.url as the flow runs on the stack's network see it."""
        return (
            f"postgresql+psycopg://{self.env['POSTGRES_USER']}:{self.env['POSTGRES_PASSWORD']}"
            "@postgres:5432/autoretrain"
        )

    # --- the services over HTTP ---------------------------------------------------------------
    def champion(self) -> int | None:
        """The version the champion alias points at in MLflow, None when there is none."""
        query = urllib.parse.urlencode({"name": MODEL, "alias": "champion"})
        try:
            answer = http_json(
                self.url("mlflow", f"/api/2.0/mlflow/registered-models/alias?{query}")
            )
        except urllib.error.HTTPError as error:
            if error.code in (400, 404):  # no model or no alias yet
                return None
            raise
        return int(answer["model_version"]["version"])

    def lineage(self, version: int) -> dict[str, Any]:
        """The lineage autoretrain recorded with a version (its autoretrain.metadata tag)."""
        query = urllib.parse.urlencode({"name": MODEL, "version": str(version)})
        found = http_json(self.url("mlflow", f"/api/2.0/mlflow/model-versions/get?{query}"))
        tags = {t["key"]: t["value"] for t in found["model_version"].get("tags", [])}
        return dict(json.loads(tags["autoretrain.metadata"]))

    def model_versions(self) -> int:
        query = urllib.parse.urlencode({"filter": f"name='{MODEL}'"})
        answer = http_json(self.url("mlflow", f"/api/2.0/mlflow/model-versions/search?{query}"))
        return len(answer.get("model_versions", []))

    def flow_runs(self) -> list[dict[str, Any]]:
        runs = http_json(self.url("prefect", "/api/flow_runs/filter"), {"limit": 200})
        names = {
            f["id"]: f["name"] for f in http_json(self.url("prefect", "/api/flows/filter"), {})
        }
        return [{**r, "flow": names.get(r["flow_id"], "?")} for r in runs]

    def run_deployment(self, flow: str, deployment: str) -> str:
        found = http_json(self.url("prefect", f"/api/deployments/name/{flow}/{deployment}"))
        created = http_json(
            self.url("prefect", f"/api/deployments/{found['id']}/create_flow_run"), {}
        )
        return str(created["id"])

    def evidently_project(self) -> dict[str, Any] | None:
        projects = http_json(self.url("evidently", "/api/projects"))
        return next((p for p in projects if p["name"] == MODEL), None)

    def snapshots(self, project_id: str) -> int:
        return len(http_json(self.url("evidently", f"/api/projects/{project_id}/snapshots")))


def chain(stack: Stack, deadline_s: float) -> int:
    """Run the monitor deployment until the champion alias moves to a retrained version (the
    first monitor run trains the first champion; retrain and promote follow through events).
    Another monitor run starts when every run has ended without a promotion (the confirmation
    rule may want a second breach), at most three. Returns the promoted version."""
    monitors = [stack.run_deployment("monitor", "autoretrain-monitor")]
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        runs = stack.flow_runs()
        bad = [r for r in runs if r["state_type"] in ("FAILED", "CRASHED")]
        if bad:
            raise StackTestError(
                "flow runs failed: "
                + ", ".join(f"{r['flow']}/{r['name']} {r['state_name']}" for r in bad)
            )
        version = stack.champion()
        if version is not None and version >= 2:
            return version
        ended = all(r["state_type"] in ("COMPLETED", "CANCELLED") for r in runs)
        if ended and len(monitors) < 3 and time.monotonic() < end:
            log.info("every run ended, champion v%s: another monitor run", version)
            monitors.append(stack.run_deployment("monitor", "autoretrain-monitor"))
        time.sleep(5)
    raise StackTestError(
        f"no promoted champion within {deadline_s:.0f} s; runs: "
        + ", ".join(f"{r['flow']} {r['state_name']}" for r in stack.flow_runs())
    )


def check_lineage(stack: Stack, version: int) -> None:
    """The promoted version records where it was made: this image (name and digest), a git
    commit and the SHA-256 of this checkout's uv.lock (the image was built from it)."""
    lineage = stack.lineage(version)
    made = {k: lineage.get(k, "") for k in ("image", "image_digest", "git_sha", "lock_sha256")}
    expected_lock = hashlib.sha256((ROOT / "uv.lock").read_bytes()).hexdigest()
    problems = []
    if made["image"] != stack.image:
        problems.append(f"image {made['image']!r}, not {stack.image!r}")
    if made["image_digest"] != stack.env["AUTORETRAIN_IMAGE_DIGEST"]:
        problems.append(f"digest {made['image_digest']!r}")
    if len(made["git_sha"]) != 40:
        problems.append(f"git_sha {made['git_sha']!r}")
    if made["lock_sha256"] != expected_lock:
        problems.append(f"lock_sha256 {made['lock_sha256']!r}, not {expected_lock}")
    if problems:
        raise StackTestError(f"the lineage of v{version}: " + "; ".join(problems))
    log.info("v%d was made in %s@%s, git %s", version, made["image"], made["image_digest"][:19],
             made["git_sha"][:12])  # fmt: skip


def wait_for_run(stack: Stack, run_id: str, deadline_s: float) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        found = http_json(stack.url("prefect", f"/api/flow_runs/{run_id}"))
        return (
            found
            if found["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
            else None
        )

    return wait(f"flow run {run_id}", deadline_s, ended, every=5)


def screenshots(stack: Stack, project_id: str, out: Path) -> list[Path]:
    """One screenshot per UI, each once the page shows what the chain left there."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run", "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(flag)
    pages = [
        # the browser reaches the APIs at localhost (PREFECT_UI_API_URL, MLflow's allowed hosts)
        ("prefect", f"http://localhost:{stack.ports['prefect']}/runs", "promote"),
        ("mlflow", f"http://localhost:{stack.ports['mlflow']}/#/models/{MODEL}", "champion"),
        ("evidently", f"http://localhost:{stack.ports['evidently']}/projects/{project_id}", MODEL),
    ]
    saved = []
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        for name, url, text in pages:
            driver.get(url)
            path = out / f"{name}.png"

            def shows(text: str = text) -> bool | None:
                return True if text in driver.find_element("tag name", "body").text else None

            try:
                wait(f"the {name} UI showing {text!r}", 90, shows, every=2)
                time.sleep(2)  # let charts finish drawing before the picture (not a check)
            finally:
                driver.save_screenshot(str(path))
            saved.append(path)
            log.info("screenshot %s", path)
    finally:
        driver.quit()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=os.environ.get("IMAGE", "autoretrain:latest"))
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "stack")
    parser.add_argument("--keep", action="store_true", help="leave the stack up at the end")
    parser.add_argument("--engine", default="podman", choices=["podman", "docker"])
    parser.add_argument(
        "--no-docker-pool",
        dest="docker_pool",
        action="store_false",
        help="skip the flow run in a container of its own (deploy/docker_pool_check.py)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s stack-test %(message)s")
    if args.engine == "podman" and not shutil.which("podman-compose"):
        log.error("podman-compose is missing: run .ci/containers.sh (as root) first")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    stack = Stack(image=args.image, engine=args.engine)
    if stack.containers() or stack.volumes():
        log.info("removing what a previous stack test left behind")
        stack.down(volumes=True)
    timings: dict[str, float] = {}
    try:
        log.info("up (project %s, ports %s)", stack.project, stack.ports)
        start = time.monotonic()
        stack.up()
        wait("every service healthy", 900, stack.healthy, every=5)
        timings["up -> healthy"] = time.monotonic() - start
        log.info("healthy after %.0f s", timings["up -> healthy"])

        version = chain(stack, deadline_s=1200)
        timings["up -> first promoted champion"] = time.monotonic() - start
        log.info("champion v%d after %.0f s", version, timings["up -> first promoted champion"])
        check_lineage(stack, version)
        runs = stack.flow_runs()
        flows = sorted(r["flow"] for r in runs)
        for needed in ("monitor", "retrain", "promote"):
            if needed not in flows:
                raise StackTestError(f"no {needed} flow run in {flows}")
        windows = stack.history_windows()
        if windows < 1:
            raise StackTestError("the monitoring history on PostgreSQL holds no monitor run")
        log.info("monitoring history on PostgreSQL: %d window(s) of %s", windows, MODEL)
        project = wait("the Evidently project", 60, stack.evidently_project)
        before_snapshots = stack.snapshots(project["id"])
        if before_snapshots < 1:
            raise StackTestError(f"the Evidently project {MODEL} has no snapshot")
        log.info("Evidently project %s: %d snapshots", project["id"], before_snapshots)
        screenshots(stack, project["id"], args.out)
        if args.docker_pool:
            sys.path.insert(0, str(ROOT / "deploy"))
            from docker_pool_check import check

            timings["a flow run in its own container"] = check(
                stack.url("prefect", "/api"),
                stack.image,
                stack.project,
                stack.env["EVIDENTLY_SECRET"],
                stack.history_url(),
            )
            before_snapshots = stack.snapshots(project["id"])

        versions = stack.model_versions()
        log.info("down, then up again")
        stack.down()
        start = time.monotonic()
        stack.up()
        wait("every service healthy again", 900, stack.healthy, every=5)
        timings["second up -> healthy"] = time.monotonic() - start
        log.info("healthy again after %.0f s", timings["second up -> healthy"])
        after = stack.champion()
        if after != version:
            raise StackTestError(f"after down/up the champion is v{after}, not v{version}")
        if len(stack.flow_runs()) < len(runs):
            raise StackTestError("after down/up Prefect lost flow runs")
        if stack.snapshots(project["id"]) < before_snapshots:
            raise StackTestError("after down/up the Evidently project lost snapshots")
        # resumes: a monitor run on the kept state neither bootstraps nor retrains again (the
        # champion was just promoted: cooldown), and adds a snapshot to the same project
        ended = wait_for_run(stack, stack.run_deployment("monitor", "autoretrain-monitor"), 600)
        if ended["state_type"] != "COMPLETED":
            raise StackTestError(f"the monitor run after the second up: {ended['state_name']}")
        if stack.champion() != version or stack.model_versions() != versions:
            raise StackTestError(
                f"the monitor run after the second up changed the registry: champion "
                f"v{stack.champion()}, {stack.model_versions()} versions (was v{version}, {versions})"
            )
        snapshots = wait(
            "a new Evidently snapshot",
            60,
            lambda: n if (n := stack.snapshots(project["id"])) > before_snapshots else None,
        )
        if stack.history_windows() < windows:
            raise StackTestError("after down/up the monitoring history lost runs")
        log.info("resumed: champion v%d, %d versions, %d snapshots", version, versions, snapshots)
    except Exception:
        for service in (*HEALTHY, "deploy"):
            log.error("--- logs of %s ---\n%s", service, stack.logs(service))
        raise
    finally:
        if not args.keep:
            stack.down(volumes=True)
            left = list(stack.containers()) + stack.volumes()
            if left:
                raise StackTestError(f"left behind after down -v: {left}")
            log.info("torn down: no container or volume of %s left", stack.project)
    for what, seconds in timings.items():
        print(f"{what}: {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
