"""The Prefect event that asks for an adaptation, and the function that emits it.

Contract with the feedback service
----------------------------------
When a detector fires for a model, the feedback service calls :func:`emit_drift_event`, which
sends this Prefect event to the API at ``PREFECT_API_URL``:

- **event**: ``online_learning.drift.detected`` (:data:`DRIFT_EVENT`)
- **resource**: ``prefect.resource.id`` = ``online_learning.model.<model_id>``, with the
  labels ``prefect.resource.name`` and ``online_learning.model_id`` = ``<model_id>``
- **related** (optional): ``online_learning.symbol.<symbol>`` in the role ``symbol``
- **payload**: ``{"schema_version": 1, "reason": "drift" | "performance" | "regime_change",
  "detectors": [names of the detectors that fired], "symbol": str | null,
  "details": {free-form JSON, e.g. the detector statistics}}``

The ``drift-adaptation`` deployment (``prefect.yaml``) has a trigger on this event: the
server starts an ``adaptation`` flow run with ``model_id`` from the resource and ``reason``
from the payload. The trigger is evaluated per resource (``for_each: prefect.resource.id``)
and is reactive with ``threshold: 1`` and ``within:`` the cool-down: the first event for a
model starts a run at once, further events for that model are absorbed until the cool-down
after that first event has passed. Events for other models are independent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, get_args

from prefect.events import Event
from prefect.events.clients import get_events_client
from prefect.settings import PREFECT_API_URL
from prefect.utilities.asyncutils import run_coro_as_sync

from online_learning.errors import ConfigError
from online_learning.update.config import validate_model_id

DRIFT_EVENT = "online_learning.drift.detected"
MODEL_RESOURCE_PREFIX = "online_learning.model."
MODEL_ID_LABEL = "online_learning.model_id"
SCHEMA_VERSION = 1

Reason = Literal["drift", "performance", "regime_change"]
REASONS: tuple[str, ...] = get_args(Reason)


def model_resource(model_id: str) -> dict[str, str]:
    """The event resource of ``model_id``.

    Examples
    --------
    >>> model_resource("bull_specialist")["prefect.resource.id"]
    'online_learning.model.bull_specialist'
    """
    return {
        "prefect.resource.id": f"{MODEL_RESOURCE_PREFIX}{model_id}",
        "prefect.resource.name": model_id,
        MODEL_ID_LABEL: model_id,
    }


def drift_event(
    model_id: str,
    *,
    reason: Reason = "drift",
    detectors: Sequence[str] = (),
    symbol: str | None = None,
    details: Mapping[str, Any] | None = None,
    occurred: datetime | None = None,
) -> Event:
    """Build (without sending) the drift event of ``model_id``.

    Raises :class:`~online_learning.errors.ConfigError` for an invalid model id or reason.

    Examples
    --------
    >>> event = drift_event("bear_specialist", reason="regime_change", detectors=["adwin"])
    >>> event.event, event.resource.id, event.payload["reason"], event.payload["detectors"]
    ('online_learning.drift.detected', 'online_learning.model.bear_specialist', \
'regime_change', ['adwin'])
    >>> drift_event("bear_specialist", reason="boredom")
    Traceback (most recent call last):
    ...
    online_learning.errors.ConfigError: reason must be one of drift, performance, \
regime_change; got 'boredom'
    """
    validate_model_id(model_id)
    if reason not in REASONS:
        raise ConfigError(f"reason must be one of {', '.join(REASONS)}; got {reason!r}")
    related = []
    if symbol:
        related.append(
            {
                "prefect.resource.id": f"online_learning.symbol.{symbol}",
                "prefect.resource.role": "symbol",
            }
        )
    fields: dict[str, Any] = {}
    if occurred is not None:
        fields["occurred"] = occurred
    return Event(
        event=DRIFT_EVENT,
        resource=model_resource(model_id),
        related=related,
        payload={
            "schema_version": SCHEMA_VERSION,
            "reason": reason,
            "detectors": list(detectors),
            "symbol": symbol,
            "details": dict(details or {}),
        },
        **fields,
    )


def emit_drift_event(
    model_id: str,
    *,
    reason: Reason = "drift",
    detectors: Sequence[str] = (),
    symbol: str | None = None,
    details: Mapping[str, Any] | None = None,
    occurred: datetime | None = None,
) -> Event:
    """Send the drift event of ``model_id`` to the Prefect API and wait until it has it.

    Unlike ``prefect.events.emit_event`` (queued, errors logged), this returns only once the
    server confirmed receipt, and raises when it cannot be reached, so the caller can retry
    or alert. Requires ``PREFECT_API_URL``. Returns the event sent (its ``id`` deduplicates).
    """
    event = drift_event(
        model_id,
        reason=reason,
        detectors=detectors,
        symbol=symbol,
        details=details,
        occurred=occurred,
    )
    if not PREFECT_API_URL.value():
        raise RuntimeError("PREFECT_API_URL is not set: no Prefect server to send the event to")
    run_coro_as_sync(_send(event))
    return event


async def _send(event: Event) -> None:
    # checkpoint_every=1: each emit waits for the server's answer to a ping sent after it,
    # which the websocket delivers in order, so the event has been received.
    async with get_events_client(reconnection_attempts=2, checkpoint_every=1) as client:
        await client.emit(event)
