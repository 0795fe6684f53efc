"""The deployments served against a real server: drift events and update jobs end to end."""

from __future__ import annotations

import time

import pytest
from prefect.client.orchestration import get_client

from flows.deployments import DRIFT_ADAPTATION
from flows.events import emit_drift_event
from flows.jobs import JobConflictError, get_job, in_flight, submit_update
from tests.flows.helpers import flow_runs_of, gate_passes, report_rows
from tests.utils.waiting import wait_for

# A flow run of a served deployment starts in a new process (imports torch, MLflow...).
RUN_TIMEOUT_S = 240


@pytest.fixture
def served(prefect_api, home, monkeypatch):
    """The deployments of prefect.yaml served by a child process with this test's home."""
    from flows.serve import serving

    # mlflow.set_registry_uri (called by MlflowRegistry in an earlier test) also exports
    # MLFLOW_REGISTRY_URI, and MlflowClient prefers it to the tracking URI it is given: a
    # child inheriting it would read aliases from an earlier test's registry.
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    with serving(prefect_api, log_path=home / "serve.log", poll_seconds=1) as process:
        yield process


def _finished(runs):
    return runs and all(run.state and run.state.is_final() for run in runs)


def test_a_burst_of_drift_events_starts_one_adaptation_per_model(
    served, registry, specialists, metrics_store
):
    before = {run.id for run in flow_runs_of(DRIFT_ADAPTATION)}

    for _ in range(5):  # one detector firing again and again
        emit_drift_event("bear_specialist", reason="drift", detectors=["adwin", "page_hinkley"])
    emit_drift_event("sideways_specialist", reason="regime_change", detectors=["hmm"])

    def new_runs():
        return [run for run in flow_runs_of(DRIFT_ADAPTATION) if run.id not in before]

    runs = wait_for(
        lambda: (lambda r: r if len(r) >= 2 and _finished(r) else None)(new_runs()),
        timeout_s=RUN_TIMEOUT_S,
        what="the adaptation runs to finish",
        every_s=1.0,
    )
    time.sleep(5)  # give any straggling event of the burst time to (wrongly) start a run
    runs = new_runs()
    assert sorted((run.parameters["model_id"], run.parameters["reason"]) for run in runs) == [
        ("bear_specialist", "drift"),
        ("sideways_specialist", "regime_change"),
    ]
    for run in runs:
        assert run.state.is_completed(), run.state
        [row] = report_rows(run.id, "drift-adaptation")
        model = run.parameters["model_id"]
        assert row["model"] == model
        assert gate_passes(row) == (row["decision"] == "promoted")
        assert registry.champion_version(model) == row["version"]

    # Each run used its reason's profile (a shorter window than the daily 60 days).
    windows = {r.model_id: r.config["data_window"] for r in metrics_store.update_history()}
    assert windows == {"bear_specialist": 40, "sideways_specialist": 30}


def test_an_update_job_reaches_a_final_state_that_matches_the_registry(
    served, registry, specialists, metrics_store
):
    model = "sideways_specialist"
    job_id = submit_update(model, learning_rate=2e-5, epochs=5)

    assert get_job(job_id).status in ("queued", "running")
    with pytest.raises(JobConflictError) as conflict:
        submit_update(model)
    assert conflict.value.flow_run_id == job_id
    submit_other = submit_update("bull_specialist")  # other models are not blocked

    job = wait_for(
        lambda: (lambda j: j if j.final else None)(get_job(job_id)),
        timeout_s=RUN_TIMEOUT_S,
        what="the job to finish",
        every_s=1.0,
    )
    assert job.status in ("promoted", "rolled_back"), job
    assert job.model_id == model
    assert job.result.decision == job.status
    assert registry.champion_version(model) == job.result.version
    if job.status == "promoted":
        assert job.result.version != specialists[model]
    else:
        assert job.result.version == specialists[model]
    assert gate_passes(job.result.__dict__) == (job.status == "promoted")
    [record] = metrics_store.update_history(model_id=model)
    assert record.job_id.startswith(f"{job_id}/{model}/")
    assert record.decision == job.status
    assert record.config["learning_rate"] == 2e-5

    wait_for(
        lambda: get_job(submit_other).final,
        timeout_s=RUN_TIMEOUT_S,
        what="the other job",
        every_s=1.0,
    )
    # Once it is done, nothing holds the model: it takes updates again.
    with get_client(sync_client=True) as client:
        assert in_flight(client, model) == []
