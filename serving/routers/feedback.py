"""``POST /feedback/outcomes``: realised trade outcomes (schema v1), idempotent on ``trade_id``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException
from starlette.concurrency import run_in_threadpool

from serving.deps import Feedback, FeedbackScope, Hub, Settings
from serving.schemas import OutcomeResults, errors
from serving.settings import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/feedback", tags=["feedback"])

_OUTCOME_SCHEMA = {
    "type": "object",
    "description": "A trade outcome, schema version 1 (see the README): trade_id, symbol, "
    "timestamp, features and realized_return are required.",
    "required": ["trade_id", "symbol", "timestamp", "features", "realized_return"],
    "properties": {
        "schema_version": {"type": "integer", "enum": [1]},
        "trade_id": {"type": "string", "minLength": 1, "maxLength": 200},
        "symbol": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "model_id": {"type": "string"},
        "prediction_id": {"type": "string"},
        "features": {"type": "object", "additionalProperties": {"type": "number"}},
        "prediction": {"type": "object"},
        "position": {"type": "number"},
        "realized_return": {"type": "number"},
        "pnl": {"type": "number"},
    },
}


def _outcome_frame(item: dict[str, Any]) -> dict[str, Any]:
    position = item.get("position")
    pnl = item.get("pnl")
    if pnl is None:
        pnl = (position or 0.0) * item["realized_return"]
    return {
        "trade_id": item["trade_id"],
        "symbol": item["symbol"],
        "model_id": item.get("model_id"),
        "prediction_id": item.get("prediction_id"),
        "realized_return": item["realized_return"],
        "pnl": pnl,
        "position": position,
        "timestamp": item["timestamp"],
    }


@router.post(
    "/outcomes",
    response_model=OutcomeResults,
    responses=errors(413),
    summary="Post one trade outcome or a list of them",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            _OUTCOME_SCHEMA,
                            {"type": "array", "items": _OUTCOME_SCHEMA, "maxItems": 1000},
                        ]
                    }
                }
            },
        }
    },
)
async def post_outcomes(
    body: Annotated[dict[str, Any] | list[Any], Body()],
    _: FeedbackScope,
    feedback: Feedback,
    hub: Hub,
    settings: Settings,
) -> dict:
    """Each outcome is ``accepted`` (learned and recorded before the answer, or handed to the
    symbol's feedback worker when a broker is configured), a ``duplicate`` (its ``trade_id``
    was learned before: nothing changes) or ``rejected`` with the reason and detail. Invalid
    outcomes do not fail the others. More than 1,000 in one request answer 413."""
    items = [body] if isinstance(body, dict) else body
    if len(items) > settings.max_batch:
        raise HTTPException(
            413, f"{len(items)} outcomes in one request; at most {settings.max_batch}"
        )
    results = await run_in_threadpool(feedback.submit, items)
    if feedback.in_process:
        for item, result in zip(items, results, strict=True):
            if result.status == "accepted":
                hub.outcome_recorded(_outcome_frame(item))
    return {"results": [result.to_dict() for result in results]}
