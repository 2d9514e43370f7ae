"""The backtest on a small real slice of the demo log, under a temporary Prefect server."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TypedDict

import pytest

from flows.backtest import backtest_flow, main
from tasks.core.reasons import codes
from tasks.errors import ConfigError
from tasks.steps.backtest import Strategy, StrategyKind
from tests.reasons import params_of

pytestmark = [pytest.mark.e2e]


class Slice(TypedDict):
    """backtest_flow's step, start and end."""

    step: str
    start: str
    end: str


# Four 90-day windows after the bootstrap's holdout: 2013-04-01 .. 2014-03-27.
SLICE: Slice = {"step": "90d", "start": "2013-04-01", "end": "2014-04-01"}


@pytest.mark.parametrize(
    ("kind", "every", "expected"),
    [("never", 1, []), ("fixed", 3, [2]), ("fixed", 2, [1, 3]), ("every-window", 1, [0, 1, 2, 3])],
)
def test_baseline_schedules(kind: StrategyKind, every: int, expected: list[int]) -> None:
    strategy = Strategy(kind, every)

    assert [i for i in range(4) if strategy.scheduled(i)] == expected


@pytest.mark.usefixtures("prefect_server")
def test_backtest_on_a_real_slice(write_config, tmp_path: Path) -> None:
    config_path = write_config({"registry": {"path": str(tmp_path / "unused-registry")}})

    first = backtest_flow(str(config_path), every=2, output=str(tmp_path / "first"), **SLICE)
    again = backtest_flow(
        str(config_path), every=2, output=str(tmp_path / "again"), strategies=["policy"], **SLICE
    )

    assert [len(s.outcomes) for s in first.strategies] == [4, 4, 4, 4]
    counts = {s.strategy: s.retrains for s in first.strategies}
    assert counts == {
        "policy": first.get("policy").retrains,
        "never": 0,
        "fixed-every-2": 2,
        "every-window": 4,
    }
    never = first.get("never")
    assert never.promotions == 0
    assert {o.champion for o in never.outcomes} == {"v0001"}
    # Every strategy starts from the same bootstrapped champion: the first window is identical.
    assert len({s.outcomes[0].metric for s in first.strategies}) == 1
    # The 2012 champion fails on the relabelled 2013 data (f1 0.216, above the severe 0.20):
    # the first breach waits for confirmation, the second one (2 of the last 2 runs) fires.
    policy = first.get("policy")
    assert policy.outcomes[0].action == "unconfirmed" and not policy.outcomes[0].retrained
    assert policy.outcomes[1].retrained
    confirmed = params_of(policy.outcomes[1].reason_codes, "breach-confirmed", signal="performance")
    assert (confirmed["signal"], confirmed["seen"], confirmed["looked"]) == ("performance", 2, 2)
    assert (confirmed["breaches"], confirmed["runs"]) == (2, 3)
    # Same input, same decisions.
    assert again.get("policy").decisions == policy.decisions
    assert [o.metric for o in again.get("policy").outcomes] == [o.metric for o in policy.outcomes]
    # The history store of the policy's scratch registry recorded one run per window.
    assert (tmp_path / "first" / "scratch" / "policy" / "registry" / "history.sqlite").is_file()
    # Outputs: CSV with one row per strategy and window, and a PNG.
    with (tmp_path / "first" / "backtest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 16
    assert {row["strategy"] for row in rows} == {"policy", "never", "fixed-every-2", "every-window"}
    fired = next(
        row
        for row in rows
        if row["strategy"] == "policy" and row["window"] == str(policy.outcomes[1].index)
    )
    assert fired["reason_codes"].split(" | ") == codes(policy.outcomes[1].reason_codes)
    assert "breach-confirmed" in fired["reason_codes"].split(" | ")
    assert (tmp_path / "first" / "backtest.png").read_bytes()[:4] == b"\x89PNG"
    # The user's registry is untouched: the backtest works only in its scratch directory.
    assert not (tmp_path / "unused-registry").exists()


def test_cli_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])

    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--step", "--every", "--start", "--end", "--output", "--strategy", "--faults"):
        assert option in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--every", "0"], "--every must be 1 or more"),
        (["--step", "3x"], "--step: '3x' is not a duration"),
        (["--step", "0d"], "--step: '0d' is not a positive duration"),
        (["--start", "April"], "--start: 'April' is not an ISO time"),
        (["--faults", "3:unit-x100:wind"], "unknown fault kind 'unit-x100'"),
    ],
)
def test_cli_refuses_bad_options_before_any_work(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_unknown_strategy_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="choose from policy, never, fixed, every-window"):
        Strategy.parse("sometimes")


def test_the_replay_registry_is_a_local_scratch_one_even_with_an_mlflow_registry(
    tmp_path: Path,
) -> None:
    from tasks.steps.backtest import scratch_config
    from tests.helpers import repo_config

    config = repo_config(
        {"registry.kind": "mlflow", "registry.tracking_uri": "http://127.0.0.1:5000"}
    )

    scratch = scratch_config(config, tmp_path / "replay")

    assert (scratch.registry.kind, scratch.registry.tracking_uri) == ("local", None)
    assert scratch.registry.path == tmp_path / "replay" / "registry"
    assert config.registry.kind == "mlflow"  # the run's own config is untouched


def test_a_window_replayed_twice_counts_once(tmp_path: Path) -> None:
    # The first window after the bootstrap: the 2012 champion breaches (f1 0.216 < 0.45, above
    # the severe 0.20), which needs a second window to confirm. Replaying the same window
    # again (a resumed replay) is the same rows seen twice, not that second window.
    from datetime import datetime

    from tasks.core.windows import Window
    from tasks.steps.backtest import bootstrap_champion, replay_window, scratch_config
    from tasks.stores.resources import open_stores
    from tests.helpers import repo_config

    config = scratch_config(repo_config(), tmp_path / "replay")
    stores = open_stores(config)
    window = Window(datetime(2013, 4, 1), datetime(2013, 6, 30))
    champion = bootstrap_champion(config, stores, window)
    policy = Strategy("policy")

    first = replay_window(config, stores, policy, 0, window, champion)
    again = replay_window(config, stores, policy, 0, window, champion)

    assert first.action == "unconfirmed" and not first.retrained
    assert again.action == "unconfirmed" and not again.retrained
    unconfirmed = params_of(again.reason_codes, "breach-not-confirmed", signal="performance")
    assert (unconfirmed["signal"], unconfirmed["seen"], unconfirmed["looked"]) == (
        "performance",
        1,
        1,
    )
    assert (unconfirmed["breaches"], unconfirmed["runs"]) == (2, 3)
    (row,) = stores.history.rows(config.name)
    assert (row["as_of"], row["decision"], row["runs"]) == ("2013-06-30T00:00:00", "unconfirmed", 2)


def test_a_replayed_window_reads_its_rows_and_loads_the_champion_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Scoring the window, estimating its metric and the policy's measurement share the window's
    # rows and the champion's model: one read of each window, one model load a window.
    from collections import Counter
    from datetime import datetime
    from typing import Any

    from tasks.core.windows import Window, plan_windows
    from tasks.steps.backtest import bootstrap_champion, replay_window, scratch_config
    from tasks.stores.resources import open_stores
    from tests.helpers import repo_config

    config = scratch_config(repo_config(), tmp_path / "replay")
    stores = open_stores(config)
    window = Window(datetime(2013, 4, 1), datetime(2013, 5, 1))
    champion = bootstrap_champion(config, stores, window)
    loads: Counter[str] = Counter()
    reads: list[Window] = []
    load_model, read = stores.registry.load_model, stores.source.read

    def counting_load(version: str) -> Any:
        loads[version] += 1
        return load_model(version)

    def counting_read(columns: list[str], read_window: Window) -> Any:
        reads.append(read_window)
        return read(columns, read_window)

    monkeypatch.setattr(stores.registry, "load_model", counting_load)
    monkeypatch.setattr(stores.source, "read", counting_read)

    outcome = replay_window(config, stores, Strategy("policy"), 0, window, champion)

    assert (outcome.action, outcome.retrained) == ("unconfirmed", False)
    assert outcome.metric is not None and outcome.estimate is not None
    assert loads == {champion: 1}
    current = plan_windows(config, window.end).current
    assert current != window  # the monitor's own 90-day window, read for the policy
    assert Counter(reads) == Counter([window, current])


def test_a_window_the_monitor_refuses_is_replayed_as_a_failed_run_and_the_replay_goes_on(
    tmp_path: Path,
) -> None:
    # An entirely empty column (a fault of the fault-injection backtest) makes the monitor
    # without data-quality checks refuse its window, as the monitor flow does: that run decides
    # and records nothing.
    from datetime import datetime

    from tasks.core.faults import Fault
    from tasks.core.windows import Window
    from tasks.steps.backtest import (
        MONITOR_FAILED,
        bootstrap_champion,
        replay_window,
        scratch_config,
    )
    from tasks.steps.fault_injection import faulted_log_config
    from tasks.stores.resources import open_stores
    from tests.helpers import repo_config

    window = Window(datetime(2013, 4, 1), datetime(2013, 6, 30))  # the monitor's 90 days
    config = scratch_config(repo_config({"data_quality.enabled": False}), tmp_path / "replay")
    config = faulted_log_config(
        config, [window], [Fault(0, "empty-column", "wind")], tmp_path / "faulted"
    )
    stores = open_stores(config)
    champion = bootstrap_champion(config, stores, window)

    outcome = replay_window(config, stores, Strategy("policy"), 0, window, champion)

    assert (outcome.action, outcome.retrained, outcome.promoted) == (MONITOR_FAILED, False, False)
    assert "columns ['wind'] are entirely empty in the current window" in outcome.reasons[0]
    assert outcome.metric is not None  # the champion was still scored on the labelled rows
    assert stores.history.rows(config.name) == []
