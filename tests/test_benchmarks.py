"""The benchmark scripts still run and print their tables (at toy sizes; timings are not checked).

The README quotes their full-size output; a benchmark broken by a later change would leave those
numbers unreproducible, so each script runs here end to end.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.e2e


def _run(script: str, *args: str, timeout: float = 600) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
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
        *("--rows", "20000", "--agreement-rows", "5000", "--seeds", "1"),
        *("--history-rows", "5000"),
    )

    # Below the 50,000-row sample size nothing is sampled: the flags and the metric must be
    # exactly those of Evidently on all rows.
    assert "drift flags agree on 25/25 columns" in out
    assert "(difference 0.00000)" in out
    assert "all: 25/25 columns agree (100.0%); largest metric difference 0.00000" in out
    history = re.findall(r"^\s+(5|50)\s+([\d,]+)\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out, re.M)
    assert history == [("5", "25,000"), ("50", "250,000")]
    assert re.search(r"ratio 50 / 5 windows, whole monitor step: \d+\.\d\d", out)


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


def test_fleet_compares_with_separate_runs_and_worker_counts_and_measures_memory() -> None:
    # Several fleet runs and two cold monitor runs in turn: over 600 s at load average 8.
    out = _run("fleet.py", "--models", "2", "--memory-models", "2", timeout=1800)

    fleet_row = r"^\| one `flows/fleet.py` \(dask, 2 workers\) \| [\d.]+ \| 2/2 \| 0 \| \d+ \|$"
    assert re.search(fleet_row, out, re.M), out
    assert re.search(r"^\| 2 x `flows/monitor.py`, in turn \| [\d.]+ \| 2/2 \| 0 \| \|$", out, re.M)
    assert re.search(r"^speed-up of the fleet: \d+\.\d\dx$", out, re.M)
    # Monitor only, every model with a champion: both worker counts run both models.
    assert len(re.findall(r"^\| [12] \| [\d.]+ \| [\d.]+ \| 0 \|$", out, re.M)) == 2
    assert re.search(r"^speed-up from 1 to 2 workers on the models: \d+\.\d\dx$", out, re.M)
    memory = re.search(r"^\| 2 \| 2 \| 0 \| [\d.]+ \| (\d+\.\d\d) \|$", out, re.M)
    assert memory and float(memory.group(1)) > 0  # the sampler saw the process tree
    # The client's retries, read from its debug log: none, or a count per number of failures.
    retries = (
        r"^(Prefect's client retried no API request\.|Prefect API requests that failed \(503, a "
        r"dropped connection\.\.\.\) at least k times, PREFECT_CLIENT_MAX_RETRIES 7 \(k = 8: "
        r"given up\): 1x: \d+, 2x: \d+, .*, 8x: \d+)$"
    )
    assert re.search(retries, out, re.M), out


def test_backtest_prints_every_log_against_every_window() -> None:
    out = _run("backtest.py", "--toy", timeout=1800)  # 5 min at load average 8

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
    }
    for cells in rows.values():
        assert cells[2] == "defaults"
        assert re.fullmatch(r"\d+\.\d%", cells[6]), cells  # policy as % of every-window
        policy_retrains, every_retrains = (int(n) for n in cells[7].split(" / "))
        assert policy_retrains <= every_retrains == int(cells[3])
    # Regressors have no label-free estimate; the classifiers' is compared with the realised one.
    assert rows["trump-approval"][9] == rows["elec-demand"][9] == "n/a"
    assert re.fullmatch(r"0\.\d{3} \(8 all windows\)", rows["sea-covariate"][9])
    assert rows["sea-stationary"][10] == "0.0 retrains per 20 windows"
    # The abrupt change: with the change-aware window a challenger is promoted one window after
    # the first breached window (the configured span would still be mostly old rows).
    assert re.search(r"first promotion after window \d+: \d+ windows from the change, 1 after", out)
