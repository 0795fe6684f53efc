"""prefect.yaml: what it declares, and ``prefect deploy --all`` against a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from flows.deployments import DAILY_UPDATE, DRIFT_ADAPTATION, default_prefect_yaml, load_deployments
from flows.events import DRIFT_EVENT, drift_event
from flows.jobs import read_report
from tests.flows.helpers import bootstrap_specialists

#: The repository's root, where ``prefect deploy --all`` reads ``prefect.yaml`` (a link to the
#: package's copy, which the wheel installs).
REPO = Path(__file__).resolve().parents[2]


def test_the_repositorys_prefect_yaml_is_the_packages():
    assert (REPO / "prefect.yaml").resolve() == default_prefect_yaml()
    assert default_prefect_yaml().is_file()


def test_prefect_yaml_declares_the_schedule_and_the_drift_trigger():
    deployments = {f"{d.flow_name}/{d.name}": d for d in load_deployments()}
    assert set(deployments) == {DAILY_UPDATE, DRIFT_ADAPTATION}

    daily = deployments[DAILY_UPDATE]
    [schedule] = daily.schedules
    assert schedule.schedule.cron == "30 17 * * 1-5"
    assert schedule.schedule.timezone == "America/New_York"
    assert daily.entrypoint == "flows.daily_update.daily_update"

    [trigger] = deployments[DRIFT_ADAPTATION].triggers
    assert trigger.expect == {DRIFT_EVENT}
    assert trigger.for_each == {"prefect.resource.id"}
    assert (trigger.posture, trigger.threshold) == ("Reactive", 1)
    assert trigger.within >= timedelta(hours=1)
    # The trigger matches the events emit_drift_event sends, and nothing else.
    event = drift_event("bear_specialist", reason="performance")
    assert trigger.match.matches(event.resource)
    assert set(trigger.parameters) == {"model_id", "reason"}
    # Served from one process, the trigger throttles as the feedback service's cool-down does.
    served = {f"{d.flow_name}/{d.name}": d for d in load_deployments(drift_cooldown_s=10.0)}
    [throttled] = served[DRIFT_ADAPTATION].triggers
    assert throttled.within == timedelta(seconds=10)
    assert throttled.model_dump(exclude={"within", "id"}) == trigger.model_dump(
        exclude={"within", "id"}
    )


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    """A server of its own: deploying must not disturb the served deployments of other tests."""
    from flows.serve import local_server

    with local_server(tmp_path_factory.mktemp("deploy-server"), ui=False) as server:
        yield server


def _prefect(api_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_API_URL": api_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_prefect_deploy_all_registers_both_deployments_for_a_work_pool(
    fresh_server, registry, monkeypatch
):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    created = _prefect(
        fresh_server.api_url, "work-pool", "create", "online-learning", "--type", "process"
    )
    assert created.returncode == 0, created.stdout + created.stderr

    deployed = _prefect(fresh_server.api_url, "deploy", "--all")

    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]

    def api():
        return temporary_settings({PREFECT_API_URL: fresh_server.api_url})

    with api(), get_client(sync_client=True) as client:
        daily = client.read_deployment_by_name(DAILY_UPDATE)
        adaptation = client.read_deployment_by_name(DRIFT_ADAPTATION)
        automations = client.request("POST", "/automations/filter", json={}).json()
    assert daily.work_pool_name == adaptation.work_pool_name == "online-learning"
    [schedule] = daily.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (
        "30 17 * * 1-5",
        "America/New_York",
        True,
    )
    assert adaptation.entrypoint == "flows.adaptation:adaptation"
    [automation] = [a for a in automations if a["name"] == "adapt-on-drift"]
    assert automation["trigger"]["expect"] == [DRIFT_EVENT]
    assert automation["trigger"]["for_each"] == ["prefect.resource.id"]
    [action] = automation["actions"]
    assert action["type"] == "run-deployment"
    assert action["deployment_id"] == str(adaptation.id)
    assert set(action["parameters"]) == {"model_id", "reason"}

    # A process worker of the pool runs the deployed flow from the registered entrypoint.
    model = "sideways_specialist"
    bootstrap_specialists(registry, models=[model])
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)  # see test_served.served
    with api(), get_client(sync_client=True) as client:
        run = client.create_flow_run_from_deployment(
            daily.id, parameters={"model_ids": [model], "epochs": 5}
        )
    worked = _prefect(
        fresh_server.api_url, "worker", "start", "--pool", "online-learning", "--run-once"
    )
    assert worked.returncode == 0, worked.stdout[-3000:] + worked.stderr[-3000:]
    with api(), get_client(sync_client=True) as client:
        state = client.read_flow_run(run.id).state
        [row] = read_report(client, run.id, "daily-update")
    assert state.is_completed(), state
    assert row["decision"] in ("promoted", "rolled_back")
    assert registry.champion_version(model) == row["version"]


def test_the_event_contract_is_documented():
    section = (REPO / "docs" / "orchestration.md").read_text()
    for fact in (DRIFT_EVENT, "online_learning.model.<model_id>", "regime_change", "detectors"):
        assert fact in section, fact


def test_flows_doctests_pass():
    import doctest

    import flows.events
    import flows.updates

    for module in (flows.events, flows.updates):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
        assert result.attempted > 0, module.__name__
