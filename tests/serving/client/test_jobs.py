"""Update jobs through the SDK: the real Prefect server, the deployments served by a child
process, the real registry; ``wait_for_job`` ends on the state the registry shows."""

from __future__ import annotations

import pytest

from online_learning_client import Client, Conflict, JobTimeout, NotFound
from tests.flows.helpers import bootstrap_specialists
from tests.utils.api_keys import OPS
from tests.utils.live_server import LiveServer

# The seeded market's newest days are mostly sideways: this specialist's update is decided
# (the bear specialist's is deferred, too few rows of its regime to judge on).
MODEL = "sideways_specialist"


@pytest.fixture
def deployments(prefect_api, home, monkeypatch):
    from flows.serve import serving

    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)  # the app's threads read the env
    with serving(prefect_api, log_path=home / "serve.log", poll_seconds=1) as process:
        yield process


def test_start_update_and_wait_for_job_end_where_the_registry_is(
    deployments, registry, platform_settings
):
    trained = bootstrap_specialists(registry)
    server = LiveServer(platform_settings).start()
    try:
        with Client(server.url, OPS) as client:
            accepted = client.start_update(MODEL, learning_rate=2e-5, epochs=5)
            assert accepted.status == "queued"
            assert accepted.status_url == f"/api/v1/jobs/{accepted.job_id}"
            with pytest.raises(Conflict) as conflict:
                client.start_update(MODEL)  # one update of a model at a time
            assert accepted.job_id in conflict.value.message
            # A run starts in a new process (torch, MLflow): not final within half a second.
            with pytest.raises(JobTimeout) as waited:
                client.wait_for_job(accepted.job_id, timeout=0.5, poll_s=0.1)
            assert not waited.value.job.finished and waited.value.job.job_id == accepted.job_id
            job = client.wait_for_job(accepted.job_id, timeout=240, poll_s=1.0)
            with pytest.raises(NotFound):
                client.job("00000000-0000-0000-0000-000000000000")
    finally:
        server.stop()
    assert job.finished and job.status in ("promoted", "rolled_back"), job
    assert job.model_id == MODEL
    assert job.version == registry.champion_version(MODEL)
    assert (job.version != trained[MODEL]) == (job.status == "promoted")
