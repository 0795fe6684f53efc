"""What ``online-learning up`` starts: a local server with both deployments live."""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.deployments import DAILY_UPDATE, DRIFT_ADAPTATION
from flows.serve import orchestration


def test_orchestration_starts_a_local_server_and_serves_both_deployments(home):
    with temporary_settings({PREFECT_API_URL: None}), orchestration(home) as prefect:
        assert prefect.served
        assert prefect.api_url.startswith("http://127.0.0.1:")
        api = temporary_settings({PREFECT_API_URL: prefect.api_url})
        with api, get_client(sync_client=True) as client:
            daily = client.read_deployment_by_name(DAILY_UPDATE)
            adaptation = client.read_deployment_by_name(DRIFT_ADAPTATION)
            automations = client.request("POST", "/automations/filter", json={}).json()
    assert not daily.paused and not adaptation.paused
    assert [(s.schedule.cron, s.active) for s in daily.schedules] == [("30 17 * * 1-5", True)]
    [automation] = [a for a in automations if a["name"] == "adapt-on-drift"]
    assert automation["enabled"]
    assert (home / "prefect" / "prefect.db").exists()


def test_orchestration_uses_a_configured_server_and_serves_nothing(home):
    configured = "http://prefect.internal:4200/api"
    with temporary_settings({PREFECT_API_URL: configured}), orchestration(home) as prefect:
        assert (prefect.api_url, prefect.ui_url, prefect.served) == (
            configured,
            "http://prefect.internal:4200",
            False,
        )
    assert not (home / "prefect").exists()
