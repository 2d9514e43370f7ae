"""A version's attachments: stored with it in every backend, SHA-256 checked, all or nothing.

Every test that takes `backend` runs on the local registry and on a real MLflow server.
"""

from __future__ import annotations

import hashlib
import mmap
from pathlib import Path

import pandas as pd
import pytest

from tasks.errors import RegistryError
from tasks.steps import attachments
from tasks.steps.attachments import Registration, version_attachments
from tasks.stores.registry import LocalRegistry, ModelRegistry
from tests.registry_backends import Backend
from tests.stores.test_registry import MODEL_NAME, _lineage, _model, _reference

PROFILE = bytes(range(256)) * 40  # binary, not text
QUALITY = b'{"columns": {"temp_max": {"missing": 0.0}}}'


def _register_with(registry: ModelRegistry, files: dict[str, bytes] | None) -> str:
    reference = _reference()
    return registry.register(
        _model(reference), reference, _lineage(reference), attachments=files
    ).version


def test_attachments_round_trip_on_every_backend(backend: Backend) -> None:
    registry = backend.open()
    with_them = _register_with(registry, {"quality.json": QUALITY, "profile.npz": PROFILE})
    without = _register_with(registry, None)

    assert registry.load_attachment(with_them, "quality.json") == QUALITY
    assert registry.load_attachment(with_them, "profile.npz") == PROFILE
    # The same content read in place (a memory map of the file in the local registry).
    mapped = registry.map_attachment(with_them, "profile.npz")
    assert mapped is not None and bytes(mapped) == PROFILE
    assert registry.map_attachment(without, "profile.npz") is None
    assert registry.get_version(with_them).attachments == {
        "profile.npz": hashlib.sha256(PROFILE).hexdigest(),
        "quality.json": hashlib.sha256(QUALITY).hexdigest(),
    }
    # A version registered without one (an older version, say) has none, not an error.
    assert registry.load_attachment(without, "quality.json") is None
    assert registry.load_attachment(with_them, "dle.pkl") is None
    assert registry.get_version(without).attachments == {}
    assert registry.verify().ok


def test_a_changed_or_missing_attachment_is_refused_and_verify_names_it(
    backend: Backend,
) -> None:
    registry = backend.open()
    version = _register_with(registry, {"quality.json": QUALITY})
    path = backend.attachment_file(version, "quality.json")
    assert path.read_bytes() == QUALITY

    path.write_bytes(QUALITY.replace(b"0.0", b"0.9"))

    message = f"attachment quality.json of {version} does not match its registered SHA-256"
    with pytest.raises(RegistryError, match=message):
        registry.load_attachment(version, "quality.json")
    with pytest.raises(RegistryError, match=message):
        registry.map_attachment(version, "quality.json")
    assert any(
        f"attachment quality.json of {version}" in problem for problem in registry.verify().problems
    )
    path.unlink()
    with pytest.raises(RegistryError, match=f"attachment quality.json of {version}"):
        registry.load_attachment(version, "quality.json")
    with pytest.raises(RegistryError, match=f"attachment quality.json of {version}"):
        registry.map_attachment(version, "quality.json")


def test_a_bad_attachment_name_registers_nothing(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path, MODEL_NAME)

    with pytest.raises(RegistryError, match=r"'\.\./escape' is not an attachment name"):
        _register_with(registry, {"quality.json": QUALITY, "../escape": b"x"})
    with pytest.raises(RegistryError, match=r"'Profile\.NPZ' is not an attachment name"):
        registry.load_attachment("v0001", "Profile.NPZ")

    assert registry.list_versions() == []
    assert not list((registry.root / "versions").iterdir())  # no staging left behind
    assert not (tmp_path.parent / "escape").exists()


def test_the_builders_run_at_registration_and_none_is_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Registration] = []

    def rows_seen(registration: Registration) -> bytes:
        seen.append(registration)
        return str(len(registration.reference)).encode()

    monkeypatch.setattr(
        attachments,
        "BUILDERS",
        {"rows.txt": rows_seen, "nothing.json": lambda registration: None},
    )
    reference = _reference()
    registration = Registration(
        config=None,  # type: ignore[arg-type]  # the builders here do not read it
        model=_model(reference),
        reference=reference,
        holdout=pd.DataFrame(),
    )

    assert version_attachments(registration) == {"rows.txt": b"6"}
    assert seen == [registration]


def test_a_local_attachment_is_mapped_and_checked_over_the_map(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path, MODEL_NAME)
    version = _register_with(registry, {"profile.npz": PROFILE, "empty.json": b""})

    mapped = registry.map_attachment(version, "profile.npz")
    assert isinstance(mapped, mmap.mmap)  # the file's pages, not a copy in the process
    assert bytes(mapped) == PROFILE
    assert registry.map_attachment(version, "empty.json") == b""  # nothing to map
    with pytest.raises(RegistryError, match=r"'Profile\.NPZ' is not an attachment name"):
        registry.map_attachment(version, "Profile.NPZ")
