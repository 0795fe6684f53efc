"""Client of the online-learning platform for trading agents: predictions, outcomes, update
jobs, sessions, drift and live streams. It needs httpx, websockets and pydantic only.

Against a running platform (``online-learning serve`` or ``up``)::

    from online_learning_client import Client, SignalCombiner, build_outcome

    with Client("http://127.0.0.1:8000") as client:
        prediction = client.predict("AAA", bars=recent_bars)  # oldest first, >= 64 days
        signal = SignalCombiner().combine(prediction, rule_signal=momentum)
        ...  # trade signal.position, wait for the day's return
        results = client.post_outcomes(build_outcome(signal, realized_return=0.004))

The key comes from ``api_key=``, else ``ONLINE_LEARNING_API_KEY``, else ``<home>/api-key``.

:class:`Client` blocks, :class:`AsyncClient` is awaited and adds :meth:`AsyncClient.stream`.
Every answer is a typed, frozen object of :mod:`online_learning_client.models`, generated
from the API's OpenAPI document. Errors are :mod:`online_learning_client.errors`; signals and
outcomes are :mod:`online_learning_client.signals`.
"""

from __future__ import annotations

from online_learning_client._retry import NO_RETRIES, RetryPolicy
from online_learning_client.aio import AsyncClient
from online_learning_client.errors import (
    ApiError,
    AuthenticationError,
    Conflict,
    ConnectionFailed,
    JobTimeout,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ServerError,
    ValidationError,
)
from online_learning_client.keys import api_key_from_env
from online_learning_client.models import (
    Component,
    Definition,
    DriftRecord,
    DriftStatus,
    Health,
    Job,
    JobAccepted,
    Me,
    Model,
    OutcomeResult,
    Performance,
    Prediction,
    Ready,
    Session,
    SessionPrediction,
    SuccessSummary,
    TradeOutcome,
    UpdateRecord,
)
from online_learning_client.signals import Signal, SignalCombiner, build_outcome
from online_learning_client.stream import Stream
from online_learning_client.sync import Client

__version__ = "0.1.0"

__all__ = [
    "NO_RETRIES",
    "ApiError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "Component",
    "Conflict",
    "ConnectionFailed",
    "Definition",
    "DriftRecord",
    "DriftStatus",
    "Health",
    "Job",
    "JobAccepted",
    "JobTimeout",
    "Me",
    "Model",
    "NotFound",
    "OutcomeResult",
    "PayloadTooLarge",
    "Performance",
    "PermissionDenied",
    "Prediction",
    "Ready",
    "RetryPolicy",
    "ServerError",
    "Session",
    "SessionPrediction",
    "Signal",
    "SignalCombiner",
    "Stream",
    "SuccessSummary",
    "TradeOutcome",
    "UpdateRecord",
    "ValidationError",
    "api_key_from_env",
    "build_outcome",
]
