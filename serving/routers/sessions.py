"""``/sessions``: online (River) sessions per symbol: start, list, metrics, predict."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path

from online_learning.execution import position_from_p_up
from online_learning.feedback.session_config import SessionConfig
from serving.deps import Admin, Feedback, PredictScope
from serving.schemas import (
    SessionMetricsPublic,
    SessionPredictionPublic,
    SessionPredictRequest,
    SessionStartRequest,
    errors,
    finite,
)
from serving.settings import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/sessions", tags=["sessions"])
SessionId = Annotated[str, Path(min_length=1, max_length=200)]


def _public(metrics, checkpoint_age_s: float | None) -> dict:
    return finite({**metrics.to_dict(), "checkpoint_age_s": checkpoint_age_s})


@router.post(
    "/start",
    status_code=201,
    response_model=SessionMetricsPublic,
    responses=errors(409),
    summary="Start the online session of a symbol",
)
def start_session(body: SessionStartRequest, _: Admin, feedback: Feedback) -> dict:
    """409 when the symbol already has an active session; 422 for hyperparameters the model
    type does not have."""
    data = {"model_type": body.model_type, "params": body.hyperparameters or {}}
    if body.feature_names is not None:
        data["feature_names"] = body.feature_names
    if body.metrics_window is not None:
        data["metrics_window"] = body.metrics_window
    metrics = feedback.start_session(body.symbol, SessionConfig.from_dict(data))
    return _public(metrics, 0.0)


@router.get("", response_model=list[SessionMetricsPublic], responses=errors())
def list_sessions(_: PredictScope, feedback: Feedback) -> list[dict]:
    """Every active session (live for the ones this process learns, else as of their latest
    checkpoint)."""
    return [_public(m, None) for m in feedback.list_sessions()]


@router.get("/{session_id}/metrics", response_model=SessionMetricsPublic, responses=errors(404))
def session_metrics(session_id: SessionId, _: PredictScope, feedback: Feedback) -> dict:
    metrics, age = feedback.session_snapshot(session_id)
    return _public(metrics, age)


@router.post("/{session_id}/predict", response_model=SessionPredictionPublic, responses=errors(404))
def session_predict(
    session_id: SessionId, body: SessionPredictRequest, _: PredictScope, feedback: Feedback
) -> dict:
    """``p_up`` of the session alone for one row of its features (exactly its
    ``feature_names``: 422 otherwise)."""
    found = feedback.predict(session_id, body.features)
    return {
        **found.to_dict(),
        "direction": "up" if found.p_up >= 0.5 else "down",
        "position": position_from_p_up(found.p_up),
        "served_at": datetime.now(UTC).isoformat(),
    }
