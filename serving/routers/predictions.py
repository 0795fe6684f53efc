"""``POST /predictions``: the champions' ensemble (and the symbol's online session) for
trading agents, one request or a batch.

``async def`` and inline on the event loop: one prediction is a few hundred microseconds of
torch and River, cheaper than a thread hop. Single requests go through the micro-batcher
(:mod:`serving.batcher`), a batch request is one ``predict_many``. Every served prediction
is counted per component and handed to the stream hub.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from online_learning.errors import OnlineLearningError
from online_learning.prediction import Prediction, features_from_bars
from serving.deps import PredictScope, get_predictor
from serving.errors import status_of
from serving.schemas import (
    BarsRequest,
    BatchRequest,
    FeaturesRequest,
    PredictionBatchPublic,
    PredictionRequest,
    errors,
)
from serving.settings import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["predictions"])


def _from_bars(item: BarsRequest) -> dict[str, float]:
    return features_from_bars([bar.model_dump() for bar in item.bars])


def _features_of(
    items: list[FeaturesRequest | BarsRequest], index: list[int]
) -> list[dict[str, float]]:
    """Features of each item; raises HTTPException naming the first item that fails."""
    out = []
    for i, item in zip(index, items, strict=True):
        try:
            out.append(item.features if isinstance(item, FeaturesRequest) else _from_bars(item))
        except OnlineLearningError as exc:
            raise HTTPException(status_of(exc) or 422, f"requests[{i}]: {exc}") from exc
    return out


def _json(data: Any) -> Response:
    # Serialised inline and returned as a Response, so FastAPI skips its response_model pass
    # (validating and serialising the answer again); the body is the declaration's to_dict().
    return Response(
        orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )


@router.post(
    "/predictions",
    response_model=Prediction | PredictionBatchPublic,
    responses={
        200: {"description": "One prediction (single request) or {predictions: [...]} (batch)"},
        **errors(404, 413),  # 404: a model_id with no champion
    },
    summary="Predict the next day's direction of a symbol",
)
async def predict(
    body: Annotated[PredictionRequest, Body()], _: PredictScope, request: Request
) -> Response:
    """``{"symbol", "features"}`` (exactly the features ``GET /models`` names, finite),
    ``{"symbol", "bars"}`` (recent daily bars, oldest first: the server computes the features
    with the training code; 422 says how many are needed) or ``{"requests": [...]}`` of
    either (at most 1,000: 413). With ``model_id``, that registered model answers alone: from
    bars the server computes its own features and sequence (422 says how many bars it needs);
    features must be exactly its own (a model that reads sequences takes bars only). Each
    prediction echoes the ``features`` it was computed from (for bars: the server's, what a
    trade outcome must carry) and names its components (batch champions and the online
    session), their versions and weights, and the checkpoint's age."""
    # The hot path reads app.state itself: each FastAPI dependency costs ~10-20 us a request.
    state = request.app.state
    predictor = await get_predictor(request)
    hub, metrics = state.hub, state.metrics
    if not isinstance(body, BatchRequest) and body.model_id is not None:
        served = (await _by_model_id(state, [body], [0]))[0]
        metrics.observe_prediction(served)
        hub.prediction_served(served)
        return _json(served)
    if isinstance(body, BatchRequest):
        return _json({"predictions": await _batch(body, state, predictor)})
    if isinstance(body, BarsRequest):
        # 10-20 ms of pandas for a new history: off the event loop (features stay inline).
        features = await run_in_threadpool(_from_bars, body)
    else:
        features = body.features
    prediction = predictor.predict(body.symbol, features, strategy=body.strategy)
    if inspect.isawaitable(prediction):  # the micro-batcher
        prediction = await prediction
    served = prediction.to_dict()
    metrics.observe_prediction(served)
    hub.prediction_served(served)
    return _json(served)


async def _by_model_id(state, items: list, index: list[int]) -> list[dict]:
    """Items that name a model: each answered by that model alone, its own features and
    sequence (its champion is loaded on first use, off the event loop)."""
    single = state.single
    out = []
    for i, item in zip(index, items, strict=True):
        where = "" if len(items) == 1 and i == 0 else f"requests[{i}]: "
        try:
            served = single.cached(item.model_id)
            if served is None:
                served = await run_in_threadpool(single.get, item.model_id)
            if isinstance(item, BarsRequest):
                bars = [bar.model_dump() for bar in item.bars]
                x, features = await run_in_threadpool(served.from_bars, bars)
            else:
                x, features = served.from_features(item.features), item.features
            strategy = item.strategy or state.settings.strategy
            out.append(served.predict(item.symbol, x, features, strategy).to_dict())
        except OnlineLearningError as exc:
            raise HTTPException(status_of(exc) or 422, f"{where}{exc}") from exc
    return out


async def _batch(body: BatchRequest, state, predictor) -> list[dict]:
    hub, metrics, settings = state.hub, state.metrics, state.settings
    if len(body.requests) > settings.max_batch:
        raise HTTPException(
            413, f"{len(body.requests)} requests in one batch; at most {settings.max_batch}"
        )
    results: list[Any] = [None] * len(body.requests)
    named = [i for i, item in enumerate(body.requests) if item.model_id is not None]
    if named:
        by_model = await _by_model_id(state, [body.requests[i] for i in named], named)
        for i, data in zip(named, by_model, strict=True):
            results[i] = data
    index = [i for i, item in enumerate(body.requests) if item.model_id is None]
    items = [body.requests[i] for i in index]
    if any(isinstance(item, BarsRequest) for item in items):
        features = await run_in_threadpool(_features_of, items, index)
    else:
        features = _features_of(items, index)
    rows = [(item.symbol, f) for item, f in zip(items, features, strict=True)]
    strategies = [item.strategy for item in items]
    for strategy in dict.fromkeys(strategies):
        chosen = [k for k, s in enumerate(strategies) if s == strategy]
        try:
            served = predictor.predict_many([rows[k] for k in chosen], strategy=strategy)
        except OnlineLearningError:
            served = [_one(predictor, rows[k], strategy, index[k]) for k in chosen]
        for k, prediction in zip(chosen, served, strict=True):
            results[index[k]] = prediction.to_dict()
    for data in results:
        metrics.observe_prediction(data)
        hub.prediction_served(data)
    return results


def _one(predictor, row, strategy, i: int):
    """Find the row that failed the batch, to name it in the error."""
    try:
        return predictor.predict_many([row], strategy=strategy)[0]
    except OnlineLearningError as exc:
        raise HTTPException(status_of(exc) or 422, f"requests[{i}]: {exc}") from exc
