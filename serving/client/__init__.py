"""Client SDK for trading agents: predictions, outcomes, update jobs and live streams.

Against a running platform (``online-learning serve`` or ``up``)::

    from serving.client import Client
    from serving.signals import SignalCombiner, build_outcome

    with Client("http://127.0.0.1:8000") as client:
        prediction = client.predict("AAA", bars=recent_bars)  # oldest first, >= 64 days
        signal = SignalCombiner().combine(prediction, rule_signal=momentum)
        ...  # trade signal.position, wait for the day's return
        results = client.post_outcomes(build_outcome(signal, realized_return=0.004))

The key comes from ``api_key=``, else ``ONLINE_LEARNING_API_KEY``, else ``<home>/api-key``.

:class:`Client` blocks, :class:`AsyncClient` is awaited and adds :meth:`AsyncClient.stream`.
Errors are :mod:`serving.client.errors`; signals and outcomes are :mod:`serving.signals`.
"""

from __future__ import annotations

from serving.client._retry import NO_RETRIES, RetryPolicy
from serving.client.aio import AsyncClient
from serving.client.errors import (
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
from serving.client.keys import api_key_from_env
from serving.client.stream import Stream
from serving.client.sync import Client
from serving.client.types import Component, Job, JobAccepted, OutcomeResult, Prediction

__all__ = [
    "NO_RETRIES",
    "ApiError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "Component",
    "Conflict",
    "ConnectionFailed",
    "Job",
    "JobAccepted",
    "JobTimeout",
    "NotFound",
    "OutcomeResult",
    "PayloadTooLarge",
    "PermissionDenied",
    "Prediction",
    "RetryPolicy",
    "ServerError",
    "Stream",
    "ValidationError",
    "api_key_from_env",
]
