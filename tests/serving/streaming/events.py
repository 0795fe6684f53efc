"""What the API hands the hub, shaped as the real payloads: a served prediction (built from
the declaration), a ``model_drift`` event and a trade outcome (schema v1)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from online_learning.prediction.records import Component, Prediction, new_prediction_id
from tests.utils.declarations import example

__all__ = ["drift_event", "prediction", "trade_outcome"]


def prediction(symbol: str, p_up: float = 0.6, padding: int = 0) -> dict:
    """A served prediction: the declaration's ``to_dict()``, as the API hands it over."""
    body = example(
        Prediction,
        prediction_id=new_prediction_id(),
        symbol=symbol,
        p_up=p_up,
        position=2 * p_up - 1,
        components=(Component("bull_specialist", "batch", "3", 1.0, p_up),),
        served_at=datetime.now(UTC),
    ).to_dict()
    if padding:
        body["note"] = "x" * padding
    return body


def drift_event(symbol: str, model_id: str = "bull_specialist") -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "model_drift",
        "schema_version": 1,
        "model_id": model_id,
        "symbol": symbol,
        "reason": "drift",
        "detectors": ["page_hinkley"],
        "detected_at": datetime.now(UTC).isoformat(),
        "n_outcomes": 120,
        "statistics": {"hit_rate": 0.41},
        "adaptation_requested": True,
    }


def trade_outcome(symbol: str, *, position: float = 0.5, realized: float = 0.01) -> dict:
    return {
        "schema_version": 1,
        "trade_id": f"t-{uuid.uuid4().hex[:10]}",
        "symbol": symbol,
        "timestamp": datetime.now(UTC).isoformat(),
        "model_id": "bull_specialist",
        "prediction_id": str(uuid.uuid4()),
        "features": {"ret_1": 0.01},
        "prediction": {"p_up": 0.6},
        "position": position,
        "realized_return": realized,
    }
