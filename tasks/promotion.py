"""Scoring champion and challenger on one holdout, and acting on the comparison's verdict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.config import Config
from tasks.data import load_window
from tasks.errors import AutoretrainError, RegistryError
from tasks.gate import Comparison, Contender, GateRules, compare_models
from tasks.metrics import score_predictions
from tasks.modeling import predict_labels
from tasks.registry import ModelRegistry, open_registry
from tasks.windows import Window


def _contender(
    registry: ModelRegistry, version: str, config: Config, holdout_frame, holdout: Window
) -> tuple[Contender, str | None]:
    record = registry.get_version(version)
    trained_on = Window.from_dict(record.training_window)
    if len(holdout_frame) == 0:
        return Contender(version, None, record.training_window, trained_on.overlaps(holdout)), None
    try:
        model = registry.load_model(version)
        predictions = predict_labels(model, holdout_frame, config.data.features)
        score: float | None = score_predictions(
            config.policy.performance_metric,
            holdout_frame[config.data.target_column].tolist(),
            predictions.tolist(),
        )
        problem = None
    except AutoretrainError as error:  # fail closed: an unscorable model is never promoted
        score, problem = None, f"{version}: {error}"
    return Contender(version, score, record.training_window, trained_on.overlaps(holdout)), problem


@task(name="compare-models", cache_policy=NO_CACHE)
def evaluate_on_holdout(config: Config, holdout: Window, challenger_version: str) -> Comparison:
    """Score champion and challenger on the same labelled holdout rows; save the comparison."""
    logger = get_run_logger()
    registry = open_registry(config.registry.path, config.name)
    frame = load_window(config, holdout, labelled_only=True)
    champion_version = registry.get_alias("champion")
    problems: list[str] = []
    challenger, problem = _contender(registry, challenger_version, config, frame, holdout)
    problems += [problem] if problem else []
    champion = None
    if champion_version is not None:
        champion, problem = _contender(registry, champion_version, config, frame, holdout)
        problems += [problem] if problem else []
    comparison_id = (
        f"{datetime.now(UTC):%Y%m%dt%H%M%S}-{challenger_version}-vs-{champion_version or 'none'}"
    )
    comparison = compare_models(
        comparison_id=comparison_id.lower(),
        model_name=config.name,
        holdout_window=holdout.to_dict(),
        holdout_rows=len(frame),
        rules=GateRules(
            metric=config.policy.performance_metric.describe(),
            performance_threshold=config.policy.performance_threshold,
            min_improvement=config.promotion.min_improvement,
            min_holdout_rows=config.promotion.min_holdout_rows,
        ),
        champion=champion,
        challenger=challenger,
        scoring_problems=tuple(problems),
    )
    registry.save_comparison(comparison.comparison_id, comparison.to_dict())
    logger.info("comparison %s: %s", comparison.comparison_id, comparison.verdict)
    return comparison


@task(name="promote-challenger", cache_policy=NO_CACHE)
def promote_challenger(config: Config, comparison_id: str) -> str:
    """Act on the saved comparison's verdict: promote (if the champion is unchanged) or reject.

    Reads the verdict back from the registry, so nothing but a recorded comparison promotes.
    Returns "promoted" or "rejected".
    """
    logger = get_run_logger()
    registry = open_registry(config.registry.path, config.name)
    comparison = Comparison.from_dict(registry.load_comparison(comparison_id))
    challenger = comparison.challenger.version
    champion = comparison.champion.version if comparison.champion else None
    if registry.get_alias("challenger") != challenger:
        raise RegistryError(
            f"challenger is now {registry.get_alias('challenger')}, not {challenger} as compared; "
            "run the promotion again"
        )
    if comparison.verdict == "promote":
        registry.set_alias(
            "champion",
            challenger,
            reason=f"comparison {comparison_id}",
            action="promote",
            expected=champion,
        )
        registry.set_alias("challenger", None, reason="promoted", action="promote")
        registry.mark(challenger, "champion")
        if champion:
            registry.mark(champion, "retired")
        logger.info("promoted %s over %s", challenger, champion)
        return "promoted"
    registry.set_alias(
        "challenger", None, reason=f"rejected by comparison {comparison_id}", action="reject"
    )
    registry.mark(challenger, "rejected")
    logger.info("rejected %s; champion %s unchanged", challenger, champion)
    return "rejected"


@dataclass(frozen=True)
class PromotionOutcome:
    status: str  # "promoted", "rejected" or "dropped" (another promotion was running)
    comparison: Comparison | None
