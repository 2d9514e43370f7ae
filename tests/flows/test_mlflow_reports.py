"""Reports that outlive the machine: with registry.kind mlflow, each monitor run's HTML reports
and summary are artifacts of a monitoring run in the model's experiment on a real MLflow server,
linked from the CLI summary and the Prefect artifact; reports.keep deletes the oldest monitoring
runs; a server that goes down before the upload leaves the decision as it was, says so loudly
and keeps the local copy."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tasks.steps.reports
from flows.monitor import main as monitor_main
from flows.monitor import monitor_flow
from tasks.core.reasons import ReasonCode
from tests.helpers import read_artifact
from tests.processes import stop_process
from tests.registry_backends import MlflowServer, fresh_model_name, start_mlflow_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.mlflow,
    pytest.mark.slow,
    pytest.mark.usefixtures("prefect_server"),
]

RUN_LINK = re.compile(r"reports     MLflow run (http://\S+/#/experiments/(\d+)/runs/([0-9a-f]+)) ")


def _config(
    write_config: Callable[..., Path], tmp_path: Path, uri: str, name: str, keep: int | None
) -> Path:
    return write_config(
        {
            "name": name,
            "registry": {"kind": "mlflow", "tracking_uri": uri, "path": str(tmp_path / "reg")},
            "reports": {"path": str(tmp_path / "reports"), "keep": keep},
        },
        name=f"{name}.yaml",
    )


def _client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _monitoring_runs(uri: str, name: str) -> list[Any]:
    client = _client(uri)
    experiment = client.get_experiment_by_name(f"autoretrain-{name}")
    return list(
        client.search_runs(
            [experiment.experiment_id],
            filter_string="tags.`autoretrain.kind` = 'monitor'",
            order_by=["attributes.start_time ASC"],
        )
    )


def test_reports_and_summary_are_artifacts_of_a_monitoring_run_and_keep_prunes_the_oldest(
    write_config: Callable[..., Path],
    tmp_path: Path,
    mlflow_server: MlflowServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = fresh_model_name()
    config = _config(write_config, tmp_path, mlflow_server.uri, name, keep=2)
    client = _client(mlflow_server.uri)
    links = []
    for as_of in ("2014-04-01", "2014-05-01", "2014-06-01"):
        capsys.readouterr()
        assert monitor_main(["--config", str(config), "--as-of", as_of]) == 0
        out = capsys.readouterr().out
        match = RUN_LINK.search(out)
        assert match, out
        links.append(match)
        url, experiment_id, run_id = match.groups()
        assert url == f"{mlflow_server.uri}/#/experiments/{experiment_id}/runs/{run_id}"
        # The Prefect artifact links the same run.
        artifact = read_artifact(f"{name}-monitor-summary")
        assert artifact is not None and f"[MLflow run]({url})" in str(artifact.data)
        # The run's tags say what it was; its summary links itself.
        run = client.get_run(run_id)
        assert run.info.run_name == f"monitor {as_of}T00:00:00"
        assert run.info.status == "FINISHED"
        tags = run.data.tags
        assert tags["autoretrain.model"] == name
        assert tags["autoretrain.as_of"] == f"{as_of}T00:00:00"
        assert tags["autoretrain.status"] in out and tags["autoretrain.decision"]
        assert tags["autoretrain.flow_run_id"]
        reason_codes = tags["autoretrain.reason_codes"].split(",")
        assert reason_codes[0] and set(reason_codes) <= {code.value for code in ReasonCode}
        assert experiment_id == client.get_experiment_by_name(f"autoretrain-{name}").experiment_id
        artifacts = sorted(a.path for a in client.list_artifacts(run_id, "reports"))
        assert artifacts == ["reports/drift.html", "reports/performance.html"]
        downloaded = Path(client.download_artifacts(run_id, "reports/drift.html", str(tmp_path)))
        html = downloaded.read_text()
        assert html.lstrip().lower().startswith("<!doctype html") or "<html" in html[:2000]
        assert f"{name}: data drift of" in html  # the header label_reports puts on it
        summary = Path(client.download_artifacts(run_id, "summary.txt", str(tmp_path)))
        assert f"autoretrain monitor: {name}" in summary.read_text()
        assert url in summary.read_text()
        # Uploaded: no local copy left behind.
        assert not list((tmp_path / "reports" / name).glob("*/drift.html"))

    # reports.keep 2: the first monitoring run is deleted, the two newest stay.
    kept = _monitoring_runs(mlflow_server.uri, name)
    assert [run.info.run_id for run in kept] == [links[1].group(3), links[2].group(3)]
    assert client.get_run(links[0].group(3)).info.lifecycle_stage == "deleted"


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[Any, MlflowServer]]:
    """An MLflow server of this test alone, which it stops mid-run."""
    directory = tmp_path / "mlflow"
    directory.mkdir()
    process, server = start_mlflow_server(directory)
    try:
        yield process, server
    finally:
        stop_process(process, 15)


def test_a_server_down_at_upload_leaves_the_decision_and_keeps_the_local_copy(
    write_config: Callable[..., Path],
    tmp_path: Path,
    own_server: tuple[Any, MlflowServer],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    process, server = own_server
    # The same window for two fresh models: the first uploads, the second finds the server
    # gone when it uploads (stopped right before), after deciding.
    baseline = monitor_flow(str(_config(write_config, tmp_path, server.uri, "base", keep=5)))
    assert baseline.reports is not None and baseline.reports.uploaded

    upload = tasks.steps.reports.upload_reports  # the upload in the run's publish_reports

    def stop_then_upload(*args: Any, **kwargs: Any) -> Any:
        stop_process(process, 15)
        return upload(*args, **kwargs)

    monkeypatch.setattr(tasks.steps.reports, "upload_reports", stop_then_upload)
    result = monitor_flow(str(_config(write_config, tmp_path, server.uri, "down", keep=5)))

    assert process.poll() is not None  # the server was down
    assert result.decision.to_dict() == baseline.decision.to_dict()
    assert (result.status, result.champion_after) == (baseline.status, baseline.champion_after)
    reports = result.reports
    assert reports is not None and not reports.uploaded
    assert server.uri in reports.detail and "failed" in reports.detail
    local = Path(reports.local_copy or "")
    assert sorted(p.name for p in local.glob("*.html")) == ["drift.html", "performance.html"]
    assert "NOT uploaded to MLflow" in caplog.text
    artifact = read_artifact("down-monitor-summary")
    assert artifact is not None
    text = str(artifact.data)
    assert "**Warning: the reports were NOT uploaded to MLflow**" in text
    assert str(local) in text and "The decision stands" in text
    assert artifact.description is not None and "reports NOT uploaded" in artifact.description
