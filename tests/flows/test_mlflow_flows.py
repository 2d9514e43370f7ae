"""The demo loop with registry.kind: mlflow, against a real MLflow server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from flows.monitor import monitor_flow
from flows.rollback import rollback_flow
from tasks.cli.registry import main as registry_main
from tasks.config import load_config
from tasks.core.windows import plan_windows, resolve_as_of
from tasks.stores.data import load_window
from tasks.stores.registry import open_registry
from tests.registry_backends import MlflowServer, fresh_model_name

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.mlflow,
    pytest.mark.slow,
    pytest.mark.usefixtures("prefect_server"),
]


def test_the_demo_loop_promotes_in_mlflow_and_a_server_loads_the_champion(
    write_config: Callable[..., Path],
    tmp_path: Path,
    mlflow_server: MlflowServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mlflow.sklearn
    from mlflow import MlflowClient

    name = fresh_model_name()
    config_path = write_config(
        {
            "name": name,
            "registry": {
                "kind": "mlflow",
                "tracking_uri": mlflow_server.uri,
                "path": str(tmp_path / "registry"),
            },
        }
    )

    result = monitor_flow(str(config_path))

    # The same loop as with the local registry: bootstrap v0001, retrain, promote v0002.
    assert result.champion_before == "v0001"
    assert result.decision.retrain
    assert result.status == "promoted" and result.champion_after == "v0002"
    client = MlflowClient(tracking_uri=mlflow_server.uri, registry_uri=mlflow_server.uri)
    model = client.get_registered_model(name)
    assert model.aliases == {"champion": "2"}
    assert [v.tags["autoretrain.status"] for v in client.search_model_versions(f"name='{name}'")]
    assert client.get_model_version(name, "1").tags["autoretrain.status"] == "retired"
    comparison = result.comparison
    assert comparison is not None
    linked = client.get_model_version(name, "2").tags[
        f"autoretrain.comparison.{comparison.comparison_id}"
    ]
    assert client.get_run(linked).data.tags["autoretrain.verdict"] == "promote"
    registry = open_registry(load_config(config_path).registry, name)
    assert [e.action for e in registry.history()] == ["register", "promote", "promote"] * 2
    # The promotion's model card: an artifact of the version's run, and its description.
    card = registry.load_card("v0002")
    assert (card.record["version"], card.record["event"]) == ("v0002", "promotion")
    found = client.get_model_version(name, "2")
    assert card.location == f"runs:/{found.run_id}/card/card.md"
    assert card.markdown.startswith(f"# Model card: {name} v0002")
    assert found.description is not None
    assert found.description[:2000] == card.markdown[:2000]
    assert f"mlflow run id**: {found.run_id}" in card.markdown
    assert registry.load_card("v0001").record["event"] == "bootstrap"

    # A serving system that loads models:/NAME@champion gets the promoted model.
    config = load_config(config_path)
    plan = plan_windows(config, resolve_as_of(config, None))
    rows = load_window(config, plan.holdout, labelled_only=True)
    with monkeypatch.context() as serving:  # told where, as a serving system is
        serving.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
        served = mlflow.sklearn.load_model(f"models:/{name}@champion")
    features = config.data.features
    expected = registry.load_model("v0002").predict(rows[features])
    assert served.predict(rows[features]).tolist() == expected.tolist()
    assert len(expected) == comparison.holdout_rows

    assert registry_main(["verify", "--config", str(config_path)]) == 0
    assert capsys.readouterr().out.rstrip().endswith(": consistent")

    message = rollback_flow(str(config_path), reason="test rollback", actor="on-call")

    assert message == f"champion of {name}: v0002 -> v0001 (rollback by on-call: test rollback)"
    assert client.get_registered_model(name).aliases == {"champion": "1"}
    assert registry_main(["history", "--last", "1", "--config", str(config_path)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.split()[2:8] == ["rollback", "champion", "v0002", "->", "v0001", "on-call"]


def test_an_unreachable_server_stops_the_monitor_with_exit_2_before_any_work(
    write_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.monitor import main as monitor_main
    from tests.processes import free_port

    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    state = tmp_path / "state"
    config_path = write_config(
        {"registry": {"kind": "mlflow", "tracking_uri": uri, "path": str(state)}}
    )

    assert monitor_main(["--config", str(config_path)]) == 2

    assert f"cannot reach the MLflow tracking server at {uri}" in capsys.readouterr().err
    assert not (state / "history.sqlite").exists()  # no monitor run was recorded
