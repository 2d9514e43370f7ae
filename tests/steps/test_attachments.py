"""Training registers the attachments its builders make, with the holdout's labelled rows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from tasks.core.windows import Window
from tasks.steps import attachments
from tasks.steps.attachments import Registration
from tasks.steps.training import train_challenger
from tasks.stores.registry import open_registry
from tasks.stores.resources import open_stores
from tests.helpers import repo_config

TRAINING = Window(datetime(2012, 1, 1), datetime(2013, 1, 1))
HOLDOUT = Window(datetime(2013, 1, 1), datetime(2013, 4, 1))


def test_a_trained_version_keeps_what_the_builders_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = repo_config({"registry.path": str(tmp_path / "registry")})
    seen: list[Registration] = []

    def rows(registration: Registration) -> bytes:
        seen.append(registration)
        holdout = registration.holdout
        assert holdout is not None
        return f"{len(registration.reference)} {len(holdout)}".encode()

    monkeypatch.setattr(attachments, "BUILDERS", {"rows.txt": rows})

    record = train_challenger(config, open_stores(config), TRAINING, "test", HOLDOUT)

    registry = open_registry(config.registry, config.name)
    (registration,) = seen
    assert registration.model is not None and registration.config is config
    holdout = registration.holdout
    assert isinstance(holdout, pd.DataFrame)
    # every holdout row labelled, all of them from the holdout window
    assert holdout[config.data.target_column].notna().all()
    assert holdout[config.data.timestamp_column].min() >= HOLDOUT.start
    stored = registry.load_attachment(record.version, "rows.txt")
    assert stored == f"{len(registration.reference)} {len(holdout)}".encode()
    assert len(holdout) > 80
