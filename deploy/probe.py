"""Probe services from inside the image: its HEALTHCHECK, and the wait before a service starts.

    probe.py                         the HEALTHCHECK: AUTORETRAIN_HEALTH_URL, if set
    probe.py --wait 300 URL [URL..]  until every URL answers, or fail after 300 s

A URL is http(s)://... (healthy: a 2xx answer within 5 s) or tcp://host:port (healthy: the port
accepts a connection). One image serves every role, so the role says what healthy means: a
service sets AUTORETRAIN_HEALTH_URL (the Prefect server, the MLflow server, the Evidently UI, a
worker started with --with-healthcheck); a flow run, the CLI or a one-shot job sets none, has no
service to probe, and is healthy while its process runs. Standard library only (no curl here).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
import urllib.parse
import urllib.request

TIMEOUT = 5.0


def problem(url: str) -> str | None:
    """None when the URL answers as healthy; else what went wrong."""
    parsed = urllib.parse.urlparse(url)
    try:
        if parsed.scheme == "tcp":
            with socket.create_connection((parsed.hostname or "", parsed.port or 0), TIMEOUT):
                return None
        if parsed.scheme not in ("http", "https"):
            return f"{url}: not an http(s):// or tcp:// URL"
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            status = response.status
    except Exception as error:  # any failure to answer is unhealthy, and says why
        return f"{url}: {error}"
    return None if 200 <= status < 300 else f"{url}: HTTP {status}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("urls", nargs="*", help="default: $AUTORETRAIN_HEALTH_URL")
    parser.add_argument("--wait", type=float, default=0.0, help="seconds to wait for them")
    args = parser.parse_args(argv)
    urls = args.urls or os.environ.get("AUTORETRAIN_HEALTH_URL", "").split()
    deadline = time.monotonic() + args.wait
    for url in urls:
        while (found := problem(url)) is not None:
            if time.monotonic() >= deadline:
                print(f"unhealthy: {found}", file=sys.stderr)
                return 1
            time.sleep(1.0)
        if args.wait:
            print(f"probe: {url} answers", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
