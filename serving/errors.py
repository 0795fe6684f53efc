"""Library errors become HTTP status codes here, at the edge, each with a message.

The library raises domain errors (:mod:`online_learning.errors` and the feedback, metrics
store, prediction and job errors); this module maps them to a status code and a body
``{"detail": "<message>"}``. An error of a part the platform depends on (the metrics store,
the broker, the registry, a champion's artifacts) names that part only: its URL, user, host
or path stays in the server's log, never in an answer. A request that does not match its
schema answers ``422`` with a list of ``{"loc", "msg", "type"}`` (FastAPI's shape without the
echoed input). Nothing a client sends should reach the last handler (500): it is there so
that a bug answers with a JSON body and a log line instead of a dropped connection.
"""

from __future__ import annotations

import logging
from functools import cache

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from flows.jobs import JobConflictError, JobNotFoundError, JobsUnavailableError
from online_learning import prediction
from online_learning.errors import (
    BrokerUnavailableError,
    ConfigError,
    DataError,
    InvalidTradeOutcome,
    ModelNotFoundError,
    OnlineLearningError,
    RegistryError,
    SessionExistsError,
    SessionNotFoundError,
)
from online_learning.metrics_store.errors import StoreError, StoreRefusedError
from serving.schemas import UNION_TAGS

__all__ = ["ServiceUnavailable", "install", "public_detail", "status_of"]

logger = logging.getLogger(__name__)


class ServiceUnavailable(OnlineLearningError):
    """A part the request needs is not ready (no champions loaded yet, Prefect down): 503."""


@cache
def _table() -> tuple[tuple[type[BaseException], int], ...]:
    # Most specific first: the first isinstance match decides.
    pairs: list[tuple[type[BaseException], int]] = [
        (JobConflictError, 409),
        (JobNotFoundError, 404),
        (JobsUnavailableError, 503),
        (SessionExistsError, 409),
        (SessionNotFoundError, 404),
        (InvalidTradeOutcome, 422),  # also the sessions' InvalidFeatures
        (BrokerUnavailableError, 503),
        (StoreRefusedError, 422),
        (StoreError, 503),
    ]
    pairs += [
        (prediction.NoChampions, 503),
        (prediction.NoEnsemble, 422),
        (prediction.UnknownModel, 404),
        (prediction.InsufficientBars, 422),
        (prediction.InvalidBars, 422),
        (prediction.InvalidFeatures, 422),
        (prediction.InvalidSymbol, 422),
        (prediction.ChampionLoadError, 503),
    ]
    pairs += [
        (ServiceUnavailable, 503),
        (ModelNotFoundError, 404),
        (RegistryError, 503),
        (ConfigError, 422),
        (DataError, 422),
        (OnlineLearningError, 400),
    ]
    return tuple(pairs)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a library error, None for anything else."""
    for kind, status in _table():
        if isinstance(exc, kind):
            return status
    return None


def public_detail(exc: BaseException) -> str:
    """What a client is told of ``exc``: the component that failed, for the errors whose
    message names a URL, a user, a host or a path (those stay in the server's log).

    Examples
    --------
    >>> public_detail(StoreError("reading sessions failed on postgresql://u:***@db:5432/m: x"))
    'the metrics store is unavailable; retry later'
    """
    if isinstance(exc, StoreRefusedError):
        action = f" ({exc.action} failed)" if exc.action else ""
        return f"the {exc.component} refused a value of this request{action}"
    if isinstance(exc, StoreError):
        return f"the {exc.component} is unavailable; retry later"
    if isinstance(exc, BrokerUnavailableError):
        return "the broker did not take the outcomes; retry later (nothing was handed over)"
    if isinstance(exc, RegistryError):
        return "the model registry is unavailable; retry later"
    if isinstance(exc, prediction.ChampionLoadError):
        return f"could not load the champion of {', '.join(sorted(exc.errors))}"
    return str(exc)


def _library_error(request: Request, exc: Exception) -> JSONResponse:
    status = status_of(exc) or 500
    if status >= 500 or isinstance(exc, StoreRefusedError):
        logger.warning("%s %s: %s", request.method, request.url.path, exc)
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse({"detail": public_detail(exc)}, status_code=status, headers=headers)


def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for error in exc.errors():
        loc = [p for p in error.get("loc", ()) if p != "body" and p not in UNION_TAGS] or ["body"]
        errors.append({"loc": loc, "msg": error.get("msg", ""), "type": error.get("type", "")})
    return JSONResponse({"detail": errors}, status_code=422)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    library = [kind for kind, _ in _table()]
    for kind in {*library, JobConflictError, JobNotFoundError, JobsUnavailableError}:
        app.add_exception_handler(kind, _library_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
