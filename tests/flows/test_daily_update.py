"""The daily-update flow against a real Prefect server and a real MLflow store."""

from __future__ import annotations

import contextvars
import threading

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    TaskRunFilter,
    TaskRunFilterName,
    TaskRunFilterState,
    TaskRunFilterStateName,
)
from prefect.client.schemas.sorting import TaskRunSort

from flows.daily_update import daily_update
from flows.report import REPORT_COLUMNS
from online_learning.metrics_store.records import this_worker
from tests.flows.helpers import (
    SPECIALISTS,
    bootstrap_specialists,
    gate_passes,
    report_rows,
    task_runs_of,
)
from tests.utils.waiting import wait_for


def _check_decided(row: dict, registry, bootstrapped: dict[str, str]) -> None:
    """A decided row agrees with the gate and with where ``champion`` points; a specialist
    whose new days hold too few rows of its regime is deferred, the champion unchanged."""
    model = row["model"]
    if row["decision"] == "deferred":
        assert row["reason"] == "insufficient_validation_data", row
        assert registry.champion_version(model) == row["version"] == bootstrapped[model]
        return
    assert row["decision"] in ("promoted", "rolled_back"), row
    assert gate_passes(row) == (row["decision"] == "promoted"), row
    assert registry.champion_version(model) == row["version"], row
    if row["decision"] == "promoted":
        assert row["version"] != bootstrapped[model]
    else:
        assert row["version"] == bootstrapped[model]


def test_daily_update_updates_every_model(prefect_api, registry, specialists, metrics_store):
    state = daily_update(return_state=True)

    assert state.is_completed(), state
    rows = state.result()
    flow_run_id = state.state_details.flow_run_id
    assert report_rows(flow_run_id, "daily-update") == rows
    assert [row["model"] for row in rows] == list(SPECIALISTS)
    assert all(tuple(row) == REPORT_COLUMNS for row in rows)
    for row in rows:
        _check_decided(row, registry, specialists)
    decisions = [row["decision"] for row in rows]
    assert set(decisions) <= {"promoted", "rolled_back", "deferred"}, rows
    deferred = decisions.count("deferred")
    assert state.message == (
        f"{decisions.count('promoted')} promoted, {decisions.count('rolled_back')} rolled back"
        + (f", {deferred} deferred" if deferred else "")
    )

    # Every update went through the recorded path, linked to the flow run.
    history = {record.model_id: record for record in metrics_store.update_history()}
    assert set(history) == set(SPECIALISTS)
    for row in rows:
        record = history[row["model"]]
        assert record.job_id == f"{flow_run_id}/{row['model']}/1"
        assert (record.decision, record.version) == (row["decision"], row["version"])
    assert {event.payload["job_id"] for event in metrics_store.pending_events()} == {
        record.job_id for record in history.values()
    }


def test_a_failing_model_leaves_the_others_decided_on_their_merits(
    prefect_api, registry, specialists, metrics_store
):
    registry.client.delete_registered_model_alias("bear_specialist", "champion")

    state = daily_update(return_state=True)

    assert state.is_failed(), state
    assert "1 failed: bear_specialist (ModelNotFoundError" in state.message
    flow_run_id = state.state_details.flow_run_id
    rows = {row["model"]: row for row in report_rows(flow_run_id, "daily-update")}
    assert list(rows) == list(SPECIALISTS)
    failed = rows.pop("bear_specialist")
    assert failed["decision"] == "failed" and failed["version"] is None
    assert failed["error"].startswith("ModelNotFoundError: model 'bear_specialist'")
    for row in rows.values():
        _check_decided(row, registry, specialists)

    # A missing model is not retried, and neither is a rollback (a return value).
    task_runs = task_runs_of(flow_run_id)
    assert {name: run.run_count for name, run in task_runs.items()} == {
        f"update-{model}": 1 for model in SPECIALISTS
    }
    assert task_runs["update-bear_specialist"].state.is_failed()
    history = {record.model_id: record.decision for record in metrics_store.update_history()}
    assert history["bear_specialist"] == "failed"


def test_an_unreachable_store_is_retried(prefect_api, registry, home, monkeypatch):
    """The metrics store's folder is missing (a file is in its way) on the first attempt and
    back before the retry: Prefect retries the StoreError and the update goes through."""
    from online_learning.metrics_store import MetricsStore
    from online_learning.settings import get_settings

    model = "sideways_specialist"
    bootstrap_specialists(registry, models=[model])
    store_dir = home / "store"
    store_dir.write_text("not a folder")
    monkeypatch.setenv("ONLINE_LEARNING_DATABASE_URL", f"sqlite:///{store_dir}/metrics.db")
    get_settings.cache_clear()

    def awaiting_retry():
        with get_client(sync_client=True) as client:
            return client.read_task_runs(
                task_run_filter=TaskRunFilter(
                    name=TaskRunFilterName(any_=[f"update-{model}"]),
                    state=TaskRunFilterState(name=TaskRunFilterStateName(any_=["AwaitingRetry"])),
                ),
                sort=TaskRunSort.EXPECTED_START_TIME_DESC,
                limit=1,
                offset=0,
            )

    def bring_the_store_back():
        wait_for(awaiting_retry, timeout_s=60, what="the update to await its retry", every_s=0.2)
        store_dir.unlink()
        store_dir.mkdir()

    # The thread needs this context: it holds the API URL of the test's server.
    fixer = threading.Thread(target=contextvars.copy_context().run, args=(bring_the_store_back,))
    fixer.start()
    state = daily_update(model_ids=[model], return_state=True)
    fixer.join(timeout=70)

    assert state.is_completed(), state
    flow_run_id = state.state_details.flow_run_id
    assert task_runs_of(flow_run_id)[f"update-{model}"].run_count == 2
    [row] = state.result()
    assert registry.champion_version(model) == row["version"]
    with MetricsStore.from_settings(get_settings()) as store:
        [record] = store.update_history()
    assert record.job_id == f"{flow_run_id}/{model}/2"
    assert record.decision == row["decision"]


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_decisions(
    prefect_api, registry, specialists, metrics_store
):
    sequential = daily_update(return_state=True)
    in_process = sequential.result()
    for row in in_process:  # back to the bootstrapped champions
        if row["decision"] == "promoted":
            registry.rollback(model_id=row["model"])
    assert {m: registry.champion_version(m) for m in SPECIALISTS} == specialists
    # ... and forget the decisions (made in this process), whose validation days would not be
    # judged again.
    assert {r.worker for r in metrics_store.update_history()} == {this_worker()}
    with metrics_store.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM update_history"))

    parallel = daily_update(workers=2, return_state=True)

    assert parallel.is_completed(), parallel
    on_dask = parallel.result()
    assert [(r["model"], r["decision"], r["reason"]) for r in on_dask] == [
        (r["model"], r["decision"], r["reason"]) for r in in_process
    ]
    for dask_row, row in zip(on_dask, in_process, strict=True):
        # Same champion, same days; only the float summation order may differ.
        for key in ("sharpe_pre", "sharpe_post"):
            if row[key] is None:  # rejected before the gate ran, on both
                assert dask_row[key] is None
            else:
                assert dask_row[key] == pytest.approx(row[key], rel=1e-4)
        _check_decided(dask_row, registry, specialists)

    # The updates ran in the two worker processes, neither of them the flow's.
    flow_run_id = str(parallel.state_details.flow_run_id)
    workers = [r.worker for r in metrics_store.update_history() if r.job_id.startswith(flow_run_id)]
    assert len(workers) == 3
    assert len(set(workers)) == 2, workers
    assert this_worker() not in workers
