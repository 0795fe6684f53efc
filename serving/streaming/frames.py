"""What goes out on a stream: the frame types, their payloads, and their JSON text.

A frame is built once per symbol and kind and its JSON text shared by every subscriber of that
symbol (the text is encoded once, never per socket). Payloads come from three places: the API
(a served prediction, a recorded outcome), the feedback service (a drift event) and, across
replicas, the Kafka topics; :func:`prediction_payload`, :func:`drift_payload` and
:func:`outcome_payload` check what the stream needs from each (a symbol and an id to
deduplicate by) and raise :class:`InvalidStreamEvent` otherwise.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from online_learning.errors import OnlineLearningError

__all__ = [
    "COALESCABLE",
    "Frame",
    "InvalidStreamEvent",
    "Kind",
    "as_mapping",
    "drift_payload",
    "encode",
    "outcome_payload",
    "prediction_payload",
]

Kind = Literal["prediction", "drift", "outcome"]
#: Only predictions are coalesced: a newer one supersedes an older one, a drift or an outcome
#: is news that nothing later replaces.
COALESCABLE: frozenset[str] = frozenset({"prediction"})
#: The fields of an outcome frame (the trade outcome minus its features and prediction).
OUTCOME_FIELDS = (
    "trade_id",
    "symbol",
    "model_id",
    "prediction_id",
    "realized_return",
    "pnl",
    "position",
    "timestamp",
)


class InvalidStreamEvent(OnlineLearningError):
    """An event the stream cannot carry (no symbol, no id, not an object)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One numbered frame of a symbol stream, with its JSON text."""

    seq: int
    kind: str
    text: str


def encode(message: Mapping[str, Any]) -> str:
    """Compact JSON; NaN and infinities become null (JSON has no such numbers)."""
    return orjson.dumps(message, option=orjson.OPT_NON_STR_KEYS).decode()


def as_mapping(event: Any) -> Mapping[str, Any]:
    """A dict payload, or a dataclass event (``ModelDriftEvent``), or anything with ``to_dict``."""
    if isinstance(event, Mapping):
        return event
    if dataclasses.is_dataclass(event) and not isinstance(event, type):
        return dataclasses.asdict(event)
    to_dict = getattr(event, "to_dict", None)
    if callable(to_dict):
        result = to_dict()
        if isinstance(result, Mapping):
            return result
    raise InvalidStreamEvent(f"a stream event must be a JSON object, got {type(event).__name__}")


def _text(event: Mapping[str, Any], name: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidStreamEvent(f"a stream event needs a non-empty string {name!r}")
    return value


def _payload(event: Mapping[str, Any]) -> dict[str, Any]:
    # "type" and "seq" belong to the frame; a payload never overrides them.
    return {k: v for k, v in event.items() if k not in ("type", "seq")}


def prediction_payload(event: Any) -> tuple[str, str, dict[str, Any]]:
    """``(symbol, prediction_id, payload)`` of a served prediction (``Prediction.to_dict()``)."""
    event = as_mapping(event)
    return _text(event, "symbol"), _text(event, "prediction_id"), _payload(event)


def drift_payload(event: Any) -> tuple[str, str, dict[str, Any]]:
    """``(symbol, event_id, payload)`` of a ``model_drift`` event (dict or ``ModelDriftEvent``)."""
    event = as_mapping(event)
    return _text(event, "symbol"), _text(event, "event_id"), _payload(event)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def outcome_payload(event: Any) -> tuple[str, str, dict[str, Any]]:
    """``(symbol, trade_id, payload)`` of a trade outcome (schema v1): the fields of the frame
    only, ``pnl`` defaulting to ``position * realized_return`` as the feedback path does."""
    event = as_mapping(event)
    symbol, trade_id = _text(event, "symbol"), _text(event, "trade_id")
    realized = _number(event.get("realized_return"))
    if realized is None:
        raise InvalidStreamEvent("a trade outcome needs a finite number 'realized_return'")
    position = _number(event.get("position"))
    pnl = _number(event.get("pnl"))
    if pnl is None:
        pnl = (position or 0.0) * realized
    payload = {name: event.get(name) for name in OUTCOME_FIELDS}
    payload.update(realized_return=realized, pnl=pnl, position=position)
    return symbol, trade_id, payload
