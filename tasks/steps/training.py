"""Training a challenger on the most recent labelled data and registering it with its lineage."""

from __future__ import annotations

import pickle
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.adapters.modeling import fit_model, predict_labels
from tasks.config import Config
from tasks.core.metrics import score_predictions
from tasks.core.windows import Window
from tasks.errors import ModelError
from tasks.steps.estimation import calibrate_on_holdout
from tasks.steps.logs import step_logger
from tasks.stores.data import load_window, make_source
from tasks.stores.registry import ModelVersion, fingerprint_frame, open_registry


@cache
def code_version() -> str:
    """The git commit of the project, with '+dirty' for uncommitted changes; 'unknown' outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def reference_frame(config: Config, training: pd.DataFrame) -> pd.DataFrame:
    """The data kept with a model as its reference: features, target and timestamp."""
    data = config.data
    return training[[data.timestamp_column, *data.features, data.target_column]].reset_index(
        drop=True
    )


def _lineage(
    config: Config, model: Any, training: pd.DataFrame, window: Window, *, source: str, reason: str
) -> dict[str, Any]:
    data = config.data
    score = score_predictions(
        config.policy.performance_metric,
        training[data.target_column].tolist(),
        predict_labels(model, training, data.features).tolist(),
    )
    return {
        "estimator": config.model.estimator,
        "params": dict(config.model.params),
        "training_window": window.to_dict(),
        "training_rows": len(training),
        "data_fingerprint": fingerprint_frame(reference_frame(config, training)),
        "metrics": {f"training_{config.policy.performance_metric.describe()}": round(score, 6)},
        "code_version": code_version(),
        "source": source,
        "reason": reason,
        "features": list(data.features),
        "data_source": make_source(data).describe(),  # credentials masked
    }


def train_challenger(
    config: Config, window: Window, reason: str, holdout: Window | None = None
) -> ModelVersion:
    """Fit a model on the labelled rows of window and register it as the challenger, with its
    probabilities' calibration on the labelled rows of holdout (for the label-free estimate)."""
    logger = step_logger(__name__)
    training = load_window(config, window, labelled_only=True)
    if len(training) == 0:
        raise ModelError(
            f"no labelled rows to train on in {window}: check windows.training and the data's dates"
        )
    model = fit_model(config, training)
    calibration, note = calibrate_on_holdout(config, model, holdout)
    logger.info(note)
    registry = open_registry(config.registry, config.name)
    record = registry.register(
        model,
        reference_frame(config, training),
        _lineage(config, model, training, window, source="trained", reason=reason),
        calibration.to_dict() if calibration else None,
    )
    registry.set_alias("challenger", record.version, reason=reason, action="register")
    logger.info(
        "registered %s as challenger: %d rows from %s", record.version, len(training), window
    )
    return record


def adopt_model(
    config: Config, model_path: Path, window: Window, reason: str, holdout: Window | None = None
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
    training = load_window(config, window, labelled_only=True)
    if len(training) == 0:
        raise ModelError(f"no labelled rows in the adopted model's reference window {window}")
    calibration, note = calibrate_on_holdout(config, model, holdout)
    step_logger(__name__).info(note)
    registry = open_registry(config.registry, config.name)
    record = registry.register(
        model,
        reference_frame(config, training),
        _lineage(
            config, model, training, window, source=f"adopted from {model_path}", reason=reason
        ),
        calibration.to_dict() if calibration else None,
    )
    registry.set_alias("challenger", record.version, reason=reason, action="register")
    return record
