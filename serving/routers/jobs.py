"""Update jobs: ``POST /models/online-update`` submits one, ``GET /jobs/{job_id}`` follows it.

Both call :mod:`flows.jobs`, which blocks on the Prefect API: they are plain ``def``
endpoints, run in the threadpool, off the event loop.
"""

from __future__ import annotations

import logging
import math
import statistics
from datetime import timedelta
from typing import Annotated, Any

import httpx
import numpy as np
from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from flows import jobs
from online_learning.errors import ConfigError
from online_learning.update.config import UpdateSettings, public_name
from serving.deps import Admin, Known, Store
from serving.errors import ServiceUnavailable
from serving.schemas import JobAccepted, JobPublic, OnlineUpdateRequest, errors
from serving.settings import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["jobs"])
logger = logging.getLogger(__name__)

#: Minutes a served flow run needs beyond the update itself (a new process imports torch and
#: MLflow, loads the champion): measured ~0.5 min here.
START_OVERHEAD_MIN = 0.5
#: The estimate when the model has no decided update yet.
DEFAULT_ESTIMATE_MIN = 2.0
#: Past decided updates the estimate looks at.
ESTIMATE_HISTORY = 10


def _prefect_configured() -> None:
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise ServiceUnavailable(
            "no Prefect API is configured (PREFECT_API_URL): update jobs cannot run; "
            "`online-learning serve` starts a local server"
        )


def estimated_minutes(store, model_id: str) -> float:
    """Median ``duration_s`` of the model's last 10 decided updates (promoted or rolled back:
    a deferred one trains nothing) plus the flow run's start; 2 minutes without history."""
    durations = [
        r.duration_s
        for r in store.update_history(model_id=model_id, limit=50)
        if r.decision in ("promoted", "rolled_back")
    ][:ESTIMATE_HISTORY]
    if not durations:
        return DEFAULT_ESTIMATE_MIN
    return round(statistics.median(durations) / 60 + START_OVERHEAD_MIN, 1)


def flow_parameters(body: OnlineUpdateRequest) -> dict[str, Any]:
    """The ``daily-update`` parameters of a request (``data_window`` becomes ``as_of`` and
    its number of trading days)."""
    params: dict[str, Any] = {}
    if body.data_window is not None and body.data_window_days is not None:
        raise ConfigError("give data_window or data_window_days, not both")
    if body.data_window is not None:
        start, end = body.data_window.start, body.data_window.end
        if end < start:
            raise ConfigError(f"data_window.end ({end}) is before data_window.start ({start})")
        days = int(np.busday_count(start, end + timedelta(days=1)))
        if not 30 <= days <= 90:
            raise ConfigError(
                f"data_window from {start} to {end} has {days} trading days; "
                "an update window has 30 to 90"
            )
        params["data_window_days"] = days
        params["as_of"] = end.isoformat()
    elif body.data_window_days is not None:
        params["data_window_days"] = body.data_window_days
    for name in UpdateSettings.NAMES:
        value = getattr(body, public_name(name))
        if value is not None and name != "data_window":
            params[public_name(name)] = value
    return params


@router.post(
    "/models/online-update",
    status_code=202,
    response_model=JobAccepted,
    responses=errors(404, 409),
    summary="Start an incremental (EWC) update of one model",
)
def online_update(body: OnlineUpdateRequest, _: Admin, known: Known, store: Store):
    """Submits an update of the model as a run of the ``daily-update`` deployment. 409 while
    the model has an update queued or running; follow the job at ``status_url``."""
    params = flow_parameters(body)
    if not known.exists(body.model_id):
        return JSONResponse({"detail": f"no model {body.model_id!r} in the registry"}, 404)
    estimate = estimated_minutes(store, body.model_id)
    _prefect_configured()
    try:
        job_id = jobs.submit_update(body.model_id, **params)
    except httpx.HTTPError as exc:
        # Its message may quote Prefect's URL: the log has it, the answer names the part.
        logger.warning("the Prefect API is unreachable: %s", exc)
        raise ServiceUnavailable("the Prefect API is unreachable; retry later") from exc
    except TimeoutError as exc:  # the model's submission lock stayed taken
        raise ServiceUnavailable(f"could not submit the update in time: {exc}") from exc
    return {
        "job_id": job_id,
        "status": "queued",
        "estimated_duration_minutes": estimate if math.isfinite(estimate) else DEFAULT_ESTIMATE_MIN,
        "status_url": f"{API_PREFIX}/jobs/{job_id}",
    }


@router.get("/jobs/{job_id}", response_model=JobPublic, responses=errors(404))
def get_job(_: Admin, job_id: Annotated[str, Path(max_length=100)]) -> dict:
    """The job's status (``queued``, ``running``, then ``promoted``, ``rolled_back``,
    ``deferred`` or ``failed``), Prefect's state and, once final, its outcome."""
    _prefect_configured()
    try:
        job = jobs.get_job(job_id)
    except httpx.HTTPError as exc:
        # Its message may quote Prefect's URL: the log has it, the answer names the part.
        logger.warning("the Prefect API is unreachable: %s", exc)
        raise ServiceUnavailable("the Prefect API is unreachable; retry later") from exc
    data = {k: v for k, v in job.__dict__.items() if k != "result"}
    for name in ("created_at", "started_at", "finished_at"):
        value = data[name]
        data[name] = None if value is None else value.isoformat()
    if job.result is not None:
        data |= {k: v for k, v in job.result.result_fields().items() if k != "model_id"}
    return data
