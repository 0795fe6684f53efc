"""Update jobs: an update of one model submitted as a flow run of ``daily-update``.

For the serving API's ``POST /api/v1/models/online-update`` and ``GET /api/v1/jobs/{id}``::

    job_id = submit_update("bull_specialist", learning_rate=1e-5)   # JobConflictError -> 409
    job = get_job(job_id)                                            # JobNotFoundError -> 404
    job.status  # queued | running | promoted | rolled_back | deferred | failed

The job id is the Prefect flow run id; the job's state is the flow run's state, and its result
the run's ``daily-update`` table artifact (so a reader needs only the Prefect API, not the
workers' result storage). Whatever executes the deployment's runs executes jobs: the process
started by :func:`flows.serve.serving`, or a worker of the ``online-learning`` work pool.

Conflicts
---------
A model has an update in flight when a run of ``daily-update`` or ``drift-adaptation`` that
covers it is scheduled to start by now (queued, including late), pending, running, paused or
cancelling; future runs of the daily schedule do not count. :func:`submit_update` refuses
with :class:`JobConflictError` then. The check and the creation of the run happen while
holding the model's one-slot global concurrency limit ``online-learning-submit-<model_id>``,
so two submissions racing each other cannot both pass. Runs that start anyway (the daily
schedule, a drift trigger) wait for each other per model; see :mod:`flows.updates`.

Both functions block on HTTP calls to the Prefect API: call them from a worker thread (a
FastAPI ``def`` endpoint, or ``run_in_threadpool``), not on an event loop.
"""

from __future__ import annotations

import functools
import inspect
import json
import typing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import ArtifactSort, FlowRunSort
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectNotFound
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from flows.daily_update import ARTIFACT_KEY, daily_update, default_models
from flows.deployments import DAILY_UPDATE, DRIFT_ADAPTATION
from flows.report import ModelReport
from flows.updates import ensure_lock
from online_learning.configuration import load_configuration
from online_learning.configuration.plans import update_plan
from online_learning.errors import ConfigError
from online_learning.update.config import UpdateSettings, public_name, validate_model_id
from online_learning.update_result import UpdateResult

JobStatus = Literal["queued", "running", "promoted", "rolled_back", "deferred", "failed"]
JOB_TAG = "online-learning-job"
#: Flow parameters a job may set (every update setting, by its public name, and the data,
#: seed and last day); the rest keep the deployment's defaults.
JOB_PARAMETERS = frozenset(
    {public_name(name) for name in UpdateSettings.NAMES} | {"data", "seed", "as_of"}
)
_IN_FLIGHT = [
    StateType.SCHEDULED,
    StateType.PENDING,
    StateType.RUNNING,
    StateType.PAUSED,
    StateType.CANCELLING,
]
_QUEUED = {StateType.SCHEDULED, StateType.PENDING, StateType.PAUSED}
_RUNNING = {StateType.RUNNING, StateType.CANCELLING}
# A scheduled run counts as queued when it is due within this margin.
_DUE_MARGIN = timedelta(seconds=60)
SUBMIT_LOCK_TIMEOUT_S = 30.0


class JobConflictError(RuntimeError):
    """An update of the model is already queued or running (``flow_run_id``)."""

    def __init__(self, model_id: str, flow_run_id: str, state: str) -> None:
        self.model_id = model_id
        self.flow_run_id = flow_run_id
        self.state = state
        super().__init__(
            f"an update of {model_id!r} is already in flight: flow run {flow_run_id} is {state}"
        )


class JobNotFoundError(LookupError):
    """No update job has this id."""


class JobsUnavailableError(RuntimeError):
    """The ``daily-update`` deployment is not registered with the Prefect server."""


@dataclass(frozen=True)
class Job:
    """An update job as read from Prefect.

    ``state`` is Prefect's state name (``Scheduled``, ``Late``, ``Running``, ``Completed``...);
    once the job is final (``promoted``, ``rolled_back``, ``deferred`` or ``failed``)
    ``result`` holds the update's :class:`~online_learning.update_result.UpdateResult` (its
    ``version`` is the champion after the update) and ``error`` says why a failed job failed.
    """

    job_id: str
    model_id: str
    status: JobStatus
    state: str
    message: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: UpdateResult | None = None
    error: str | None = None

    @property
    def final(self) -> bool:
        return self.status in ("promoted", "rolled_back", "deferred", "failed")


def job_parameters(model_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """The flow parameters of a job, validated as the update will validate them."""
    unknown = sorted(set(params) - JOB_PARAMETERS)
    if unknown:
        raise ConfigError(
            f"unknown update parameter(s) {', '.join(unknown)}; "
            f"expected {', '.join(sorted(JOB_PARAMETERS))}"
        )
    as_of = params.get("as_of")
    if isinstance(as_of, str):
        try:
            as_of = date.fromisoformat(as_of)
        except ValueError as exc:
            raise ConfigError(f"as_of must be an ISO date (YYYY-MM-DD), got {as_of!r}") from exc
    update_plan(  # the model's configured settings with these: raises for a bad value
        load_configuration(),
        validate_model_id(model_id),
        overrides={name: params.get(public_name(name)) for name in UpdateSettings.NAMES},
        data=params.get("data"),
        seed=params.get("seed", 0),
        as_of=as_of,
    )
    parameters: dict[str, Any] = {"model_ids": [model_id], **params}
    if as_of is not None:
        parameters["as_of"] = as_of.isoformat()
    try:  # the types the flow declares, e.g. a boolean stability_check
        _flow_parameters().model_validate(parameters)
    except ValidationError as exc:
        raise ConfigError(f"invalid update parameters: {exc}") from exc
    return parameters


@functools.cache
def _flow_parameters() -> type[BaseModel]:
    """A model of ``daily_update``'s signature (what Prefect validates a run's parameters
    against, without Prefect's logging of every rejected value as an error)."""
    hints = typing.get_type_hints(daily_update.fn)
    fields = {
        name: (hints[name], parameter.default)
        for name, parameter in inspect.signature(daily_update.fn).parameters.items()
    }
    return create_model("DailyUpdateParameters", __config__=ConfigDict(extra="forbid"), **fields)


def submit_update(model_id: str, **params: Any) -> str:
    """Submit an update of ``model_id`` as a ``daily-update`` flow run; return the job id.

    ``params`` are flow parameters of :func:`flows.daily_update.daily_update`: the update
    settings by their public names (``data_window_days``, ``learning_rate``, ...), ``data``,
    ``seed`` and ``as_of``. Raises :class:`~online_learning.errors.ConfigError` for an
    invalid value, :class:`JobConflictError` while an update of the model is in flight and
    :class:`JobsUnavailableError` when the deployment is not registered.
    """
    parameters = job_parameters(model_id, params)
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(DAILY_UPDATE)
        except ObjectNotFound as exc:
            raise JobsUnavailableError(
                f"deployment {DAILY_UPDATE!r} is not registered with the Prefect server; "
                "serve it (python -m flows.serve) or run `prefect deploy --all`"
            ) from exc
        lock = ensure_lock(f"online-learning-submit-{model_id}")
        with concurrency(lock, occupy=1, timeout_seconds=SUBMIT_LOCK_TIMEOUT_S, strict=True):
            busy = in_flight(client, model_id)
            if busy:
                run = busy[0]
                raise JobConflictError(model_id, str(run.id), run.state_name or "in flight")
            run = client.create_flow_run_from_deployment(
                deployment.id,
                parameters=parameters,
                tags=[JOB_TAG, f"model:{model_id}"],
            )
    return str(run.id)


def in_flight(client: SyncPrefectClient, model_id: str) -> list[FlowRun]:
    """Runs of the update deployments that cover ``model_id`` and are due, pending or
    running, by expected start time."""
    ids = []
    for name in (DAILY_UPDATE, DRIFT_ADAPTATION):
        try:
            ids.append(client.read_deployment_by_name(name).id)
        except ObjectNotFound:
            continue
    if not ids:
        return []
    runs = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            deployment_id=FlowRunFilterDeploymentId(any_=ids),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=_IN_FLIGHT)),
            expected_start_time=FlowRunFilterExpectedStartTime(
                before_=datetime.now(UTC) + _DUE_MARGIN
            ),
        ),
        # The sync client sends no default sort, which the server refuses.
        sort=FlowRunSort.EXPECTED_START_TIME_ASC,
        limit=200,
    )
    return [run for run in runs if model_id in _models_of(run)]


def _models_of(run: FlowRun) -> list[str]:
    parameters = run.parameters or {}
    if "model_id" in parameters:
        return [parameters["model_id"]]
    return list(parameters.get("model_ids") or default_models())


def get_job(job_id: str) -> Job:
    """The status of a job, with its outcome once final. Raises :class:`JobNotFoundError`."""
    try:
        run_id = UUID(str(job_id))
    except ValueError as exc:
        raise JobNotFoundError(f"no update job {job_id!r}") from exc
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(run_id)
        except ObjectNotFound as exc:
            raise JobNotFoundError(f"no update job {job_id!r}") from exc
        if JOB_TAG not in (run.tags or []) or not (run.parameters or {}).get("model_ids"):
            raise JobNotFoundError(f"flow run {job_id} is not an update job")
        model_id = run.parameters["model_ids"][0]
        state = run.state
        fields: dict[str, Any] = {
            "job_id": str(run.id),
            "model_id": model_id,
            "state": state.name if state else "Unknown",
            "message": state.message if state else None,
            "created_at": run.created,
            "started_at": run.start_time,
            "finished_at": run.end_time,
        }
        if state is None or state.type in _QUEUED:
            return Job(status="queued", **fields)
        if state.type in _RUNNING:
            return Job(status="running", **fields)
        report = _report_row(client, run_id, model_id)
    if report is None:
        return Job(status="failed", error=state.message or state.name, **fields)
    result = UpdateResult(**report.result_fields())
    if state.type == StateType.COMPLETED and report.decision != "failed":
        return Job(status=report.decision, result=result, **fields)
    error = report.error or state.message or state.name
    return Job(status="failed", result=result, error=error, **fields)


def read_report(client: SyncPrefectClient, flow_run_id: UUID, key: str) -> list[dict]:
    """The rows of the table artifact ``key`` of a flow run (see :mod:`flows.report`)."""
    artifact_filter = ArtifactFilter(
        flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
        key=ArtifactFilterKey(any_=[key]),
    )
    # Not client.read_artifacts: it sends null for the filters it is not given, which this
    # server refuses, and an empty task-run filter would exclude the flow run's own artifacts.
    response = client.request(
        "POST",
        "/artifacts/filter",
        json={
            "artifacts": artifact_filter.model_dump(mode="json", exclude_unset=True),
            "sort": ArtifactSort.CREATED_DESC.value,
            "limit": 1,
            "offset": 0,
        },
    )
    for artifact in response.json():
        data = artifact.get("data")
        return list(json.loads(data) if isinstance(data, str) else data or [])
    return []


def _report_row(client: SyncPrefectClient, run_id: UUID, model_id: str) -> ModelReport | None:
    rows = read_report(client, run_id, ARTIFACT_KEY)
    row = next((row for row in rows if row.get("model") == model_id), None)
    return None if row is None else ModelReport.from_row(row)
