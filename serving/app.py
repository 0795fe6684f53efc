"""The serving API: ``create_app(settings)`` builds the FastAPI app, ``lifespan`` wires it.

What the lifespan puts on ``app.state`` (routers read it through :mod:`serving.deps`):

========================  =====================================================================
``settings``              :class:`~serving.settings.ServingSettings`
``api_keys``              :class:`~serving.auth.ApiKeys` (set by ``create_app``)
``metrics``               :class:`~serving.metrics.ServingMetrics` (set by ``create_app``)
``store``                 the migrated :class:`~online_learning.metrics_store.MetricsStore`
``registry``              :class:`~online_learning.registry.MlflowRegistry`
``known_models``          :class:`~online_learning.registry.known.KnownModels` (the model list)
``definitions``           each champion version's definition, read once
``feedback``              :class:`~online_learning.feedback.service.FeedbackService`: learns
                          in-process without ``KAFKA_BOOTSTRAP_SERVERS``, else hands outcomes
                          to the feedback workers through ``trade-outcomes``
``holder``, ``service``   the champions and the ``ModelServingService`` over them
``predictor``             what ``POST /predictions`` calls (the micro-batcher or the service)
``hub``                   the ``StreamHub`` of the WebSocket streams
``hotswap``               :class:`~serving.hotswap.HotSwap` (events and the registry poll)
``ready``                 True once the champions are loaded (``GET /ready``)
========================  =====================================================================
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from serving import api_docs, dashboard, errors, streaming
from serving.limits import HeaderLimitMiddleware
from serving.metrics import RequestMetricsMiddleware, ServingMetrics
from serving.schemas import DOCUMENTED, add_schemas
from serving.settings import API_PREFIX, ServingSettings, get_settings
from serving.success import SuccessCollector, SuccessMetrics

__all__ = ["API_PREFIX", "create_app"]

logger = logging.getLogger(__name__)


def _replica_name(settings: ServingSettings) -> str:
    return settings.replica or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the stores, load the champions, start the hub and the hot swap; undo on exit."""
    from online_learning.feedback.regime import RegimeClassifier
    from online_learning.feedback.service import FeedbackService
    from online_learning.metrics_store import MetricsStore
    from online_learning.prediction import ChampionHolder, ModelServingService
    from online_learning.prediction.single import SingleModels
    from online_learning.registry import MlflowRegistry
    from online_learning.registry.known import KnownModels
    from serving.batcher import MicroBatcher
    from serving.hotswap import HotSwap
    from serving.streaming import StreamHub

    state = app.state
    settings: ServingSettings = state.settings
    _torch_threads()
    if settings.replica is None:  # one name for the hub's frames and the consumer group
        settings = state.settings = settings.model_copy(update={"replica": _replica_name(settings)})
    state.ready = False
    state.replica = settings.replica
    store = MetricsStore.from_settings(settings)
    await run_in_threadpool(store.migrate)
    registry = MlflowRegistry.from_settings(settings)
    known = KnownModels(registry.list_models)
    hub = StreamHub.from_settings(settings)
    producer = None
    if settings.kafka_bootstrap_servers:
        from online_learning.events.producers import KafkaOutcomeProducer

        producer = KafkaOutcomeProducer(
            settings.kafka_bootstrap_servers, settings.trade_outcomes_topic
        )

    def on_drift(event) -> None:  # from the thread that recorded the drift
        hub.drift_detected_threadsafe(dataclasses.asdict(event))

    feedback = FeedbackService(
        store=store,
        producer=producer,
        known_model_ids=known,
        on_drift=on_drift if producer is None else None,
        drift_cooldown=timedelta(seconds=settings.drift_cooldown_s),
        drift_topic=settings.model_drift_topic,
    )
    state.store, state.registry, state.known_models = store, registry, known
    state.definitions = {}  # a champion version's definition, read once (see routers/models)
    state.feedback, state.hub = feedback, hub

    ensemble = settings.serving_models
    if ensemble is None:
        from online_learning.configuration import load_configuration

        ensemble = load_configuration().ensemble
    holder = ChampionHolder(registry, model_ids=tuple(ensemble))
    service = ModelServingService(
        holder=holder,
        sessions=feedback,
        store=store,
        strategy=settings.strategy,
        regime=RegimeClassifier(),
    )
    state.holder, state.service = holder, service
    # Models asked for by id: loaded on first use, swapped when their alias moves.
    state.single = SingleModels(registry, ttl_s=settings.registry_poll_s)
    single = state.single

    def serving_champions() -> list:
        return [c.served() for c in holder.current] + single.served()

    state.success = SuccessMetrics(store, serving_champions)
    state.metrics.success = SuccessCollector(state.success)
    batcher = None
    if settings.micro_batch_ms >= 0:
        batcher = MicroBatcher(service, window_ms=settings.micro_batch_ms, metrics=state.metrics)
    state.predictor = batcher or service
    hotswap = None
    try:
        loaded = await run_in_threadpool(_load, holder)
        state.ready = loaded
        loop = asyncio.get_running_loop()

        def loaded_now() -> None:  # from the hot swap's thread
            loop.call_soon_threadsafe(setattr, state, "ready", True)

        hotswap = HotSwap(
            holder,
            interval_s=settings.registry_poll_s,
            on_loaded=loaded_now,
            on_swap=lambda model_id: state.metrics.swaps.labels(model_id).inc(),
            bootstrap_servers=settings.kafka_bootstrap_servers,
            topic=settings.model_updates_topic,
            group=f"online-learning-serving-{state.replica}",
            is_loaded=loaded,
            upkeep=service.refresh_caches,
        ).start()
        state.hotswap = hotswap
        await hub.start()
        _freeze_heap()
        yield
    finally:
        state.ready = False
        if hotswap is not None:
            await run_in_threadpool(hotswap.stop)
        if batcher is not None:
            await batcher.close()
        await run_in_threadpool(service.close)
        await hub.stop()
        if producer is not None:
            await run_in_threadpool(producer.close)
        store.dispose()


def _freeze_heap() -> None:
    """Move everything loaded at start (torch, MLflow, Prefect, pandas: ~560k objects) out of
    the garbage collector's reach. A full collection of that heap took 0.9 s here and stalled
    every request in flight: it was the ~430 ms p99 of ``POST /predictions``; after the
    freeze a full collection takes 0.1 ms (it only scans what was allocated since)."""
    import gc

    gc.collect()
    gc.freeze()


def _torch_threads() -> None:
    """One intra-op thread (``ONLINE_LEARNING_TORCH_THREADS``, as the CLI): a forward of a few
    rows gains nothing from more, and with two threads on a busy 2-core machine the
    stacked forward of one request took ~10 ms instead of ~0.1 ms (measured here)."""
    import torch

    torch.set_num_threads(int(os.environ.get("ONLINE_LEARNING_TORCH_THREADS", "1")))


def _load(holder) -> bool:
    from online_learning.errors import OnlineLearningError

    try:
        holder.load()
    except OnlineLearningError as exc:  # none registered, or one failed to load
        logger.warning("%s (the registry poll keeps trying)", exc)
    return bool(holder.loaded)


def create_app(settings: ServingSettings | None = None) -> FastAPI:
    """The API app; ``settings`` default to :func:`serving.settings.get_settings`.

    Raises :class:`~online_learning.errors.ConfigError` for malformed API keys.
    """
    from serving.routers import ALL

    settings = settings or get_settings()
    app = FastAPI(
        title="online-learning serving API",
        version="1",
        summary="Predictions of the regime specialists and online sessions, update jobs, "
        "sessions, trade outcomes, drift.",
        description="Each operation's security requirement names the scope its key needs. "
        "The WebSocket stream of a symbol's predictions, drift events and outcomes "
        f"(`{API_PREFIX}/streaming/{{symbol}}`) is described by the AsyncAPI document "
        f"[`{API_PREFIX}/asyncapi.json`]({API_PREFIX}/asyncapi.json).",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # serving.api_docs: Swagger UI with its assets, no CDN
        redoc_url=None,
        # Each operation's id is its route's name (``list_models``), which the client's
        # table of operations names (online_learning_client._api.OPERATIONS).
        generate_unique_id_function=lambda route: route.name,
    )
    document = app.openapi

    def openapi() -> dict[str, Any]:
        """The generated document, with the schemas no route parameter declares."""
        if app.openapi_schema is None:
            add_schemas(document(), DOCUMENTED)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.settings = settings
    app.state.api_keys = settings.keys()
    app.state.metrics = ServingMetrics()
    errors.install(app)
    for router in ALL:
        app.include_router(router)
    app.include_router(streaming.router)
    app.include_router(dashboard.router)
    app.include_router(api_docs.router)
    # Inside the metrics (added first: the last added runs first), so 431s are counted.
    app.add_middleware(
        HeaderLimitMiddleware,
        max_count=settings.max_header_count,
        max_bytes=settings.max_header_bytes,
    )
    app.add_middleware(
        RequestMetricsMiddleware,
        metrics=app.state.metrics,
        max_body_bytes=settings.max_body_bytes,
    )
    return app
