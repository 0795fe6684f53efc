"""``POST /feedback/outcomes``: realised trade outcomes (schema v1), idempotent on ``trade_id``."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from online_learning.metrics_store.errors import StoreError
from serving.deps import Feedback, FeedbackScope, Hub, Settings
from serving.schemas import OutcomeResults, errors
from serving.settings import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/feedback", tags=["feedback"])
logger = logging.getLogger(__name__)

#: Outcomes are validated one by one (each gets its own verdict, an invalid one never fails
#: the others), so the body is parsed by the worker's parser, not by FastAPI; the document
#: declares it as ``TradeOutcome`` (``serving.schemas``), alone or in a list.
_OUTCOME = {"$ref": "#/components/schemas/TradeOutcome"}


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


_FIELDS = frozenset({"schema_version", "trade_id", "symbol", "timestamp", "model_id",
                     "prediction_id", "features", "prediction", "position", "realized_return",
                     "pnl"})  # fmt: skip


def field_of(reason: str, detail: str) -> str:
    """The field a rejection is about (its detail starts with it), else ``body``.

    Examples
    --------
    >>> field_of("invalid_field", "trade_id holds the control character U+0000 at position 5")
    'trade_id'
    >>> field_of("non_finite", "feature 'ret_1' must be finite, got nan")
    'features'
    >>> field_of("invalid_field", "prediction.components[0].p_up must be a number in [0, 1]")
    'prediction'
    >>> field_of("unknown_model", "no model 'ghost' exists"), field_of("malformed_json", "x")
    ('model_id', 'body')
    """
    if reason == "unknown_model":
        return "model_id"
    if reason == "future_timestamp":
        return "timestamp"
    first = detail.split(" ", 1)[0].split(".", 1)[0]
    if first == "feature" or reason == "wrong_features":
        return "features"
    return first if first in _FIELDS else "body"


def _submit(feedback, shadow, items: list) -> list:
    """Learn (or hand over) the outcomes; those of a served prediction also settle its
    champion/challenger shadow row (the realised return of the side that was not served)."""
    results = feedback.submit(items)
    if shadow is not None:
        accepted = [
            item
            for item, result in zip(items, results, strict=True)
            if result.status == "accepted" and item.get("prediction_id")
        ]
        if accepted:
            try:
                shadow.attach_outcomes(accepted)
            except StoreError as exc:  # the outcomes are learned: their verdicts must go back
                logger.warning("could not settle shadow predictions: %s", exc)
    return results


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
                            _OUTCOME,
                            {
                                "type": "array",
                                "items": _OUTCOME,
                                "maxItems": 1000,
                                "description": "At most 1,000 outcomes (more: 413), each "
                                "answered on its own: an item that is no object, or not a "
                                "valid outcome, is answered `rejected` with its reason.",
                            },
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
    request: Request,
) -> dict:
    """Each outcome is ``accepted`` (learned and recorded before the answer, or handed to the
    symbol's feedback worker when a broker is configured), a ``duplicate`` (its ``trade_id``
    was learned before: nothing changes) or ``rejected`` with the reason and detail. Invalid
    outcomes of a list do not fail the others; one posted alone (an object, not a list) that
    is rejected answers 422 naming the field (``loc``), its reason (``type``) and the detail
    (``msg``): a client must not retry it. More than 1,000 in one request answer 413."""
    items = [body] if isinstance(body, dict) else body
    service = getattr(request.app.state, "service", None)
    shadow = getattr(service, "shadow", None)
    if len(items) > settings.max_batch:
        raise HTTPException(
            413, f"{len(items)} outcomes in one request; at most {settings.max_batch}"
        )
    results = await run_in_threadpool(_submit, feedback, shadow, items)
    if feedback.in_process:
        for item, result in zip(items, results, strict=True):
            if result.status == "accepted":
                hub.outcome_recorded(_outcome_frame(item))
    if isinstance(body, dict) and results[0].status == "rejected":
        rejected = results[0]
        issue = {"loc": [field_of(rejected.reason, rejected.detail)], "msg": rejected.detail,
                 "type": rejected.reason}  # fmt: skip
        return JSONResponse({"detail": [issue]}, status_code=422)
    return {"results": [result.to_dict() for result in results]}
