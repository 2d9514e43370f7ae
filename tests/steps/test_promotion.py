"""Acting on a saved comparison: the compare-and-swap, approvals, and two processes racing."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from tasks.adapters.modeling import fit_model, time_predictions
from tasks.core.gate import Approval, Comparison, GateRules, ModelOutputs, compare_models
from tasks.core.windows import Window
from tasks.errors import ModelError, RegistryError
from tasks.steps import promotion
from tasks.steps.promotion import apply_verdict, collect_outputs
from tasks.stores.registry import LocalRegistry
from tests.helpers import DEMO_DATA, make_lineage, repo_config

MODEL_NAME = "seattle-weather"
WINDOW = {"start": "2013-07-01T00:00:00", "end": "2014-01-01T00:00:00"}
HOLDOUT = {"start": "2014-01-01T00:00:00", "end": "2014-04-01T00:00:00"}


def _register(registry: LocalRegistry, count: int) -> None:
    reference = pd.DataFrame({"wind": [1.0, 2.0, 3.0, 4.0], "weather": ["sun", "rain"] * 2})
    model = DecisionTreeClassifier().fit(reference[["wind"]], reference["weather"])
    for _ in range(count):
        registry.register(
            model,
            reference,
            make_lineage(
                training_window=WINDOW,
                training_rows=4,
            ),
        )


def _setup(root: Path, versions: int = 3) -> LocalRegistry:
    """v0001 champion, v0002 challenger (v0003 registered too)."""
    registry = LocalRegistry(root, MODEL_NAME)
    _register(registry, versions)
    registry.set_alias("champion", "v0001", reason="first", action="promote", expected=None)
    registry.set_alias("challenger", "v0002", reason="trained", action="register")
    return registry


def _save_comparison(
    registry: LocalRegistry,
    *,
    challenger_right: int = 90,
    rows: int = 100,
    approval_required: bool = False,
    approval_bootstrap: bool = False,
    comparison_id: str = "c1",
    challenger: str = "v0002",
    with_champion: bool = True,
) -> Comparison:
    truth = ["sun", "rain"] * (rows // 2)
    other = {"sun": "rain", "rain": "sun"}

    def predict(right: int) -> list[str]:
        return [t if i < right else other[t] for i, t in enumerate(truth)]

    comparison = compare_models(
        comparison_id=comparison_id,
        model_name=MODEL_NAME,
        holdout_window=HOLDOUT,
        y_true=truth,
        rules=GateRules(
            metric="accuracy",
            metric_name="accuracy",
            performance_threshold=0.5,
            min_improvement=0.02,
            min_holdout_rows=30,
            resamples=500,
            approval_required=approval_required,
            approval_bootstrap=approval_bootstrap,
        ),
        champion=ModelOutputs("v0001", WINDOW, False, predict(rows // 2))
        if with_champion
        else None,
        challenger=ModelOutputs(challenger, WINDOW, False, predict(challenger_right)),
    )
    registry.save_comparison(comparison_id, comparison.to_dict())
    return comparison


def _champion_lines(registry: LocalRegistry) -> list[tuple[str, str | None, str | None]]:
    return [
        (h.action, h.from_version, h.to_version)
        for h in registry.history()
        if h.alias == "champion"
    ]


def test_promote_verdict_swaps_the_champion(tmp_path: Path) -> None:
    registry = _setup(tmp_path)
    assert _save_comparison(registry).verdict == "promote"

    assert apply_verdict(registry, "c1") == "promoted"

    assert registry.get_alias("champion") == "v0002"
    assert registry.get_alias("challenger") is None
    assert registry.get_version("v0001").status == "retired"
    assert _champion_lines(registry)[-1] == ("promote", "v0001", "v0002")


@pytest.mark.parametrize(
    ("right", "rows", "verdict"), [(52, 100, "reject"), (20, 20, "insufficient-evidence")]
)
def test_other_verdicts_reject_and_keep_the_champion(
    tmp_path: Path, right: int, rows: int, verdict: str
) -> None:
    registry = _setup(tmp_path)
    assert _save_comparison(registry, challenger_right=right, rows=rows).verdict == verdict

    assert apply_verdict(registry, "c1") == "rejected"

    assert registry.get_alias("champion") == "v0001"
    assert registry.get_version("v0002").status == "rejected"
    assert registry.history()[-1].reason == f"{verdict} by comparison c1"


def test_a_champion_changed_since_the_comparison_refuses_the_swap(tmp_path: Path) -> None:
    registry = _setup(tmp_path)
    _save_comparison(registry)
    registry.set_alias("champion", "v0003", reason="someone else", action="promote")
    history = registry.history()

    with pytest.raises(RegistryError, match="champion is v0003, not v0001 as expected"):
        apply_verdict(registry, "c1")

    assert registry.get_alias("champion") == "v0003"
    assert registry.history() == history


@pytest.mark.parametrize(
    ("approval", "status", "reason"),
    [
        (None, "rejected", "gate passed comparison c1, but no approval was recorded"),
        (
            Approval(False, "bob", "not before the holidays", "2026-01-01T00:00:00+00:00"),
            "rejected",
            "gate passed comparison c1, but bob did not approve (not before the holidays)",
        ),
        (
            Approval(True, "alice", "looks good", "2026-01-01T00:00:00+00:00"),
            "promoted",
            "comparison c1; approved by alice: looks good",
        ),
    ],
    ids=["no-answer", "rejected", "approved"],
)
def test_approval_required_promotes_only_an_approved_comparison(
    tmp_path: Path, approval: Approval | None, status: str, reason: str
) -> None:
    registry = _setup(tmp_path)
    comparison = _save_comparison(registry, approval_required=True)
    if approval is not None:
        registry.save_comparison("c1", {**comparison.to_dict(), "approval": approval.__dict__})

    assert apply_verdict(registry, "c1") == status

    if status == "promoted":
        line = [h for h in registry.history() if h.alias == "champion"][-1]
        assert (line.to_version, line.actor) == ("v0002", "alice")
        assert registry.get_alias("champion") == "v0002"
    else:
        line = registry.history()[-1]
        assert (line.alias, line.action) == ("challenger", "reject")
        assert registry.get_alias("champion") == "v0001"
    assert line.reason == reason


def _fresh(root: Path) -> LocalRegistry:
    """No champion yet; v0001 is the first challenger (the bootstrap)."""
    registry = LocalRegistry(root, MODEL_NAME)
    _register(registry, 1)
    registry.set_alias("challenger", "v0001", reason="bootstrap", action="register")
    return registry


@pytest.mark.parametrize(
    ("approval_bootstrap", "status", "reason"),
    [
        (
            False,
            "promoted",
            "comparison c1; first champion, no approval asked (promotion.approval.bootstrap is off)",
        ),
        (True, "rejected", "gate passed comparison c1, but no approval was recorded"),
    ],
    ids=["bootstrap-off", "bootstrap-on"],
)
def test_the_first_champion_needs_approval_only_with_approval_bootstrap(
    tmp_path: Path, approval_bootstrap: bool, status: str, reason: str
) -> None:
    registry = _fresh(tmp_path)
    comparison = _save_comparison(
        registry,
        challenger="v0001",
        with_champion=False,
        approval_required=True,
        approval_bootstrap=approval_bootstrap,
    )
    assert comparison.verdict == "promote"
    assert comparison.needs_approval is approval_bootstrap

    assert apply_verdict(registry, "c1") == status

    alias = "champion" if status == "promoted" else "challenger"
    line = [h for h in registry.history() if h.alias == alias][-1]
    assert line.reason == reason
    assert registry.get_alias("champion") == ("v0001" if status == "promoted" else None)


def test_a_recorded_no_rejects_even_where_no_approval_was_needed(tmp_path: Path) -> None:
    registry = _fresh(tmp_path)
    comparison = _save_comparison(
        registry, challenger="v0001", with_champion=False, approval_required=True
    )
    assert not comparison.needs_approval
    no = Approval(False, "bob", "wrong window", "2026-01-01T00:00:00+00:00")
    registry.save_comparison("c1", {**comparison.to_dict(), "approval": no.__dict__})

    assert apply_verdict(registry, "c1") == "rejected"
    assert registry.get_alias("champion") is None


def test_a_comparison_saved_before_approval_bootstrap_existed_still_asks(tmp_path: Path) -> None:
    registry = _fresh(tmp_path)
    saved = _save_comparison(
        registry, challenger="v0001", with_champion=False, approval_required=True
    ).to_dict()
    del saved["rules"]["approval_bootstrap"]
    registry.save_comparison("c1", saved)

    assert apply_verdict(registry, "c1") == "rejected"
    assert registry.history()[-1].reason.endswith("but no approval was recorded")


# -- two processes promoting at once ------------------------------------------------------------


def _swap_worker(root: str, version: str, barrier: Any, results: Any) -> None:
    registry = LocalRegistry(Path(root), MODEL_NAME)
    barrier.wait()
    try:
        registry.set_alias(
            "champion", version, reason=f"race {version}", action="promote", expected="v0001"
        )
        results.put((version, "promoted"))
    except RegistryError as error:
        results.put((version, str(error)))


def _verdict_worker(root: str, comparison_id: str, barrier: Any, results: Any) -> None:
    registry = LocalRegistry(Path(root), MODEL_NAME)
    barrier.wait()
    try:
        results.put((comparison_id, apply_verdict(registry, comparison_id)))
    except RegistryError as error:
        results.put((comparison_id, str(error)))


def _race(target: Any, root: Path, arguments: list[str]) -> dict[str, str]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(arguments))
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(str(root), argument, barrier, results))
        for argument in arguments
    ]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return outcomes


@pytest.mark.slow
@pytest.mark.parametrize("round_number", range(2))
def test_two_processes_swapping_at_once_leave_exactly_one_champion(
    tmp_path: Path, round_number: int
) -> None:
    registry = _setup(tmp_path / f"round-{round_number}")

    outcomes = _race(_swap_worker, registry.path, ["v0002", "v0003"])

    winners = [version for version, outcome in outcomes.items() if outcome == "promoted"]
    assert len(winners) == 1, outcomes
    loser = ({"v0002", "v0003"} - set(winners)).pop()
    assert f"champion is {winners[0]}, not v0001 as expected" in outcomes[loser]
    assert registry.get_alias("champion") == winners[0]
    assert _champion_lines(registry) == [
        ("promote", None, "v0001"),
        ("promote", "v0001", winners[0]),
    ]


@pytest.mark.slow
def test_two_promote_runs_of_the_same_comparison_promote_once(tmp_path: Path) -> None:
    registry = _setup(tmp_path)
    _save_comparison(registry, comparison_id="first")
    _save_comparison(registry, comparison_id="second")

    outcomes = _race(_verdict_worker, registry.path, ["first", "second"])

    assert sorted(outcomes.values()).count("promoted") == 1, outcomes
    assert registry.get_alias("champion") == "v0002"
    assert registry.get_alias("challenger") is None
    assert _champion_lines(registry) == [("promote", None, "v0001"), ("promote", "v0001", "v0002")]
    # Every alias change in the history is one that happened: replaying it ends where we are.
    aliases: dict[str, str | None] = {}
    for entry in registry.history():
        assert aliases.get(entry.alias) == entry.from_version
        aliases[entry.alias] = entry.to_version
    assert aliases == {"champion": "v0002", "challenger": None}


# -- collecting one model's outputs on the holdout ----------------------------------------------


def _holdout_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "precipitation": [0.0, 5.0, 0.0, 9.0, 0.2, 7.5],
            "temp_max": [20.0, 12.0, 22.0, 10.0, 18.0, 11.0],
            "temp_min": [10.0, 5.0, 11.0, 4.0, 9.0, 6.0],
            "wind": [2.0, 5.0, 1.5, 6.0, 2.5, 4.0],
            "weather": ["sun", "rain", "sun", "rain", "sun", "snow"],
        }
    )


def _registry_with_a_real_model(tmp_path: Path) -> tuple[LocalRegistry, Any]:
    config = repo_config()
    registry = LocalRegistry(tmp_path / "registry", MODEL_NAME)
    frame = _holdout_frame()
    model = DecisionTreeClassifier(random_state=0).fit(
        frame[config.data.features].iloc[:5], frame["weather"].iloc[:5]
    )
    registry.register(
        model,
        frame,
        make_lineage(
            training_window=WINDOW,
            training_rows=5,
        ),
    )
    return registry, config


def test_outputs_of_a_model_hold_predictions_probabilities_latency_and_size(tmp_path: Path) -> None:
    registry, config = _registry_with_a_real_model(tmp_path)

    (outputs,) = collect_outputs(
        registry, ("v0001",), config, _holdout_frame(), Window.from_dict(HOLDOUT)
    )

    assert outputs.problem is None
    assert outputs.predictions is not None and len(outputs.predictions) == 6
    assert outputs.true_class_probability is not None
    # The tree never saw "snow": the probability it gives the last row's true class is 0.
    assert outputs.true_class_probability[-1] == 0.0
    assert outputs.latency_ms_per_1k_rows is not None and outputs.latency_ms_per_1k_rows > 0
    assert outputs.model_size_bytes is not None and outputs.model_size_bytes > 100
    assert not outputs.trained_on_holdout


def _with_latency_ratio(config: Any, latency_ratio: float | None) -> Any:
    guards = config.promotion.guards.model_copy(update={"latency_ratio": latency_ratio})
    return config.model_copy(
        update={"promotion": config.promotion.model_copy(update={"guards": guards})}
    )


@pytest.mark.parametrize(("latency_ratio", "repeats"), [(3.0, 5), (None, 1)])
def test_predictions_are_timed_five_times_only_when_the_latency_guard_judges_them(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    latency_ratio: float | None,
    repeats: int,
) -> None:
    registry, config = _registry_with_a_real_model(tmp_path)
    config = _with_latency_ratio(config, latency_ratio)
    asked: list[int] = []
    timed = promotion.time_predictions

    def counting(models: list[Any], frame: pd.DataFrame, features: list[str], times: int) -> Any:
        asked.append(times)
        return timed(models, frame, features, times)

    monkeypatch.setattr(promotion, "time_predictions", counting)

    (outputs,) = collect_outputs(
        registry, ("v0001",), config, _holdout_frame(), Window.from_dict(HOLDOUT)
    )

    assert asked == [repeats]
    assert outputs.latency_ms_per_1k_rows is not None and outputs.latency_ms_per_1k_rows > 0
    assert outputs.predictions is not None and len(outputs.predictions) == 6


class _Logged:
    """A model that records each predict call in a shared log, then predicts the first class."""

    def __init__(self, name: str, log: list[str], fails: bool = False) -> None:
        self.name, self.log, self.fails = name, log, fails

    def predict(self, frame: pd.DataFrame) -> list[str]:
        self.log.append(self.name)
        if self.fails:
            raise ValueError("columns changed")
        return ["sun"] * len(frame)


def test_two_models_are_timed_taking_turns_and_one_that_fails_sits_out_the_rest() -> None:
    # Turns, not one model's five runs then the other's: a burst of other work on the machine
    # then slows both models' runs alike, and the latency guard's ratio stays theirs.
    log: list[str] = []
    frame, features = _holdout_frame(), repo_config().data.features
    first, second = time_predictions([_Logged("a", log), _Logged("b", log)], frame, features, 3)
    assert log == ["a", "b", "a", "b", "a", "b"]
    assert not isinstance(first, ModelError) and not isinstance(second, ModelError)
    assert list(first[0]) == ["sun"] * 6 and first[1] > 0 and second[1] > 0

    log.clear()
    broken, working = time_predictions(
        [_Logged("broken", log, fails=True), _Logged("ok", log)], frame, features, 3
    )
    assert log == ["broken", "ok", "ok", "ok"]
    assert isinstance(broken, ModelError)
    assert "the model failed to predict: ValueError: columns changed" in str(broken)
    assert not isinstance(working, ModelError) and len(working[0]) == 6


class _Rounds:
    """time_predictions scripted: each call answers the next round's latencies (an exception
    instance stands for a model that failed in that round), and records what it was asked."""

    def __init__(self, *rounds: list[float | ModelError]) -> None:
        self.rounds = list(rounds)
        self.asked: list[tuple[int, int]] = []

    def __call__(
        self, models: list[Any], frame: pd.DataFrame, features: list[str], times: int
    ) -> list[Any]:
        self.asked.append((len(models), times))
        answers = self.rounds.pop(0)
        assert len(answers) == len(models)
        return [
            answer
            if isinstance(answer, ModelError)
            else (f"labels of round {len(self.asked)}", answer)
            for answer in answers
        ]


def _guard_timings(
    monkeypatch: pytest.MonkeyPatch, rounds: _Rounds, models: int = 2, ratio: float | None = 3.0
) -> list[Any]:
    monkeypatch.setattr(promotion, "time_predictions", rounds)
    frame, features = _holdout_frame(), repo_config().data.features
    timed, rounds_taken = promotion.time_for_latency_guard(
        [object()] * models, frame, features, ratio
    )
    assert rounds_taken == len(rounds.asked)  # the rounds the comparison records
    return timed


def test_a_model_too_slow_in_one_round_is_timed_again_and_keeps_its_fastest_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 40 ms against 10 ms is over 3x: a burst of other work may have fallen on the first
    # model's five runs. A second round finds it at 12 ms: within the guard, no third round.
    rounds = _Rounds([40.0, 10.0], [12.0, 11.0])
    first, second = _guard_timings(monkeypatch, rounds)
    assert rounds.asked == [(2, 5), (2, 5)]
    assert first == ("labels of round 1", 12.0) and second == ("labels of round 1", 10.0)


def test_a_model_slower_in_every_round_keeps_a_latency_over_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rounds = _Rounds([40.0, 10.0], [35.0, 11.0], [38.0, 10.0])
    first, second = _guard_timings(monkeypatch, rounds)
    assert rounds.asked == [(2, 5)] * 3  # three rounds at most
    assert first[1] == 35.0 and second[1] == 10.0  # 3.5x: the guard rejects it

    # Within the limit at once (exactly 3x included): one round, as before.
    rounds = _Rounds([30.0, 10.0])
    assert [t[1] for t in _guard_timings(monkeypatch, rounds)] == [30.0, 10.0]
    assert rounds.asked == [(2, 5)]


def test_confirming_rounds_skip_a_failed_model_and_the_guard_off_times_one_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = ModelError("the model failed to predict: ValueError: columns changed")
    # A model that fails in the confirming round is that error, not its first round's timing.
    rounds = _Rounds([40.0, 10.0], [broken, 11.0])
    first, second = _guard_timings(monkeypatch, rounds)
    assert first is broken and second[1] == 10.0
    # A model that failed in the first round leaves nothing to compare: no second round.
    rounds = _Rounds([broken, 10.0])
    first, second = _guard_timings(monkeypatch, rounds)
    assert first is broken and rounds.asked == [(2, 5)]
    # One model, or the guard off: nothing is compared (off: one run, for the record).
    rounds = _Rounds([40.0])
    _guard_timings(monkeypatch, rounds, models=1)
    assert rounds.asked == [(1, 5)]
    rounds = _Rounds([40.0, 10.0])
    _guard_timings(monkeypatch, rounds, ratio=None)
    assert rounds.asked == [(2, 1)]


def test_champion_and_challenger_are_collected_side_by_side_in_their_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, config = _registry_with_a_real_model(tmp_path)
    model = registry.load_model("v0001")
    second = registry.register(
        model,
        _holdout_frame(),
        make_lineage(training_window=WINDOW, training_rows=5),
    ).version
    config = _with_latency_ratio(config, 3.0)
    calls: list[int] = []
    timed = promotion.time_predictions

    def once(models: list[Any], frame: pd.DataFrame, features: list[str], times: int) -> Any:
        calls.append(len(models))
        return timed(models, frame, features, times)

    monkeypatch.setattr(promotion, "time_predictions", once)
    model_file = registry.root / "versions" / "v0001" / "model.pkl"
    model_file.write_bytes(model_file.read_bytes() + b"\x00")

    challenger, champion = collect_outputs(
        registry, (second, "v0001"), config, _holdout_frame(), Window.from_dict(HOLDOUT)
    )

    assert calls == [1]  # one timing of the models that loaded: the corrupt one did not
    assert challenger.version == second and challenger.predictions is not None
    assert challenger.latency_ms_per_1k_rows is not None
    assert champion.version == "v0001" and champion.predictions is None
    assert champion.problem is not None and champion.problem.startswith("v0001: model file")


def test_a_model_that_fails_to_load_gives_no_predictions_and_the_reason(tmp_path: Path) -> None:
    registry, config = _registry_with_a_real_model(tmp_path)
    model_file = registry.root / "versions" / "v0001" / "model.pkl"
    model_file.write_bytes(model_file.read_bytes() + b"\x00")

    (outputs,) = collect_outputs(
        registry, ("v0001",), config, _holdout_frame(), Window.from_dict(HOLDOUT)
    )

    assert outputs.predictions is None
    assert outputs.problem is not None
    assert outputs.problem.startswith("v0001: model file of v0001 does not match its registered")


def test_a_forest_trained_on_more_rows_is_not_rejected_for_its_size(tmp_path: Path) -> None:
    """The demo's forest on its last 100 labelled rows before the holdout (a champion trained on
    the rows since a change), then on the last 400: the fuller forest is over 3x the bytes, which
    the size guard's plain ratio rejected however much better it was; in proportion to its rows
    it passes."""
    config = repo_config()
    log = pd.concat(pd.read_parquet(DEMO_DATA / f"weather-{y}.parquet") for y in (2012, 2013, 2014))
    labelled = log.dropna(subset=[config.data.target_column])
    stamps = labelled[config.data.timestamp_column]
    holdout = Window.from_dict(HOLDOUT)
    before = labelled[stamps < holdout.start]
    frame = labelled[(stamps >= holdout.start) & (stamps < holdout.end)]
    registry = LocalRegistry(tmp_path / "registry", MODEL_NAME)
    for rows in (100, 400):
        training = before.tail(rows)
        assert len(training) == rows
        registry.register(
            fit_model(config, training),
            training,
            make_lineage(training_window=WINDOW, training_rows=rows),
        )

    challenger, champion = collect_outputs(registry, ("v0002", "v0001"), config, frame, holdout)
    assert challenger.training_rows == 400 and champion.training_rows == 100
    assert champion.model_size_bytes is not None and challenger.model_size_bytes is not None
    assert challenger.model_size_bytes > 3 * champion.model_size_bytes  # the plain ratio's reject
    comparison = compare_models(
        comparison_id="c1",
        model_name=MODEL_NAME,
        holdout_window=HOLDOUT,
        y_true=frame[config.data.target_column].tolist(),
        rules=GateRules.from_config(config),
        champion=champion,
        challenger=challenger,
    )

    (size,) = [g for g in comparison.guards if g.name == "model size bytes"]
    assert size.passed, size
    assert size.limit == champion.model_size_bytes * 3.0 * 4
    assert size.rule == "<= 3 x champion x 4 (trained on 400 rows, the champion on 100)"
