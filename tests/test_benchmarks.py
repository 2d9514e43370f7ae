"""The benchmark scripts still run and print their tables (at toy sizes; timings are not checked).

The README quotes their full-size output; a benchmark broken by a later change would leave those
numbers unreproducible, so each script runs here end to end.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import ROOT
from tests.processes import session_api_url

pytestmark = pytest.mark.e2e
BENCHMARKS = ROOT / "benchmarks"


def _run(script: str, *args: str, timeout: float = 600, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


def test_million_rows_prints_speed_agreement_and_history() -> None:
    out = _run(
        "million_rows.py",
        # 5,000 rows a side: above the 1,000 where Evidently moves from statistical tests to
        # distances (Wasserstein, Jensen-Shannon), as a million rows are; the script's fixed
        # costs (its fresh processes) are most of the rest.
        *("--rows", "5000", "--agreement-rows", "5000", "--seeds", "1"),
        *("--history-rows", "1000"),
    )

    # Every row is tested against the profile: the flags, methods and thresholds must be
    # Evidently's on all rows, the scores within a relative 1e-6, the metric identical.
    assert "drift flags agree on 25/25 columns" in out
    assert "(difference 0.00000)" in out
    agreement = re.search(
        r"all: 25/25 columns agree \(100\.0%\); largest relative score difference (\S+); "
        r"largest metric difference 0\.00000",
        out,
    )
    assert agreement and float(agreement.group(1)) < 1e-6, out
    assert re.search(r"^monitor signals, every row tested, no HTML reports\s+[\d.]+", out, re.M)
    history = re.findall(r"^\s+(5|50)\s+([\d,]+)\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out, re.M)
    assert history == [("5", "5,000"), ("50", "50,000")]
    assert re.search(r"ratio 50 / 5 windows, whole monitor step: \d+\.\d\d", out)


def test_wide_window_prints_end_to_end_evidently_and_the_cost_per_size() -> None:
    out = _run(
        "wide_window.py",
        *("--rows", "3000", "--numeric", "36", "--categorical", "4"),
        *("--evidently-limit", "300", "--scale-rows", "8000", "--scale-columns", "10"),
    )

    assert re.search(r"^monitor signals, fresh process .*\s[\d.]+\s+[\d.]+\s+\d+$", out, re.M)
    # Every 10th column is shifted by 0.3 std (a normed Wasserstein distance of about 0.3,
    # above its 0.1 threshold): at least those 4 numeric ones drift.
    drifted = re.search(r"^drifted columns: (\d+) of 40 ", out, re.M)
    assert drifted and 4 <= int(drifted.group(1)) <= 5, out
    assert re.search(r"^Evidently on all rows: all 40 columns in [\d.]+ s", out, re.M), out
    assert re.search(r"^speed-up: [\d.]+x wall, [\d.]+x CPU$", out, re.M), out
    sizes = re.findall(r"^\s+([\d,]+)\s+([\d,]+)\s+[\d.]+\s+[\d.]+$", out, re.M)
    assert sizes == [
        ("1,000", "10"),
        ("2,000", "10"),
        ("4,000", "10"),
        ("8,000", "10"),
        ("3,000", "5"),
        ("3,000", "10"),
        ("3,000", "20"),
        ("3,000", "40"),
    ], out


def test_gate_power_prints_the_promotion_rates_of_both_gates() -> None:
    out = _run(
        "gate_power.py",
        "--simulations",
        "20",
        "--resamples",
        "200",
        "--regression-simulations",
        "20",
    )
    classification, regression = out.split("regression (mae):")

    row = r"^\| ([\d,]+) \| (0\.\d\d) \| ([\d.]+)% \| ([\d.]+)% \| ([\d.]+)% \| ([\d.]+)% \|$"
    for table in (classification, regression):
        rows = re.findall(row, table, re.M)
        assert len(rows) == 9
        for _, _, ours_equal, point_equal, ours_better, point_better in rows:
            # A lower confidence bound never clears a margin its point estimate misses.
            assert float(ours_equal) <= float(point_equal)
            assert float(ours_better) <= float(point_better)
    assert "(2.0% of the champion's MAE)" in regression


def test_cold_run_times_the_demo_next_to_a_trivial_flow() -> None:
    out = _run("cold_run.py", "--repeat", "1")

    assert re.search(r"^trivial flow, cold\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out, re.M), out
    assert re.search(r"^monitor\.py on the demo, cold\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out, re.M)
    assert re.search(r"^share of the cold run that a trivial flow already costs: \d+%$", out, re.M)


def test_store_opens_times_the_second_run_and_counts_the_opens_of_each() -> None:
    out = _run("store_opens.py", "--repeat", "1")

    assert re.search(r"^second run: median [\d.]+ s, min [\d.]+ s, max [\d.]+ s$", out, re.M)
    # Each flow run opens each store once (tests/flows/test_store_opens.py shows why it is once);
    # the script's check before any Prefect server starts (tasks/steps/preflight.py) opens the
    # data source once more, to fail in seconds on a missing directory or column.
    opened = "{'data source': 2, 'history': 1, 'registry': 1}"
    assert f"opens in the first run {opened}, in the second {opened}" in out, out


def test_fleet_publishes_models_per_hour_where_the_time_goes_and_the_cold_comparison() -> None:
    # A PostgreSQL cluster, a prefect server, four fleet runs, the breakdown's two runs in one
    # process and a cold monitor run: every section of --toy (2 models) with one model, which
    # halves the models' work (the fleet's fan-out over workers is tests/flows/test_fleet.py's).
    # One setting to compare (never: a quiet window under on-breach), one fleet run less.
    # Each ratio once: --repeat's loops and their mean are the next test's (three fleet runs and
    # a cold run less, ~80 s of make test).
    out = _run(
        "fleet.py",
        *("--models", "1", "--cold", "1", "--breakdown", "1", "--compare-html", "never"),
        timeout=1800,
    )

    number = r"[\d.]+"
    # Models per hour: the full loop and monitor only on 1 and 2 workers, every model ran.
    row = (
        r"^\| this tree \| {run} \| {workers} \| 1/1 \| 0 \| \d+ \| {n} \| {n} \| ({n}) \| ({n}) "
        r"\| {n} \| {n} \| load {n} / {n} / {n} \|$"
    )
    for run, workers in [(r"full loop \(bootstrap \+ monitor\)", 2), ("monitor only", 1)]:
        found = re.search(row.format(run=run, workers=workers, n=number), out, re.M)
        assert found, out
        assert float(found.group(1)) > 0 and float(found.group(2)) > 0  # CPU was seen
    assert re.search(row.format(run="monitor only", workers=2, n=number), out, re.M), out
    # The fleets draw reports on a breach only; one more run draws none, side by side.
    never = r"monitor only, reports\.html: never"
    assert re.search(row.format(run=never, workers=2, n=number), out, re.M), out
    assert re.search(
        r"^this tree: monitor only on 2 workers, reports\.html on-breach against never: "
        r"\d+\.\d\dx in wall time, CPU per model [\d.]+ -> [\d.]+ s$",
        out,
        re.M,
    ), out
    assert re.search(
        r"^this tree: speed-up from 1 to 2 workers on the models: \d+\.\d\dx "
        r"\(CPU per model [\d.]+ -> [\d.]+ s\)$",
        out,
        re.M,
    )
    # Measured once: no line of the pairs in turn, the ratio as it is in the targets.
    assert "each pair in turn" not in out
    # The full loop's peak memory (the sampler saw the tree) and the client's retries.
    memory = re.search(
        r"^this tree, full loop: peak RSS of the fleet's process tree (\d+\.\d\d) GB; "
        r"(Prefect's client retried no API request\.|Prefect API requests that failed .*"
        r"PREFECT_CLIENT_MAX_RETRIES 7 \(k = 8: given up\): 1x: \d+, .*, 8x: \d+)$",
        out,
        re.M,
    )
    assert memory and float(memory.group(1)) > 0, out
    # Where the time goes: each part a number per model, for the full loop and monitor only.
    parts = {
        cells[0]: cells[1:]
        for cells in (
            [c.strip() for c in line.strip("|").split("|")]
            for line in out.split("## 3.")[1].split("## 4.")[0].splitlines()
            if line.startswith("| ")
        )
    }
    for part in [
        "Evidently: HTML reports",
        "Evidently: dashboard snapshot",
        "training",
        "registry",
        "history store",
        "Prefect engine and the flow's glue (the run's thread)",
        "**CPU per model, process + server**",
        "server (prefect server + PostgreSQL)",
    ]:
        assert part in parts, (part, out)
    loop, monitor = (float(v) for v in parts["**CPU per model, process + server**"])
    assert loop > 0 and monitor > 0
    assert float(parts["training"][0]) > 0  # the first run trains; monitor only does not
    assert float(parts["training"][1]) == 0
    # One fleet run (the full loop's, as many models) against a cold monitor run.
    fleet_row = r"^\| one `flows/fleet.py` \(dask, 2 workers\) \| [\d.]+ \| 1/1 \| 0 \| \d+ \|$"
    assert len(re.findall(fleet_row, out, re.M)) == 1, out
    cold_row = r"^\| 1 x `flows/monitor.py`, in turn \| [\d.]+ \| 1/1 \| 0 \| \|$"
    assert len(re.findall(cold_row, out, re.M)) == 1, out
    assert re.search(r"^speed-up of the fleet: \d+\.\d\dx$", out, re.M), out
    ratio = r"\| this tree \| {target} \| {measured}.* \| (yes|no) \|$"
    pairs = r"monitor only, 1 -> 2 Dask workers >= 1\.6x \(wall\)"
    assert re.search(ratio.format(target=pairs, measured=r"\d+\.\d\dx \("), out, re.M), out
    cold = r"one fleet run >= 4\.0x faster than as many cold monitor\.py runs"
    assert re.search(ratio.format(target=cold, measured=r"\d+\.\d\dx"), out, re.M), out
    # Issue 31's targets, each with its measure and a verdict.
    targets = re.findall(r"^\| this tree \| (.+?) \| .+ \| (yes|no) \|$", out, re.M)
    assert [target.split(" ")[0:2] for target, _ in targets] == [
        ["monitor", "only"],
        ["monitor", "only,"],
        ["(monitor", "only,"],
        ["(one", "process,"],
        ["one", "fleet"],
    ], out


@pytest.fixture
def fleet(monkeypatch: pytest.MonkeyPatch) -> Any:
    """benchmarks/fleet.py as a module."""
    spec = importlib.util.spec_from_file_location("fleet_benchmark", BENCHMARKS / "fleet.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_ratio_measured_several_times_is_printed_with_its_mean_range_and_runs_met(
    fleet: Any,
) -> None:
    assert fleet.spread([3.704], 4.0) == "3.70x"  # once: the ratio, as before --repeat
    assert fleet.spread([4.11, 3.70, 4.23], 4.0) == (
        "mean 4.01x over 3 runs (3.70-4.23x: 4.11, 3.70, 4.23), 2 of 3 at or above 4.0x"
    )
    assert fleet.spread([1.5, 1.4], 1.6).endswith("0 of 2 at or above 1.6x")


def test_repeat_measures_each_pair_and_each_cold_comparison_in_turn_and_judges_the_mean(
    fleet: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --repeat's loops with the fleet runs replaced by their numbers (the toy above runs each
    # once, for real): the models' seconds of the full loop, then of 1 and 2 workers in turn.
    seconds = iter([50.0, 10.0, 5.0, 9.0, 6.0, 12.0, 6.0])
    ran: list[int] = []
    cold_runs: list[tuple[str, object]] = []

    def run_fleet(*args: Any, **kwargs: Any) -> dict[str, Any]:
        measured = next(seconds)
        return {
            "models_seconds": measured,
            "wall": measured + 1,
            "load": "load 1.0 / 1.0 / 1.0",
            **dict.fromkeys(("fleet_cpu", "server_cpu"), 0.5),
        }

    def cold(models: int, scratch: Path, server: object, fleet_run: object) -> float:
        cold_runs.append((scratch.name, fleet_run))
        return [3.5, 4.5][len(cold_runs) - 1]

    monkeypatch.setattr(fleet, "run_fleet", run_fleet)
    monkeypatch.setattr(fleet, "monitor_only", lambda path, workers, html=None: ran.append(workers))
    monkeypatch.setattr(fleet, "_fleet_against_cold", cold)

    result = fleet.measure_tree("this tree", ROOT, 1, tmp_path, None, (), repeat=3)
    ratios = fleet.compare_with_cold_runs(1, tmp_path, None, result.loop, repeat=2)

    assert ran == [1, 2, 1, 2, 1, 2]  # each pair in turn
    assert result.worker_ratios == [2.0, 1.5, 2.0]
    assert [r["models_seconds"] for r in result.workers.values()] == [10.0, 5.0]  # the first pair
    # The first comparison reuses the full loop's run (as many models); the next runs its own.
    assert cold_runs == [("cold-0", result.loop), ("cold-1", None)]
    assert ratios == [3.5, 4.5]
    capsys.readouterr()
    fleet.print_targets([result], ratios)
    table = capsys.readouterr().out
    assert (
        "| this tree | monitor only, 1 -> 2 Dask workers >= 1.6x (wall) | mean 1.83x over 3 runs "
        "(1.50-2.00x: 2.00, 1.50, 2.00), 2 of 3 at or above 1.6x "
        "(load 1.0 / 1.0 / 1.0 / load 1.0 / 1.0 / 1.0) | yes |"
    ) in table
    assert (
        "| this tree | one fleet run >= 4.0x faster than as many cold monitor.py runs | "
        "mean 4.00x over 2 runs (3.50-4.50x: 3.50, 4.50), 1 of 2 at or above 4.0x | yes |"
    ) in table


def _on_the_session_server() -> dict[str, str]:
    """This environment with the session's Prefect server as PREFECT_API_URL (prefect_server):
    a script's flows then run against it instead of starting a temporary server of their own
    (~10 s of CPU each; tests/flows/test_cli.py and benchmarks/cold_run.py start theirs)."""
    return {**os.environ, "PREFECT_API_URL": session_api_url()}


@pytest.mark.usefixtures("prefect_server")
def test_backtest_prints_every_log_against_every_window() -> None:
    # 5 min at load average 8
    out = _run("backtest.py", "--toy", timeout=1800, env=_on_the_session_server())

    lines = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in out.splitlines()
        if line.startswith("| ") and not line.startswith("| log")
    ]
    rows = {cells[0]: cells for cells in lines if cells[2] == "defaults"}
    # The real logs also show the calendar that spends the targets' budget: every 3rd window.
    calendars = {cells[0]: cells for cells in lines if cells[2] == "calendar: every 3rd window"}
    assert set(calendars) == {"demo", "trump-approval", "elec-demand", "elec-demand-strict"}
    for cells in calendars.values():
        assert int(cells[7].split(" / ")[0]) == int(cells[3]) // 3
    assert set(rows) == {
        "demo",
        "trump-approval",
        "elec-demand",
        "elec-demand-strict",
        "sea-stationary",
        "sea-abrupt",
        "sea-covariate",
        "friedman-covariate",
    }
    for cells in rows.values():
        assert cells[2] == "defaults"
        assert re.fullmatch(r"\d+\.\d%", cells[6]), cells  # policy as % of every-window
        policy_retrains, every_retrains = (int(n) for n in cells[7].split(" / "))
        assert policy_retrains <= every_retrains == int(cells[3])
    # Every log's label-free estimate (CBPE, DLE for the regressors) against the realised metric.
    share = r"; \d+\.\d% of the realised\)"
    for name in ("trump-approval", "elec-demand"):
        assert re.fullmatch(r"\d+\.\d{3} \(6 all windows, concept drift" + share, rows[name][9])
    for name in ("sea-covariate", "friedman-covariate"):
        assert re.fullmatch(r"\d+\.\d{3} \(8 all windows" + share, rows[name][9]), rows[name]
    assert rows["sea-stationary"][10] == "0.0 retrains per 20 windows"
    # The abrupt change: with the change-aware window a challenger is promoted one window after
    # the first breached window (the configured span would still be mostly old rows).
    assert re.search(r"first promotion after window \d+: \d+ windows from the change, 1 after", out)


@pytest.mark.usefixtures("prefect_server")
def test_the_fault_backtest_flags_every_fault_and_retrains_on_none(tmp_path) -> None:
    # Two logs at toy size, replayed in windows of their monitored window: the demo (daily rows,
    # 90 days: one fault in its two windows) and elec-demand (half-hourly rows, 14 days: three
    # faults in six windows); each gets as many faults as its windows hold apart.
    out = _run(
        "backtest.py",
        *("--faults", "--toy", "--logs", "demo,elec-demand", "--output", str(tmp_path)),
        timeout=1800,
        env=_on_the_session_server(),
    )

    summary = out.split("the fault-injection backtest:")[1].split("per fault:")[0]
    lines = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in summary.splitlines()
        if line.startswith("| ")
    ]
    rows = {cells[0]: dict(zip(lines[0], cells, strict=True)) for cells in lines[1:]}
    assert (rows["demo"]["faults injected"], rows["elec-demand"]["faults injected"]) == ("1", "3")
    for row in rows.values():
        injected, windows = int(row["faults injected"]), int(row["windows"])
        # The checks flag every fault (a check the same window of the clean log passes), the
        # policy decides DATA-ISSUE on each, and no retrain or promotion is decided on one.
        assert row["flagged by the checks"] == f"{injected} / {injected}", row
        assert row["flagged by the policy (new)"] == f"{injected} / {injected}", row
        assert row["retrains / promotions caused (new)"] == "0 / 0", row
        for column in ("false alarms, clean log (checks)", "false alarms, clean log (policy)"):
            alarms, judged = (int(n) for n in row[column].split(" / "))
            assert judged == windows and alarms * 50 <= windows, row  # none on clean windows
        retrains, promotions = (
            int(n) for n in row["retrains / promotions caused (today)"].split(" / ")
        )
        assert promotions <= retrains
        assert "no categorical column: no renamed category" in row["note"]
    details = out.split("per fault:")[1]
    # Today an entirely empty column stops the monitor run; the missing check names it, and
    # the policy decides DATA-ISSUE instead.
    empty = r"^\| demo +\| 1:empty-column:precipitation +\| 2013-06-30 +\| missing \(precipitation\) +\|"
    assert re.search(empty + r" DATA-ISSUE: data-issue +\| monitor-failed +\|", details, re.M)
    assert re.search(
        r"^\| elec-demand +\| 3:unit-x1000:work_day +\| \S+ +\| range \(work_day\)", details, re.M
    )
    # The tables are also written as CSV and markdown.
    assert (tmp_path / "faults-summary.csv").read_text().count("\n") == 3
    assert "| demo | " in (tmp_path / "faults.md").read_text()


def _scaling_tables(out: str) -> dict[str, tuple[list[dict[str, str]], str]]:
    """Each direction's table (its rows, by header) and the text under it."""
    tables = {}
    for part in out.split("The monitor's work on one window against ")[1:]:
        direction = part.split(",")[0]
        lines = [line for line in part.splitlines() if line.startswith("| ")]
        header = [c.strip() for c in lines[0].strip("|").split("|")]
        rows = [
            dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
            for line in lines[1:]
        ]
        tables[direction] = (rows, part)
    return tables


def test_scaling_prints_the_cost_of_4_sizes_each_way_and_its_fitted_exponent() -> None:
    out = _run("scaling.py", "--toy", timeout=1800)  # 8 fresh processes: 10 min at load 26

    tables = _scaling_tables(out)
    assert set(tables) == {"rows", "columns"}, out
    expected = {
        "rows": [("2,000", "10"), ("4,000", "10"), ("8,000", "10"), ("16,000", "10")],
        "columns": [("2,000", "10"), ("2,000", "20"), ("2,000", "40"), ("2,000", "80")],
    }
    for direction, (rows, text) in tables.items():
        assert [(r["rows"], r["columns"]) for r in rows] == expected[direction], text
        sizes = [float(r[direction].replace(",", "")) for r in rows]
        cpu = [float(r["CPU s"]) for r in rows]
        for row in rows:
            assert float(row["CPU s"]) > 0 and float(row["wall s"]) > 0, row
            assert 0 <= float(row["of it system s"]) <= float(row["CPU s"]) + 0.01, row
            assert float(row["peak MB"].replace(",", "")) > 0, row
            assert float(row["window MB"].replace(",", "")) >= 0, row
        # The cost per row (column) is relative to the smallest size's.
        relative = [float(r[f"CPU per {direction[:-1]}, relative"]) for r in rows]
        assert relative[0] == 1.0
        for size, seconds, shown in zip(sizes, cpu, relative, strict=True):
            assert shown == pytest.approx(seconds / size / (cpu[0] / sizes[0]), abs=0.01)
        # The steps are timed apart (none inside another): with the rest they add up to the
        # whole; a step the code no longer has is named as such instead of a column.
        steps = [c[: -len(" CPU s")] for c in rows[0] if c.endswith(" CPU s") and c != "CPU s"]
        absent = re.search(r"^steps not found in the code \(n/a\): (.+)$", text, re.M)
        named = steps[:-1] + (absent.group(1).split(", ") if absent else [])
        assert sorted(named) == sorted(
            ["load", "reference", "profile", "quality", "drift", "metrics"]
        )
        assert steps[-1] == "other" and "load" in steps and "quality" in steps, steps
        for row in rows:
            parts = [float(row[f"{step} CPU s"]) for step in steps]
            assert min(parts[:-1]) >= 0 and parts[-1] > -0.005, row
            assert sum(parts) == pytest.approx(float(row["CPU s"]), abs=0.01), row
        # The exponent is the least-squares slope of the printed log times on log sizes.
        fitted = re.search(
            rf"^fitted exponent on {direction} \(slope of log time on log size, least squares; "
            r"1\.0 = linear\): CPU (-?\d+\.\d\d), of it user \(CPU - system\) (-?\d+\.\d\d|nan), "
            r"wall (-?\d+\.\d\d), window MB (-?\d+\.\d\d|nan)$",
            text,
            re.M,
        )
        assert fitted, text
        slope = np.polyfit(np.log(sizes), np.log(cpu), 1)[0]
        assert float(fitted.group(1)) == pytest.approx(slope, abs=0.02)
        user = [float(r["CPU s"]) - float(r["of it system s"]) for r in rows]
        if min(user) > 0.01:  # printed to 3 decimals
            slope = np.polyfit(np.log(sizes), np.log(user), 1)[0]
            assert float(fitted.group(2)) == pytest.approx(slope, abs=0.05)
        wall = np.polyfit(np.log(sizes), np.log([float(r["wall s"]) for r in rows]), 1)[0]
        assert float(fitted.group(3)) == pytest.approx(wall, abs=0.02)
        by_step = re.search(r"^by step \(CPU\): (.+)$", text, re.M)
        assert by_step, text
        shown_steps = [item.rsplit(" ", 1) for item in by_step.group(1).split(", ")]
        assert [name for name, _ in shown_steps] == steps, shown_steps
        assert all(re.fullmatch(r"-?\d+\.\d\d|nan", value) for _, value in shown_steps)


def test_retrain_oracle_prints_the_best_schedule_of_every_budget(tmp_path) -> None:
    out = _run("retrain_oracle.py", "--logs", "trump-approval", "--toy", "--matrix", str(tmp_path))

    # E is built with the backtest's own steps: every-window's per-window metric is its cell.
    every = re.search(
        r"every-window mean (\S+), (\d+) retrains, \d+ promotions; its per-window metric "
        r"reproduced from E on (\d+)/(\d+) windows",
        out,
    )
    assert every, out
    assert every.group(3) == every.group(4) == every.group(2) == "6"
    table = out.split("hindsight-optimal, no gate")[1].split("hindsight-optimal, retraining")[0]
    rows = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("| ") and not line.startswith("| r ")
    ]
    assert rows[0][0] == "0" and any(r[0] == "2 <- 1/3" for r in rows), out
    # The printed best means are those of trying every schedule on the written matrix.
    import itertools

    import pandas as pd

    matrix = pd.read_csv(tmp_path / "trump-approval.csv").to_numpy()
    windows = matrix.shape[1]
    for row in rows:
        budget, used = int(row[0].split()[0]), int(row[1])
        assert used <= budget
        best = min(
            _schedule_mean(matrix, combo)
            for size in range(budget + 1)
            for combo in itertools.combinations(range(windows - 1), size)
        )
        assert float(row[2]) == pytest.approx(best, abs=6e-5), row
        after = () if row[4] == "-" else tuple(int(w) for w in row[4].split(", "))
        assert _schedule_mean(matrix, after) == pytest.approx(best, abs=1e-9), row
        assert float(row[3].rstrip("%")) == pytest.approx(
            100 * float(every.group(1)) / best, abs=0.1
        )


def _schedule_mean(matrix: np.ndarray, retrain_after: tuple[int, ...]) -> float:
    """The mean metric when retraining at the end of these windows (model m + 1 after window m)."""
    model, values = 0, []
    for j in range(matrix.shape[1]):
        values.append(matrix[model][j])
        if j in retrain_after:
            model = j + 1
    return float(np.nanmean(values))
