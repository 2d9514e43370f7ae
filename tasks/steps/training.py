"""Training a challenger on the most recent labelled data and registering it with its lineage."""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.adapters.modeling import fit_model, predict_labels
from tasks.config import Config
from tasks.core.change import (
    ChangeEstimate,
    TrainingChoice,
    choose_training_window,
    configured_span,
    estimate_change_start,
)
from tasks.core.followup import champion_change
from tasks.core.frames import fingerprint_frame
from tasks.core.metrics import holdout_metric_key, score_predictions
from tasks.core.windows import Window, WindowPlan
from tasks.errors import ModelError, RegistryError
from tasks.steps.attachments import Registration, version_attachments
from tasks.steps.estimation import HoldoutFit, fit_on_holdout
from tasks.steps.logs import step_logger
from tasks.stores.data import LogSource, load_window
from tasks.stores.registry import Lineage, ModelVersion
from tasks.stores.resources import Stores

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
# Set in the image (Dockerfile build args) and by compose.yaml or a work pool's job variables.
IMAGE_ENV = "AUTORETRAIN_IMAGE"
IMAGE_DIGEST_ENV = "AUTORETRAIN_IMAGE_DIGEST"
GIT_SHA_ENV = "AUTORETRAIN_GIT_SHA"


def _git(root: Path, *arguments: str) -> str:
    """What `git ARGUMENTS` prints in root, stripped; OSError or CalledProcessError outside a
    git checkout (an image) or without git."""
    return subprocess.run(
        ["git", *arguments], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()


@cache
def _git_head(root: Path) -> str:
    """The checkout's full commit SHA, "" when root is not in a git checkout (an image)."""
    try:
        return _git(root, "rev-parse", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        return ""


def _baked_git_sha() -> str:
    sha = os.environ.get(GIT_SHA_ENV, "").strip()
    return "" if sha in ("", "unknown") else sha


def provenance(root: Path = PROJECT_ROOT) -> dict[str, str]:
    """Where a model is being made, as Lineage's fields image, image_digest, git_sha and
    lock_sha256: the image from the environment the image and its runtime set ("" outside one),
    the commit from the checkout, else the one baked into the image, and the SHA-256 of the
    project's uv.lock ("" when the file is not there)."""
    lock = root / "uv.lock"
    return {
        "image": os.environ.get(IMAGE_ENV, "").strip(),
        "image_digest": os.environ.get(IMAGE_DIGEST_ENV, "").strip(),
        "git_sha": _git_head(root) or _baked_git_sha(),
        "lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else "",
    }


@cache
def code_version() -> str:
    """The git commit of the project, with '+dirty' for uncommitted changes; in an image (no
    git) the commit baked into it; 'unknown' when neither is known."""
    root = PROJECT_ROOT
    baked = _baked_git_sha()[:12]
    try:
        commit = _git(root, "rev-parse", "--short=12", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return baked or "unknown"
    return commit + ("+dirty" if dirty else "")


def reference_frame(config: Config, training: pd.DataFrame) -> pd.DataFrame:
    """The data kept with a model as its reference: features, target and timestamp."""
    data = config.data
    return training[[data.timestamp_column, *data.features, data.target_column]].reset_index(
        drop=True
    )


# Enough earlier runs to find where any realistic breach streak began.
CHANGE_HISTORY_RUNS = 100


def plan_training(
    config: Config, stores: Stores, plan: WindowPlan, breaches: Sequence[str], champion: str | None
) -> TrainingChoice:
    """Where the challenger trains and the gate judges: since the estimated change when a
    confirmed breach started the retrain and training.change_aware is on, else the plan's spans.

    Args:
        breaches: the confirmed breaches that started the retrain (empty: manual or scheduled).
        champion: the champion whose breach streak is read from the monitoring history.
    """
    followed = followed_change(config, stores, champion) if not breaches else None
    if not config.training.change_aware or (not breaches and followed is None):
        why = (
            "training.change_aware is off"
            if breaches or followed is not None
            else "no confirmed breach started this retrain"
        )
        return configured_span(plan, why)
    if followed is not None:  # a follow-up retrain (or by hand): since the champion's change
        change: ChangeEstimate | None = followed
    else:
        earlier = stores.history.recent(config.name, plan.as_of, CHANGE_HISTORY_RUNS)
        change = estimate_change_start(
            plan.as_of, config.windows.current, earlier, breaches, champion
        )
    times: list[Any] = []
    if change is not None and change.start > plan.training.start:
        column = config.data.timestamp_column
        since = Window(change.start, plan.as_of)
        rows = load_window(config, since, labelled_only=True, source=stores.source)
        times = pd.to_datetime(rows[column], utc=True).dt.tz_localize(None).tolist()
    choice = choose_training_window(
        plan, change, times, config.training.min_rows, config.promotion.min_holdout_rows
    )
    step_logger(__name__).info("training window: %s, %s", choice.chosen, choice.reason)
    return choice


def followed_change(config: Config, stores: Stores, champion: str | None) -> ChangeEstimate | None:
    """The change the champion was trained since (its lineage's training choice), as the start
    of a retrain that no breach started (the policy's follow-up retrain, or one by hand); None:
    no champion, or one trained on the configured span."""
    if champion is None or not config.training.change_aware:
        return None
    try:
        record = stores.registry.get_version(champion)
    except RegistryError:  # not a version of this registry: nothing to follow
        return None
    change = champion_change(record.training_choice)
    if change is None:
        return None
    return ChangeEstimate(
        change.start, change.start, 0, f"the change the champion {champion} was trained after"
    )


def _lineage(
    config: Config,
    log: LogSource,
    model: Any,
    training: pd.DataFrame,
    window: Window,
    *,
    source: str,
    reason: str,
    fit: HoldoutFit | None = None,
) -> Lineage:
    data = config.data
    metric = config.policy.performance_metric
    score = score_predictions(
        metric,
        training[data.target_column].tolist(),
        predict_labels(model, training, data.features).tolist(),
    )
    metrics = {f"training_{metric.describe()}": round(score, 6)}
    made = provenance()
    if fit is not None and fit.score is not None:  # what the policy measures drops against
        metrics[holdout_metric_key(metric)] = round(fit.score, 6)
    return Lineage(
        estimator=config.model.estimator,
        params=dict(config.model.params),
        training_window=window.to_dict(),
        training_rows=len(training),
        data_fingerprint=fingerprint_frame(reference_frame(config, training)),
        metrics=metrics,
        code_version=code_version(),
        source=source,
        reason=reason,
        features=list(data.features),
        data_source=log.describe(),  # credentials masked
        image=made["image"],
        image_digest=made["image_digest"],
        git_sha=made["git_sha"],
        lock_sha256=made["lock_sha256"],
    )


def train_challenger(
    config: Config,
    stores: Stores,
    window: Window,
    reason: str,
    holdout: Window | None = None,
    choice: TrainingChoice | None = None,
) -> ModelVersion:
    """Fit a model on the labelled rows of window and register it as the challenger, with its
    probabilities' calibration on the labelled rows of holdout (for the label-free estimate).

    With choice (plan_training's), it trains on choice.training, calibrates on choice.holdout
    and records the choice, and the holdout the gate must judge on when the choice moved it, in
    the lineage.
    """
    logger = step_logger(__name__)
    if choice is not None:
        window, holdout = choice.training, choice.holdout
    training = load_window(config, window, labelled_only=True, source=stores.source)
    if len(training) == 0:
        raise ModelError(
            f"no labelled rows to train on in {window}: check windows.training and the data's dates"
        )
    model = fit_model(config, training)
    fit = fit_on_holdout(config, stores.source, model, holdout)
    logger.info(fit.note)
    registry = stores.registry
    lineage = _lineage(
        config, stores.source, model, training, window, source="trained", reason=reason, fit=fit
    )
    if choice is not None:
        moved = choice.chosen == "since-change-split"
        lineage = replace(
            lineage,
            training_choice=choice.to_dict(),
            holdout_window=choice.holdout.to_dict() if moved else {},
        )
    reference = reference_frame(config, training)
    record = registry.register(
        model,
        reference,
        lineage,
        fit.calibration.to_dict() if fit.calibration else None,
        version_attachments(Registration(config, model, reference, fit.rows)),
    )
    registry.set_alias("challenger", record.version, reason=reason, action="register")
    logger.info(
        "registered %s as challenger: %d rows from %s", record.version, len(training), window
    )
    return record


def adopt_model(
    config: Config,
    stores: Stores,
    model_path: Path,
    window: Window,
    reason: str,
    holdout: Window | None = None,
) -> ModelVersion:
    """Register an existing pickled model as the challenger, with window as its reference data
    and its calibration on the labelled rows of holdout."""
    if not model_path.is_file():
        raise ModelError(f"bootstrap.model_path not found: {model_path}")
    try:
        with model_path.open("rb") as handle:
            model = pickle.load(handle)
    except Exception as error:
        raise ModelError(f"cannot load bootstrap.model_path {model_path}: {error}") from None
    training = load_window(config, window, labelled_only=True, source=stores.source)
    if len(training) == 0:
        raise ModelError(f"no labelled rows in the adopted model's reference window {window}")
    fit = fit_on_holdout(config, stores.source, model, holdout)
    step_logger(__name__).info(fit.note)
    registry = stores.registry
    reference = reference_frame(config, training)
    record = registry.register(
        model,
        reference,
        _lineage(
            config,
            stores.source,
            model,
            training,
            window,
            source=f"adopted from {model_path}",
            reason=reason,
            fit=fit,
        ),
        fit.calibration.to_dict() if fit.calibration else None,
        version_attachments(Registration(config, model, reference, fit.rows)),
    )
    registry.set_alias("challenger", record.version, reason=reason, action="register")
    return record
