"""The registry's records: what a version, its lineage, an alias change and a check are (the
interface every backend offers the flows is ModelRegistry, in _journal.py)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any

from tasks.errors import RegistryError

ALIASES = ("champion", "challenger")
CALIBRATION_FILE = "calibration.json"
# A version's attachments (files other parts of the loop keep with it: a profile of its
# reference, a quality profile, an error model, ...): attachments/<name>, SHA-256 checked.
ATTACHMENTS_DIRECTORY = "attachments"
ATTACHMENT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
# A version's model card (card.md, card.json): beside its files, or under card/ of its run.
CARD_MARKDOWN = "card.md"
CARD_RECORD = "card.json"
# The same rule as the config's name, with a length a directory name can always have.
MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")

# What a version's calibration and a comparison are stored as.
JsonDict = dict[str, Any]


class Unchecked(Enum):
    """The type of UNCHECKED: set_alias(..., expected=UNCHECKED) moves the alias wherever it
    points now (the default), where expected=None means "only if it points nowhere"."""

    UNCHECKED = "unchecked"


UNCHECKED = Unchecked.UNCHECKED


@dataclass(frozen=True)
class Lineage:
    """Where a new version comes from, as the code registering it knows: the estimator and its
    parameters, the rows it was trained on, how well it did, which code and why.
    register() adds the version id, the model name, the time, the digests and the status."""

    estimator: str
    params: dict[str, Any]
    training_window: dict[str, str]
    training_rows: int
    data_fingerprint: str
    metrics: dict[str, float]
    code_version: str
    source: str
    reason: str
    features: list[str] = field(default_factory=list)
    # Where the training rows were read, credentials masked ("" in versions registered before
    # it was recorded, as for the fields below).
    data_source: str = ""
    # Change-aware training: which span was chosen and why (empty: the configured span);
    # holdout_window is set when the choice moved the holdout the gate judges on.
    training_choice: dict[str, Any] = field(default_factory=dict)
    holdout_window: dict[str, str] = field(default_factory=dict)
    # Where it was made ("" when not known, or registered before it was recorded): the image
    # the training ran in (its name, and its digest where the runtime said), the git commit (the
    # full SHA: the checkout's, or the one baked into the image) and the SHA-256 of uv.lock.
    image: str = ""
    image_digest: str = ""
    git_sha: str = ""
    lock_sha256: str = ""

    def lineage_fields(self) -> dict[str, Any]:
        """The lineage's fields by name (of a ModelVersion too: only those of its lineage)."""
        return {f.name: getattr(self, f.name) for f in fields(Lineage)}

    @property
    def provenance(self) -> dict[str, str]:
        """Where it was made, the fields that are known: image, image_digest, git_sha,
        lock_sha256."""
        made = {
            "image": self.image,
            "image_digest": self.image_digest,
            "git_sha": self.git_sha,
            "lock_sha256": self.lock_sha256,
        }
        return {key: value for key, value in made.items() if value}


@dataclass(frozen=True, kw_only=True)
class ModelVersion(Lineage):
    """One registered model version: its lineage, and the id, time, digests and status
    register() gave it."""

    version: str
    model_name: str
    created_at: str
    model_sha256: str
    status: str = "registered"
    reference_sha256: str = ""  # empty in versions registered before it was recorded
    # SHA-256 of calibration.json; "" when the version has none (a regressor, a model without
    # predict_proba, no labelled holdout rows, or registered before calibrations were kept).
    calibration_sha256: str = ""
    # The version's attachments: name -> SHA-256 of the file (empty in versions registered
    # without any, or before attachments were kept).
    attachments: dict[str, str] = field(default_factory=dict)

    @property
    def lineage(self) -> Lineage:
        """What the version was registered with (to register it again, say)."""
        return Lineage(**self.lineage_fields())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    action: str
    alias: str
    from_version: str | None
    to_version: str | None
    reason: str
    actor: str


@dataclass(frozen=True)
class StoredCard:
    """A version's model card as the registry keeps it: Markdown, its JSON record, and where."""

    version: str
    markdown: str
    record: JsonDict
    location: str


@dataclass(frozen=True)
class RegistryCheck:
    """What verify() found: problems a run could trip on, and harmless notes."""

    problems: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_attachment_name(name: str) -> str:
    """The attachment's name, if it is safe as a file name in any backend; else RegistryError."""
    if not isinstance(name, str) or not ATTACHMENT_NAME.fullmatch(name):
        raise RegistryError(
            f"{name!r} is not an attachment name: use lower-case letters, digits, '.', '_' and "
            "'-', starting with a letter or digit, at most 100 characters (like quality.json)"
        )
    return name


def check_model_name(model_name: str) -> str:
    """The model name, if it is safe as a directory name inside the registry; else RegistryError."""
    if not isinstance(model_name, str) or not MODEL_NAME.fullmatch(model_name):
        raise RegistryError(
            f"{model_name!r} is not a model name: use lower-case letters, digits and '-', "
            "starting with a letter or digit, at most 100 characters (the config's name)"
        )
    return model_name
