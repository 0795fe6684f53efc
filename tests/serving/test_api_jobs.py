"""Update jobs over HTTP against the real Prefect server, the deployments served by a child
process, the real MLflow registry and metrics store: a job reaches its final state, matches
the registry, and the app then serves the new champion without a restart."""

from __future__ import annotations

import uuid

import pytest

from online_learning.features import FEATURE_COLUMNS
from tests.flows.helpers import bootstrap_specialists
from tests.utils.api_keys import AGENT, OPS, bearer
from tests.utils.waiting import wait_for

RUN_TIMEOUT_S = 240


@pytest.fixture
def deployments(prefect_api, home, monkeypatch):
    """The deployments of prefect.yaml served against the session's Prefect server; the app
    (whose threads do not see this thread's Prefect context) reaches it through the env."""
    from flows.serve import serving

    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    with serving(prefect_api, log_path=home / "serve.log", poll_seconds=1) as process:
        yield process


@pytest.fixture
def trained(registry):
    return bootstrap_specialists(registry)


def test_an_update_job_runs_to_its_final_state_and_the_new_champion_is_served(
    deployments, trained, client, registry
):
    model = "sideways_specialist"
    body = {"model_id": model, "learning_rate": 2e-5, "epochs": 5, "stability_check": True}
    accepted = client.post("/api/v1/models/online-update", json=body, headers=bearer(OPS))
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert job["status"] == "queued"
    assert job["estimated_duration_minutes"] == 2.0  # no update of this model yet
    assert job["status_url"] == f"/api/v1/jobs/{job['job_id']}"

    conflict = client.post("/api/v1/models/online-update", json=body, headers=bearer(OPS))
    assert conflict.status_code == 409
    assert job["job_id"] in conflict.json()["detail"]

    first = client.get(job["status_url"], headers=bearer(OPS))
    assert first.status_code == 200
    assert first.json()["status"] in ("queued", "running", "promoted", "rolled_back", "deferred")

    def final():
        state = client.get(job["status_url"], headers=bearer(OPS)).json()
        return (
            state if state["status"] in ("promoted", "rolled_back", "deferred", "failed") else None
        )

    done = wait_for(final, timeout_s=RUN_TIMEOUT_S, what="the job to finish", every_s=1.0)
    assert done["status"] in ("promoted", "rolled_back"), done
    assert done["model_id"] == model and done["finished_at"] is not None
    assert done["version"] == registry.champion_version(model)
    assert (done["version"] != trained[model]) == (done["status"] == "promoted")

    history = client.get(f"/api/v1/models/{model}/history", headers=bearer(AGENT)).json()
    assert history[0]["job_id"].startswith(f"{job['job_id']}/{model}/")
    assert history[0]["decision"] == done["status"]
    models = {m["model_id"]: m for m in client.get("/api/v1/models", headers=bearer(AGENT)).json()}
    assert models[model]["champion_version"] == done["version"]
    assert models[model]["last_update"]["decision"] == done["status"]

    # The app swaps the champion in without a restart (the registry poll).
    features = dict.fromkeys(FEATURE_COLUMNS, 0.01)

    def served_version():
        response = client.post(
            "/api/v1/predictions",
            json={"symbol": "AAA", "features": features},
            headers=bearer(AGENT),
        )
        assert response.status_code == 200, response.text
        versions = {c["name"]: c["version"] for c in response.json()["components"]}
        return versions[model] == done["version"]

    wait_for(served_version, timeout_s=10, what="the new champion to be served", every_s=0.2)

    # The next estimate comes from this model's own past duration.
    again = client.post("/api/v1/models/online-update", json=body, headers=bearer(OPS))
    assert again.status_code == 202
    expected = round(history[0]["duration_s"] / 60 + 0.5, 1)
    assert again.json()["estimated_duration_minutes"] == expected
    wait_for(
        lambda: (
            client.get(again.json()["status_url"], headers=bearer(OPS)).json()["status"]
            in ("promoted", "rolled_back", "deferred", "failed")
        ),
        timeout_s=RUN_TIMEOUT_S,
        what="the second job",
        every_s=1.0,
    )


def test_job_errors_are_404_409_422_with_messages(deployments, champions, client):
    unknown = client.get(f"/api/v1/jobs/{uuid.uuid4()}", headers=bearer(OPS))
    assert unknown.status_code == 404 and "no update job" in unknown.json()["detail"]
    not_uuid = client.get("/api/v1/jobs/not-a-job", headers=bearer(OPS))
    assert not_uuid.status_code == 404

    def submit(**body):
        return client.post("/api/v1/models/online-update", json=body, headers=bearer(OPS))

    missing_model = submit(model_id="nope_specialist")
    assert missing_model.status_code == 404
    assert missing_model.json()["detail"] == "no model 'nope_specialist' in the registry"
    short = submit(
        model_id="bull_specialist", data_window={"start": "2025-01-06", "end": "2025-01-17"}
    )
    assert short.status_code == 422
    assert "has 10 trading days; an update window has 30 to 90" in short.json()["detail"]
    backwards = submit(
        model_id="bull_specialist", data_window={"start": "2025-03-01", "end": "2025-01-01"}
    )
    assert backwards.status_code == 422 and "is before" in backwards.json()["detail"]
    both = submit(
        model_id="bull_specialist",
        data_window_days=40,
        data_window={"start": "2025-01-01", "end": "2025-03-01"},
    )
    assert both.status_code == 422
    assert both.json()["detail"] == "give data_window or data_window_days, not both"
    negative = submit(model_id="bull_specialist", learning_rate=-1)
    assert negative.status_code == 422
    assert negative.json()["detail"][0]["loc"] == ["learning_rate"]
    unknown_field = submit(model_id="bull_specialist", lr=1)
    assert unknown_field.status_code == 422


def test_without_a_prefect_api_jobs_are_503(champions, client, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        monkeypatch.delenv("PREFECT_API_URL", raising=False)
        assert not PREFECT_API_URL.value()
        response = client.post(
            "/api/v1/models/online-update",
            json={"model_id": "bull_specialist"},
            headers=bearer(OPS),
        )
    assert response.status_code == 503
    assert "PREFECT_API_URL" in response.json()["detail"]
