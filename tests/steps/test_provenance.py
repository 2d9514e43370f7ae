"""Where a model is made: the image, the git commit and the lock's hash a new version records."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tasks.steps import training
from tasks.steps.training import PROJECT_ROOT, provenance


@pytest.fixture(autouse=True)
def _no_image(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AUTORETRAIN_IMAGE", "AUTORETRAIN_IMAGE_DIGEST", "AUTORETRAIN_GIT_SHA"):
        monkeypatch.delenv(name, raising=False)


def test_in_a_checkout_the_commit_and_the_lock_come_from_the_files() -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True
    ).stdout.strip()
    if not head:
        pytest.skip("not a git checkout")

    made = provenance()

    assert made == {
        "image": "",
        "image_digest": "",
        "git_sha": head,
        "lock_sha256": hashlib.sha256((PROJECT_ROOT / "uv.lock").read_bytes()).hexdigest(),
    }


def test_in_an_image_the_baked_commit_and_the_runtime_image_are_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an image's /app: no .git, the lock copied in, the commit and the image in the environment
    (tmp_path / "uv.lock").write_text("version = 1\n")
    monkeypatch.setenv("AUTORETRAIN_GIT_SHA", "0123456789abcdef0123456789abcdef01234567")
    monkeypatch.setenv("AUTORETRAIN_IMAGE", "autoretrain:latest")
    monkeypatch.setenv("AUTORETRAIN_IMAGE_DIGEST", "sha256:" + "a" * 64)

    assert provenance(tmp_path) == {
        "image": "autoretrain:latest",
        "image_digest": "sha256:" + "a" * 64,
        "git_sha": "0123456789abcdef0123456789abcdef01234567",
        "lock_sha256": hashlib.sha256(b"version = 1\n").hexdigest(),
    }


def test_nothing_known_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTORETRAIN_GIT_SHA", "unknown")  # the Dockerfile's default build arg

    assert provenance(tmp_path) == {
        "image": "",
        "image_digest": "",
        "git_sha": "",
        "lock_sha256": "",
    }


def test_the_code_version_in_an_image_is_the_baked_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(training, "PROJECT_ROOT", tmp_path)  # no git checkout there
    monkeypatch.setenv("AUTORETRAIN_GIT_SHA", "0123456789abcdef0123456789abcdef01234567")
    training.code_version.cache_clear()
    try:
        assert training.code_version() == "0123456789ab"
    finally:
        training.code_version.cache_clear()
