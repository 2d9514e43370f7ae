"""A flow run in a container of its own: a docker worker against the running stack.

    python deploy/docker_pool_check.py --prefect-url http://127.0.0.1:4200/api \\
        --image autoretrain:latest --project autoretrain --evidently-secret "$EVIDENTLY_SECRET" \\
        --history-url "$AUTORETRAIN_HISTORY_URL"

What prefect.docker.yaml sets up, minus its build and push (no image registry here; the image is
the one `make image` built): a work pool of type docker, the Evidently UI's secret and history.url as the
Prefect Secret blocks evidently-secret and history-url, one deployment of the monitor (mode inline) on that pool with the
job variables of prefect.docker.yaml (the image, the stack's network and state volume, the API
URL as the stack sees it), and a docker worker on this machine. Where no Docker daemon answers,
`podman system service` serves the Docker API on a socket of its own for the worker
(prefect-docker's docker-py talks to it). Then it runs the deployment and waits until the run,
in its own container of the image, completes. deploy/stack_test.py calls check() with
--docker-pool; run alone, it needs a stack that is up (`stack_test.py --keep`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger("docker-pool")
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POOL = "autoretrain-docker"
DEPLOYMENT = "autoretrain-docker-check"
CONFIG = "examples/compose/config.docker.yaml"


def _api(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"} if data else {}
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read() or b"null")


@contextmanager
def docker_api() -> Iterator[str]:
    """A Docker API socket: DOCKER_HOST when set or a daemon answers, else podman's service."""
    if os.environ.get("DOCKER_HOST"):
        yield os.environ["DOCKER_HOST"]
        return
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    ):
        yield "unix:///var/run/docker.sock"
        return
    directory = Path(tempfile.mkdtemp(prefix="autoretrain-podman-"))
    socket = f"unix://{directory}/podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", socket],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        end = time.monotonic() + 60
        while not (directory / "podman.sock").exists():
            if time.monotonic() > end or service.poll() is not None:
                raise RuntimeError("podman system service did not open its socket within 60 s")
            time.sleep(0.5)
        log.info("podman serves the Docker API at %s (pid %d)", socket, service.pid)
        yield socket
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)


def _deploy(env: dict[str, str], image: str, project: str, secret: str, history_url: str) -> str:
    """The pool, the secret blocks and the deployment; returns the deployment's id."""
    script = f"""
import asyncio
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists
from prefect.workers.utilities import get_default_base_job_template_for_infrastructure_type
from flows.monitor import monitor_flow

async def pool():
    async with get_client() as client:
        template = await get_default_base_job_template_for_infrastructure_type("docker")
        try:
            await client.create_work_pool(
                WorkPoolCreate(name={POOL!r}, type="docker", base_job_template=template)
            )
        except ObjectAlreadyExists:
            pass

asyncio.run(pool())
Secret(value={secret!r}).save("evidently-secret", overwrite=True)
Secret(value={history_url!r}).save("history-url", overwrite=True)
deployment_id = monitor_flow.deploy(
    name={DEPLOYMENT!r},
    work_pool_name={POOL!r},
    image={image!r},
    build=False,
    push=False,
    parameters={{"config_path": {CONFIG!r}, "mode": "inline"}},
    job_variables={{
        "image_pull_policy": "Never",
        "networks": [{project + "_default"!r}],
        "volumes": [{project + "_autoretrain-state:/app/.autoretrain"!r}],
        "env": {{
            "PREFECT_API_URL": "http://prefect-server:4200/api",
            "PREFECT_CLIENT_MAX_RETRIES": "7",
            "AUTORETRAIN_IMAGE": {image!r},
        }},
    }},
    print_next_steps=False,
)
print(deployment_id)
"""
    done = subprocess.run(
        [str(BIN / "python"), "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"deploying to the docker pool failed: {done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


def _remove_container(docker_host: str, container: str) -> None:
    """Remove the run's container: podman's Docker API leaves it behind (exited) although the
    job asks for auto_remove. Raises RuntimeError when it is still there."""
    import docker  # the docker extra (docker-py, which prefect-docker uses)
    from docker.errors import NotFound

    if not container:
        raise RuntimeError("the docker-pool run has no container id (infrastructure_pid)")
    client = docker.DockerClient(base_url=docker_host)
    try:
        client.containers.get(container).remove(force=True)
    except NotFound:
        return
    try:
        client.containers.get(container)
    except NotFound:
        return
    raise RuntimeError(f"the docker-pool run's container {container[:12]} is still there")


def check(
    prefect_url: str,
    image: str,
    project: str,
    secret: str,
    history_url: str,
    deadline_s: float = 900,
) -> float:
    """Run the monitor once in a container of its own through a docker worker; returns the
    seconds from the run's creation to its completion. Raises RuntimeError on failure."""
    with docker_api() as docker_host:
        env = {
            **os.environ,
            "PREFECT_API_URL": prefect_url,
            "DOCKER_HOST": docker_host,
            "PYTHONPATH": str(ROOT),
        }
        deployment_id = _deploy(env, image, project, secret, history_url)
        log.info("deployed %s on the %s pool", DEPLOYMENT, POOL)
        # the worker's output, shown when the run fails; removed in the finally below
        worker_log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="docker-worker-", suffix=".log", delete=False
        )
        worker = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "docker"],
            cwd=ROOT,
            env=env,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            start = time.monotonic()
            run = _api(f"{prefect_url}/deployments/{deployment_id}/create_flow_run", {})
            end = start + deadline_s
            while time.monotonic() < end:
                found = _api(f"{prefect_url}/flow_runs/{run['id']}")
                if found["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                    break
                if worker.poll() is not None:
                    raise RuntimeError(f"the docker worker exited {worker.returncode}")
                time.sleep(5)
            else:
                raise RuntimeError(f"the docker-pool run did not end within {deadline_s:.0f} s")
            took = time.monotonic() - start
            if found["state_type"] != "COMPLETED":
                raise RuntimeError(f"the docker-pool run ended {found['state_name']}")
            # the worker's id of the container: <docker API URL>:<container id>
            container = (found.get("infrastructure_pid") or "").rsplit(":", 1)[-1]
            log.info("docker-pool run completed in %.0f s (container %s)", took, container[:12])
            _remove_container(docker_host, container)
            return took
        except Exception:
            worker_log.flush()
            log.error("docker worker log:\n%s", Path(worker_log.name).read_text()[-4000:])
            raise
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
            Path(worker_log.name).unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefect-url", required=True, help="the stack's API, from this machine")
    parser.add_argument("--image", default="autoretrain:latest")
    parser.add_argument("--project", default="autoretrain", help="the compose project's name")
    parser.add_argument("--evidently-secret", default=os.environ.get("EVIDENTLY_SECRET", ""))
    parser.add_argument(
        "--history-url",
        default=os.environ.get("AUTORETRAIN_HISTORY_URL", ""),
        help="history.url as the flow-run container sees it (saved as the Secret block history-url)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s docker-pool %(message)s")
    took = check(
        args.prefect_url, args.image, args.project, args.evidently_secret, args.history_url
    )
    print(f"flow run in its own container: {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
