"""``/health``, ``/ready`` and ``/metrics``: open, for load balancers and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from serving.schemas import ErrorBody, Health, Ready
from serving.settings import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["health"])


@router.get("/health", response_model=Health, summary="The process answers")
async def health() -> dict:
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=Ready,
    summary="Ready when the champions are loaded",
    responses={503: {"model": ErrorBody, "description": "Not ready (no champions loaded)"}},
)
async def ready(request: Request):
    state = request.app.state
    if not getattr(state, "ready", False):
        return JSONResponse(
            {"detail": "not ready: the champions are not loaded"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    versions = state.holder.current.versions
    return {"status": "ready", "champions": {k: str(v) for k, v in versions.items()}}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    state = request.app.state
    store = getattr(state, "store", None)

    def history():
        return store.update_history(limit=1000) if store is not None else []

    body = state.metrics.render(history, textfile=state.settings.metrics_textfile)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
