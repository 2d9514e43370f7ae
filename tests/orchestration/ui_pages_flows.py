"""Flows that leave the comparison's pages in a Prefect server's UI, run as a script by
tests/orchestration/test_prefect_ui_pages.py against the server it started:

    python -m tests.orchestration.ui_pages_flows publish|approve NAME

NAME is a comparison of tests/data/gate_comparisons.json (or a registry's JSON file); it gets a model name of its own and
a provenance as long as a container build records (image, digest, commit, lock hash), the
widest text the pages hold. `approve` pauses for approval until the process is stopped.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from prefect import flow

from tasks.core.gate import Approval, Comparison
from tasks.orchestration.approval import request_approval
from tasks.orchestration.artifacts import publish_comparison

GOLDEN = Path(__file__).parent.parent / "data" / "gate_comparisons.json"
MADE = {
    "image": "registry.example.com/ml/autoretrain:2026.12.03",
    "image_digest": "sha256:" + "4f" * 32,
    "git_sha": "0123456789abcdef0123456789abcdef01234567",
    "lock_sha256": "9a" * 32,
}


def comparison(name: str) -> Comparison:
    """The golden comparison NAME, as the model `ui-<name>`, asking approval for an hour; or
    the comparison a registry saved at the path NAME (*.json) as it is (the docs' screenshots)."""
    if name.endswith(".json"):
        saved = Comparison.from_dict(json.loads(Path(name).read_text()))
        return replace(saved, rules=replace(saved.rules, approval_required=True))
    loaded = Comparison.from_dict(json.loads(GOLDEN.read_text())[name])
    champion = loaded.champion
    return replace(
        loaded,
        model_name=f"ui-{name}",
        rules=replace(loaded.rules, approval_required=True, approval_timeout_seconds=3600),
        champion=replace(champion, provenance=MADE) if champion else None,
        challenger=replace(loaded.challenger, provenance=MADE),
    )


@flow(name="ui-publish-comparison")
def publish(name: str) -> None:
    publish_comparison(comparison(name))


@flow(name="ui-ask-approval")
def approve(name: str) -> Approval:
    return request_approval(comparison(name))


if __name__ == "__main__":
    if sys.argv[1] == "publish":
        publish(sys.argv[2])
    else:
        approve(sys.argv[2])
