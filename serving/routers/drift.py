"""``/drift``: the detectors of every watched model and symbol, and the drift records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from serving.deps import Feedback, PredictScope
from serving.schemas import ERRORS, DriftRecordPublic, DriftStatusPublic, ModelId, Symbol, finite
from serving.settings import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/drift", tags=["drift"])


@router.get("/status", response_model=list[DriftStatusPublic], responses=ERRORS)
def drift_status(_: PredictScope, feedback: Feedback) -> list[dict]:
    """Per watched (model, symbol): detector states, last detection, adaptation state."""
    return [finite(status.to_dict()) for status in feedback.drift_status()]


@router.get("/history", response_model=list[DriftRecordPublic], responses=ERRORS)
def drift_history(
    _: PredictScope,
    feedback: Feedback,
    model_id: Annotated[ModelId | None, Query()] = None,
    symbol: Annotated[Symbol | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict]:
    """The latest drift records, newest first."""
    records = feedback.drift_history(model_id=model_id, symbol=symbol, limit=limit)
    return [
        {
            "drift_id": r.drift_id,
            "model_id": r.model_id,
            "symbol": r.symbol,
            "reason": r.reason,
            "detectors": list(r.detectors),
            "statistics": finite(dict(r.statistics)),
            "n_outcomes": r.n_outcomes,
            "detected_at": r.detected_at.isoformat(),
            "adaptation_requested": r.adaptation_requested,
            "prefect_status": r.prefect_status,
        }
        for r in records
    ]
