"""Crashes and races on the registry: a writer killed at any step, concurrent writers.

A crash is a forked child calling os._exit: no finally blocks, no cleanup, like kill -9.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tasks.adapters.modeling import fit_model
from tasks.cli.registry import main as registry_main
from tasks.config import Config, parse_config
from tasks.core.windows import Window, plan_windows
from tasks.steps import promotion, training
from tasks.stores.data import load_window, make_source
from tasks.stores.registry import Lineage, LocalRegistry, model_directory
from tasks.stores.resources import open_stores
from tests.helpers import LATENCY_GUARD_ASIDE, REPO_ROOT, merge, repo_raw_config

MODEL_NAME = "seattle-weather"
CRASHED = 137


def _config(registry: Path) -> Config:
    # Few trees: the crash loop fits a model per crash point.
    # The latency guard aside: a rejection on busy cores writes fewer steps than counted.
    raw = repo_raw_config(
        {
            "registry.path": str(registry),
            "reports.path": str(registry.parent / "reports"),
            "model.params": {"n_estimators": 10, "random_state": 0, "n_jobs": 1},
        }
    )
    return parse_config(merge(raw, LATENCY_GUARD_ASIDE), REPO_ROOT)


def _register_champion(config: Config) -> None:
    window = Window(datetime(2012, 1, 1), datetime(2013, 1, 1))
    rows = load_window(config, window, labelled_only=True)
    model = fit_model(config, rows)
    registry = LocalRegistry(config.registry.path, MODEL_NAME)
    record = registry.register(
        model,
        training.reference_frame(config, rows),
        training._lineage(
            config,
            make_source(config.data),
            model,
            rows,
            window,
            source="trained",
            reason="test champion",
        ),
    )
    registry.set_alias("champion", record.version, reason="test", action="promote")
    registry.mark(record.version, "champion")


def _copy_of(registry: LocalRegistry, version: str) -> tuple[Any, Any, Lineage]:
    """Model, reference and lineage of a version, to register it again."""
    record = registry.get_version(version)
    return registry.load_model(version), registry.load_reference(version), record.lineage


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with champion v0001 trained on 2012."""
    root = tmp_path_factory.mktemp("template") / "registry"
    _register_champion(_config(root))
    return root


def retrain_and_promote(config: Config) -> str:
    """The retrain + promote path of the flows, step by step, without Prefect."""
    plan = plan_windows(config, datetime(2014, 4, 1))
    stores = open_stores(config)
    record = training.train_challenger(config, stores, plan.training, "test")
    comparison = promotion.evaluate_on_holdout(config, stores, plan.holdout, record.version)
    return promotion.promote_challenger(config, stores, comparison.comparison_id)


@pytest.fixture
def die_at_step() -> Iterator[Callable[[int], None]]:
    """In a child: make the n-th rename, replace or fsync kill the process instead."""
    originals = {name: getattr(os, name) for name in ("rename", "replace", "fsync")}
    counter = {"calls": 0}

    def arm(step: int) -> None:
        def wrap(name: str) -> Callable[..., Any]:
            def dying(*args: Any, **kwargs: Any) -> Any:
                counter["calls"] += 1
                if counter["calls"] == step:
                    os._exit(CRASHED)
                return originals[name](*args, **kwargs)

            return dying

        for name in originals:
            setattr(os, name, wrap(name))

    yield arm
    for name, function in originals.items():
        setattr(os, name, function)


def _in_child(action: Callable[[], Any]) -> int:
    """Run action in a forked child; its exit code (CRASHED if it died, 0 if it finished)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            action()
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _count_steps(config: Config) -> int:
    counter = {"calls": 0}
    originals = {name: getattr(os, name) for name in ("rename", "replace", "fsync")}

    def counting(name: str) -> Callable[..., Any]:
        def count(*args: Any, **kwargs: Any) -> Any:
            counter["calls"] += 1
            return originals[name](*args, **kwargs)

        return count

    def run() -> None:
        for name in originals:
            setattr(os, name, counting(name))
        retrain_and_promote(config)
        Path(config.registry.path.parent / "steps").write_text(str(counter["calls"]))

    assert _in_child(run) == 0
    return int((config.registry.path.parent / "steps").read_text())


def _assert_consistent(root: Path) -> LocalRegistry:
    registry = LocalRegistry(root, MODEL_NAME)  # opening recovers what a crash left
    check = registry.verify()
    assert check.ok, check.problems
    champion = registry.get_alias("champion")
    assert champion is not None
    assert registry.load_model(champion) is not None
    assert registry.get_version(champion).status == "champion"
    return registry


@pytest.mark.slow
def test_killed_at_every_write_step_of_retrain_and_promote_the_registry_stays_consistent(
    template: Path, tmp_path: Path, die_at_step: Callable[[int], None]
) -> None:
    probe = tmp_path / "probe" / "registry"
    shutil.copytree(template, probe)
    steps = _count_steps(_config(probe))
    assert steps >= 10  # staging files, metadata, aliases, history, comparison, statuses

    outcomes = []
    for step in range(1, steps + 1):
        root = tmp_path / f"step-{step}" / "registry"
        shutil.copytree(template, root)
        config = _config(root)

        def crash_in_the_loop(config: Config = config, step: int = step) -> None:
            die_at_step(step)
            retrain_and_promote(config)

        code = _in_child(crash_in_the_loop)

        assert code == CRASHED, f"step {step} of {steps} did not crash the child"
        registry = _assert_consistent(root)
        outcomes.append(registry.get_alias("champion"))
        # A later run trusts nothing half-written and completes the loop.
        assert retrain_and_promote(config) in {"promoted", "rejected"}
        _assert_consistent(root)
    print(f"{steps} write steps; champion after each crash: {outcomes}")
    # Early crashes keep the old champion, late ones leave the promotion done: both happen.
    assert outcomes[0] == "v0001"
    assert outcomes[-1] == "v0002"


def _root_layout_copy(template: Path, root: Path) -> None:
    """A copy of the template in the layout before namespaces: its model's entries at the top."""
    shutil.copytree(
        model_directory(template, MODEL_NAME), root, ignore=shutil.ignore_patterns(".lock")
    )


def test_killed_at_every_step_of_moving_a_registry_into_its_namespace(
    template: Path, tmp_path: Path, die_at_step: Callable[[int], None]
) -> None:
    probe = tmp_path / "probe"
    _root_layout_copy(template, probe)
    entries = LocalRegistry(template, MODEL_NAME).history()
    counter = {"calls": 0}
    originals = {name: getattr(os, name) for name in ("rename", "replace", "fsync")}

    def count_the_steps() -> None:
        def counting(name: str) -> Callable[..., Any]:
            def count(*args: Any, **kwargs: Any) -> Any:
                counter["calls"] += 1
                return originals[name](*args, **kwargs)

            return count

        for name in originals:
            setattr(os, name, counting(name))
        LocalRegistry(probe, MODEL_NAME)
        (tmp_path / "steps").write_text(str(counter["calls"]))

    assert _in_child(count_the_steps) == 0
    steps = int((tmp_path / "steps").read_text())
    assert steps >= 7  # a rename per entry, the fsyncs, the migrate line, the commit rename

    for step in range(1, steps + 1):
        root = tmp_path / f"step-{step}"
        _root_layout_copy(template, root)

        def crash_in_the_move(root: Path = root, step: int = step) -> None:
            die_at_step(step)
            LocalRegistry(root, MODEL_NAME)

        code = _in_child(crash_in_the_move)

        assert code == CRASHED, f"step {step} of {steps} did not crash the child"
        registry = _assert_consistent(root)  # opening finishes the move
        assert registry.get_alias("champion") == "v0001"
        assert sorted(p.name for p in root.iterdir()) == [".lock", "models"], f"step {step}"
        assert registry.history()[:-1] == entries
        assert [e.action for e in registry.history()].count("migrate") == 1, f"step {step}"
    print(f"{steps} write steps of the move, each survived")
    # A run after the last crash point trusts the moved registry and completes the loop.
    config = _config(root)
    assert retrain_and_promote(config) in {"promoted", "rejected"}
    _assert_consistent(root)


def test_alias_change_interrupted_after_its_history_line_is_completed_on_open(
    template: Path, tmp_path: Path, die_at_step: Callable[[int], None]
) -> None:
    root = tmp_path / "registry"
    shutil.copytree(template, root)
    registry = LocalRegistry(root, MODEL_NAME)
    second = registry.register(*_copy_of(registry, "v0001"))
    history_lines = len(registry.history())

    def promote() -> None:
        # The history line is fsynced, then aliases.json is written to a temporary file and
        # moved into place with os.replace: die at that replace.
        original = os.replace

        def dying(src: Any, dst: Any, **kwargs: Any) -> None:
            if str(dst).endswith("aliases.json"):
                os._exit(CRASHED)
            original(src, dst, **kwargs)

        os.replace = dying
        registry.set_alias(
            "champion", second.version, reason="x", action="promote", expected="v0001"
        )

    assert _in_child(promote) == CRASHED
    assert json.loads((registry.root / "aliases.json").read_text()) == {"champion": "v0001"}
    assert len(registry.history()) == history_lines + 1

    reopened = _assert_consistent(root)

    assert reopened.get_alias("champion") == second.version
    assert reopened.get_version("v0001").status == "retired"


def test_half_written_history_line_is_dropped_on_open(template: Path, tmp_path: Path) -> None:
    root = tmp_path / "registry"
    shutil.copytree(template, root)
    entries = LocalRegistry(root, MODEL_NAME).history()
    history = model_directory(root, MODEL_NAME) / "history.jsonl"
    with history.open("a") as out:
        out.write('{"at": "2026-01-01T00:00:00+00:00", "action": "prom')

    registry = _assert_consistent(root)

    assert registry.history() == entries
    assert history.read_bytes().endswith(b"\n")


def test_challenger_left_pointing_at_the_champion_is_dropped_on_open(
    template: Path, tmp_path: Path
) -> None:
    root = tmp_path / "registry"
    shutil.copytree(template, root)
    aliases = model_directory(root, MODEL_NAME) / "aliases.json"
    # A promotion died after moving the champion alias, before clearing the challenger.
    LocalRegistry(root, MODEL_NAME).set_alias("challenger", "v0001", reason="x", action="register")

    registry = _assert_consistent(root)

    assert json.loads(aliases.read_text()) == {"champion": "v0001"}
    last = registry.history()[-1]
    assert (last.action, last.alias, last.from_version, last.to_version) == (
        "recover",
        "challenger",
        "v0001",
        None,
    )


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (
            lambda root: (root / "versions/v0001/model.pkl").write_bytes(b"x"),
            "model file of v0001 does not match its SHA-256",
        ),
        (
            lambda root: (root / "versions/v0001/reference.parquet").unlink(),
            "reference data of v0001 is missing",
        ),
        (
            lambda root: (root / "aliases.json").write_text('{"champion": "v0007"}'),
            "champion points at v0007, which is not a registered version",
        ),
        (
            lambda root: (root / "history.jsonl").write_text(""),
            "champion is v0001 in aliases.json but None after replaying history.jsonl",
        ),
        (
            lambda root: (root / "versions/v0001/metadata.json").write_text("{"),
            "metadata of v0001 is unreadable",
        ),
        (
            lambda root: (root / "comparisons/x.json").write_text("{"),
            "comparison x.json is not valid JSON",
        ),
    ],
    ids=[
        "model-tampered",
        "reference-missing",
        "alias-dangling",
        "history-lost",
        "metadata",
        "comparison",
    ],
)
def test_verify_reports_what_a_crash_cannot_explain(
    template: Path,
    tmp_path: Path,
    damage: Callable[[Path], Any],
    problem: str,
    write_config: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "registry"
    shutil.copytree(template, root)
    damage(model_directory(root, MODEL_NAME))

    check = LocalRegistry(root, MODEL_NAME).verify()

    assert not check.ok
    assert any(problem in p for p in check.problems), check.problems
    config = write_config({"registry": {"path": str(root)}})
    assert registry_main(["verify", "--config", str(config)]) == 2
    assert f"problem: {problem}" in capsys.readouterr().out


def test_verify_cli_says_consistent(
    template: Path,
    tmp_path: Path,
    write_config: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "registry"
    shutil.copytree(template, root)
    (model_directory(root, MODEL_NAME) / "versions" / ".tmp-abandoned").mkdir()
    config = write_config({"registry": {"path": str(root)}})

    assert registry_main(["verify", "--config", str(config)]) == 0

    out = capsys.readouterr().out
    assert "consistent" in out
    assert "note: staging directory .tmp-abandoned (an unfinished register; never read)" in out


# -- concurrent writers ------------------------------------------------------------------------
def _register_copies(root: str, count: int) -> list[str]:
    registry = LocalRegistry(Path(root), MODEL_NAME)
    model, reference, lineage = _copy_of(registry, "v0001")
    versions = []
    for _ in range(count):
        record = registry.register(model, reference, lineage)
        registry.set_alias("challenger", record.version, reason="race", action="register")
        versions.append(record.version)
    return versions


def test_concurrent_registers_get_distinct_versions_and_a_consistent_history(
    template: Path, tmp_path: Path
) -> None:
    root = tmp_path / "registry"
    shutil.copytree(template, root)

    with multiprocessing.get_context("fork").Pool(4) as pool:
        results = pool.starmap(_register_copies, [(str(root), 3)] * 4)

    versions = [v for batch in results for v in batch]
    assert sorted(versions) == [f"v{n:04d}" for n in range(2, 14)]
    registry = _assert_consistent(root)
    assert [v.version for v in registry.list_versions()] == [f"v{n:04d}" for n in range(1, 14)]
    registers = [e for e in registry.history() if e.action == "register"]
    assert sorted(e.to_version or "" for e in registers) == sorted(versions)
    assert registry.get_alias("challenger") == registers[-1].to_version
