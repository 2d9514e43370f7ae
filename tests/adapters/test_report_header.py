"""The Evidently HTML reports say what they are about, and show small scores as they are."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from tasks.adapters.evidently_report import add_report_header, compute_signals
from tasks.config import load_config
from tasks.core.numbers import format_number
from tasks.core.policy import decide_retrain
from tasks.core.windows import Window
from tasks.steps.monitoring import label_reports
from tasks.stores.data import load_window

pytestmark = pytest.mark.e2e  # runs Evidently on the demo log


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1.3e-11, "1.3e-11"),
        (4.016027693157109e-12, "4.016e-12"),
        (0.23788, "0.2379"),
        (0.0, "0"),
        (None, "n/a"),
    ],
)
def test_small_scores_are_not_rounded_to_zero(value, shown):
    assert format_number(value, "general") == shown


def test_reports_name_model_window_reference_and_decision(write_config, tmp_path: Path):
    config = load_config(write_config())
    window = Window(datetime(2014, 1, 1), datetime(2014, 4, 1))
    reference = load_window(config, Window(datetime(2012, 1, 1), datetime(2013, 1, 1)))
    current = load_window(config, window)
    predictions = np.full(len(current), "rain", dtype=object)
    signals = compute_signals(config, current, reference, predictions, "champion", tmp_path)
    decision = decide_retrain(
        signals,
        config.policy,
        [],
        as_of=window.end,
        champion="v0001",
        last_retrain_as_of=None,
    )

    label_reports(config, window, "v0001", signals, decision)
    label_reports(config, window, "v0001", signals, decision)  # labelling again replaces it

    drift = (tmp_path / "drift.html").read_text(encoding="utf-8")
    performance = (tmp_path / "performance.html").read_text(encoding="utf-8")
    for page in (drift, performance):
        assert page.count('<section id="autoretrain-header"') == 1
        # The header is the first thing in the body, before Evidently's own page.
        assert re.search(r"<body[^>]*>\s*<!-- autoretrain header -->", page)
        assert (
            '<th style="padding:2px 12px 2px 0;text-align:left;vertical-align:top">Model</th>'
            in page
        )
        assert "seattle-weather" in page
        assert "[2014-01-01 00:00, 2014-04-01 00:00), 90 rows" in page
        assert "champion v0001&#x27;s training data, 366 rows" in page
        assert f"{decision.action.upper()}: " in page
    assert (
        "seattle-weather: data drift of [2014-01-01 00:00, 2014-04-01 00:00) against champion v0001"
        in drift
    )
    # temp_max's K-S p-value is about 4e-12: the header table and Evidently's own widgets show it.
    temp_max = next(c for c in signals.columns if c.column == "temp_max")
    assert temp_max.score < 1e-6
    exact = format_number(temp_max.score, "general")
    assert (
        f'<td style="padding:2px 12px 2px 0;text-align:left;vertical-align:top">{exact}</td>'
        in drift
    )
    assert f"Drift score: {exact}" in drift and f"Drift score is {exact}." in drift
    assert 'Drift score: 0.0"' not in drift and "Drift score is 0.00." not in drift
    assert "f1 (macro)" in performance


def test_a_page_without_body_still_gets_the_header_first(tmp_path: Path):
    page = tmp_path / "page.html"
    page.write_text("<p>report</p>")

    add_report_header(page, "title <b>", [("Model", "m&m")])

    text = page.read_text()
    assert text.startswith("<!-- autoretrain header -->")
    assert "title &lt;b&gt;" in text and "m&amp;m" in text and text.endswith("<p>report</p>")


def test_a_header_replaces_the_one_before_and_keeps_the_rest_of_the_page_byte_for_byte(
    tmp_path: Path,
):
    # Evidently's page carries non-ASCII text in its script: spliced as bytes, none of it changes.
    script = "<script>var s = 'Ünïcødé ✓';</script>"
    page = tmp_path / "drift.html"
    page.write_text(f"<html><head>{script}</head><BODY class='x'><div>report</div></body></html>")

    add_report_header(page, "first", [("Decision", "RETRAIN")])
    add_report_header(page, "second", [("Decision", "NO RETRAIN")])

    text = page.read_text(encoding="utf-8")
    assert text.count("<!-- autoretrain header -->") == 1 and "first" not in text
    before, header, after = re.split(
        r"(<!-- autoretrain header -->.*<!-- /autoretrain header -->)", text, flags=re.S
    )
    assert before == f"<html><head>{script}</head><BODY class='x'>"
    assert "second" in header and "NO RETRAIN" in header
    assert after == "<div>report</div></body></html>"


def test_a_failed_write_leaves_the_page_as_it_was_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    page = tmp_path / "drift.html"
    page.write_text("<html><body><div>report</div></body></html>")

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tasks.stores.files.os.replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        add_report_header(page, "title", [("Model", "m")])

    assert page.read_text() == "<html><body><div>report</div></body></html>"
    assert [p.name for p in tmp_path.iterdir()] == ["drift.html"]
