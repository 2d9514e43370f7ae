"""The history plot's threshold lines: visible for one run, and past the last run."""

from __future__ import annotations

from datetime import datetime, timedelta

from tasks.render.history import threshold_edges


def test_one_run_gets_a_threshold_line_of_a_month_around_it() -> None:
    moment = datetime(2014, 4, 1)
    edges = threshold_edges([moment])
    # one run: the step runs from 15 days before to 15 days after it, not zero width
    assert edges == [moment - timedelta(days=15), moment, moment + timedelta(days=15)]


def test_many_runs_pad_by_a_twentieth_of_their_span() -> None:
    moments = [datetime(2013, 1, 1) + timedelta(days=30 * i) for i in range(25)]
    edges = threshold_edges(moments)
    pad = (moments[-1] - moments[0]) / 20
    assert pad > timedelta(days=15)
    assert edges[1:-1] == moments
    assert edges[0] == moments[0] - pad and edges[-1] == moments[-1] + pad


def test_no_runs_no_edges() -> None:
    assert threshold_edges([]) == []
