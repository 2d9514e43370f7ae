"""Scoring champion and challenger on one holdout, and acting on the comparison's verdict."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from tasks.adapters.modeling import predict_true_class_probability, time_predictions
from tasks.config import Config
from tasks.core.gate import Approval, Comparison, GateRules, ModelOutputs, compare_models
from tasks.core.outcomes import PromotionStatus
from tasks.core.windows import Window
from tasks.errors import AutoretrainError, ModelError, RegistryError
from tasks.steps.logs import step_logger
from tasks.steps.quality import check_frame_quality
from tasks.stores.data import load_window
from tasks.stores.registry import ModelRegistry
from tasks.stores.resources import Stores


def collect_outputs(
    registry: ModelRegistry,
    versions: Sequence[str],
    config: Config,
    frame: pd.DataFrame,
    holdout: Window,
) -> list[ModelOutputs]:
    """Each version's per-row predictions, true-class probabilities, latency and size on the
    holdout, in the order given. Their predictions are timed side by side (the models take turns,
    run after run: time_predictions), so that the latency guard compares two models timed under
    the same load.

    A model that fails to load or predict yields no predictions and the problem: the gate rejects.
    """
    outputs: list[ModelOutputs] = []
    for version in versions:
        record = registry.get_version(version)
        trained_on = Window.from_dict(record.training_window)
        outputs.append(
            ModelOutputs(
                version=version,
                training_window=record.training_window,
                trained_on_holdout=trained_on.overlaps(holdout),
                predictions=[],
                training_rows=record.training_rows,
                provenance=record.provenance,
                rolled_back=record.status == "rolled-back",
            )
        )
    if len(frame) == 0:
        return outputs
    features = config.data.features
    loaded: dict[int, Any] = {}
    for index, version in enumerate(versions):
        try:
            loaded[index] = registry.load_model(version)
        except AutoretrainError as error:  # fail closed: an unscorable model is never promoted
            outputs[index] = _unscorable(outputs[index], error)
    timed, rounds = time_for_latency_guard(
        list(loaded.values()), frame, features, config.promotion.guards.latency_ratio
    )
    y_true = frame[config.data.target_column].tolist()
    for (index, model), result in zip(loaded.items(), timed, strict=True):
        if isinstance(result, ModelError):
            outputs[index] = _unscorable(outputs[index], result)
            continue
        predictions, latency = result
        try:
            probability = predict_true_class_probability(model, frame, features, y_true)
        except AutoretrainError as error:
            outputs[index] = _unscorable(outputs[index], error)
            continue
        outputs[index] = replace(
            outputs[index],
            predictions=predictions.tolist(),
            true_class_probability=None if probability is None else probability.tolist(),
            latency_ms_per_1k_rows=latency,
            latency_rounds=rounds,
            model_size_bytes=len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)),
        )
    return outputs


GUARD_REPEATS = 5  # timed runs of each model, taking turns, in a round
GUARD_ROUNDS = 3  # rounds at most: more when the first says one model is too slow


def time_for_latency_guard(
    models: Sequence[Any], frame: pd.DataFrame, features: list[str], latency_ratio: float | None
) -> tuple[list[tuple[np.ndarray, float] | ModelError], int]:
    """time_predictions for the latency guard, and the rounds it took: a slow verdict is
    confirmed before it is given.

    With the guard off, the one run that predicts is timed, for the record. With it on, the
    models take turns five times and each keeps its fastest run (the least noisy on a busy
    machine); when the fastest of one is still more than latency_ratio times the other's, a
    burst of other work may have fallen on its runs, so they are timed again, up to three
    rounds, each keeping its fastest of all its runs. A model slower by that much is slower in
    every round and still fails the guard; one that only met a busy moment does not.
    """
    if latency_ratio is None:
        return time_predictions(models, frame, features, 1), 1
    timed = time_predictions(models, frame, features, GUARD_REPEATS)
    rounds = 1
    while rounds < GUARD_ROUNDS:
        scored = {i: result for i, result in enumerate(timed) if not isinstance(result, ModelError)}
        latencies = [latency for _, latency in scored.values()]
        if len(latencies) < 2 or max(latencies) <= latency_ratio * min(latencies):
            break
        again = time_predictions([models[i] for i in scored], frame, features, GUARD_REPEATS)
        rounds += 1
        for (index, (predictions, latency)), result in zip(scored.items(), again, strict=True):
            timed[index] = (
                result if isinstance(result, ModelError) else (predictions, min(latency, result[1]))
            )
    return timed, rounds


def _unscorable(outputs: ModelOutputs, error: AutoretrainError) -> ModelOutputs:
    """A model that failed to load or predict: no predictions, and why (the gate rejects it)."""
    return replace(outputs, predictions=None, problem=f"{outputs.version}: {error}")


def evaluate_on_holdout(
    config: Config, stores: Stores, holdout: Window, challenger_version: str
) -> Comparison:
    """Score champion and challenger on the same labelled holdout rows; save the comparison."""
    logger = step_logger(__name__)
    registry = stores.registry
    frame = load_window(config, holdout, labelled_only=True, source=stores.source)
    champion_version = registry.get_alias("champion")
    versions = (challenger_version,) + ((champion_version,) if champion_version else ())
    challenger, *compared = collect_outputs(registry, versions, config, frame, holdout)
    champion = compared[0] if compared else None
    comparison_id = (
        f"{datetime.now(UTC):%Y%m%dt%H%M%S}-{challenger_version}-vs-{champion_version or 'none'}"
    )
    slice_columns = config.promotion.slices.columns
    # The holdout checked against the champion's reference (the challenger's, with none yet).
    holdout_quality = check_frame_quality(
        config, registry, champion_version or challenger_version, frame
    )
    comparison = compare_models(
        comparison_id=comparison_id.lower(),
        model_name=config.name,
        holdout_window=holdout.to_dict(),
        y_true=frame[config.data.target_column].tolist(),
        rules=GateRules.from_config(config),
        champion=champion,
        challenger=challenger,
        slice_values={column: frame[column].tolist() for column in slice_columns},
        holdout_quality=holdout_quality,
    )
    registry.save_comparison(comparison.comparison_id, comparison.to_dict())
    logger.info("comparison %s: %s", comparison.comparison_id, comparison.verdict)
    return comparison


def record_approval(
    config: Config, stores: Stores, comparison_id: str, approval: Approval
) -> Comparison:
    """Add a reviewer's answer to the saved comparison, which stays the one source of truth."""
    registry = stores.registry
    comparison = Comparison.from_dict(registry.load_comparison(comparison_id))
    if comparison.approval is not None:
        raise RegistryError(
            f"comparison {comparison_id} already has an answer from {comparison.approval.reviewer}; "
            "run the promotion again for a new comparison"
        )
    updated = replace(comparison, approval=approval)
    registry.save_comparison(comparison_id, updated.to_dict())
    return updated


def apply_verdict(registry: ModelRegistry, comparison_id: str) -> Literal["promoted", "rejected"]:
    """Promote (compare-and-swap on the champion compared against) or reject, as recorded.

    Reads the verdict and any approval back from the registry, so nothing but a recorded
    comparison promotes. Returns "promoted" or "rejected".
    """
    comparison = Comparison.from_dict(registry.load_comparison(comparison_id))
    challenger = comparison.challenger.version
    champion = comparison.champion.version if comparison.champion else None
    if registry.get_alias("challenger") != challenger:
        raise RegistryError(
            f"challenger is now {registry.get_alias('challenger')}, not {challenger} as compared; "
            "run the promotion again"
        )
    approval = comparison.approval
    # A recorded answer always counts, even where none was asked for: a "no" is never overruled.
    approved = approval.approved if approval is not None else not comparison.needs_approval
    if comparison.verdict == "promote" and approved:
        reason = f"comparison {comparison_id}"
        if approval is not None:
            reason += f"; approved by {approval.reviewer}" + (
                f": {approval.note}" if approval.note else ""
            )
        elif comparison.rules.approval_required:
            reason += "; first champion, no approval asked (promotion.approval.bootstrap is off)"
        registry.set_alias(
            "champion",
            challenger,
            reason=reason,
            action="promote",
            expected=champion,
            actor=approval.reviewer if approval is not None else None,
        )
        registry.set_alias("challenger", None, reason="promoted", action="promote")
        registry.mark(challenger, "champion")
        if champion:
            registry.mark(champion, "retired")
        return "promoted"
    if comparison.verdict == "promote":
        why = (
            "no approval was recorded"
            if approval is None
            else f"{approval.reviewer} did not approve ({approval.note or 'no note'})"
        )
        reason = f"gate passed comparison {comparison_id}, but {why}"
    else:
        reason = f"{comparison.verdict} by comparison {comparison_id}"
    registry.set_alias("challenger", None, reason=reason, action="reject")
    registry.mark(challenger, "rejected")
    return "rejected"


def promote_challenger(
    config: Config, stores: Stores, comparison_id: str
) -> Literal["promoted", "rejected"]:
    """Act on the saved comparison's verdict: promote (if the champion is unchanged) or reject."""
    status = apply_verdict(stores.registry, comparison_id)
    step_logger(__name__).info("comparison %s: %s", comparison_id, status)
    return status


@dataclass(frozen=True)
class PromotionOutcome:
    status: PromotionStatus
    comparison: Comparison | None
