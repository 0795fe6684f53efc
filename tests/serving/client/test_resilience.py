"""The SDK when the platform is not (yet) well: 503 until champions exist, replay gaps, and the
async client's batch calls."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from online_learning.prediction import features_from_bars
from online_learning_client import AsyncClient, Client, RetryPolicy, ServerError
from online_learning_client.signals import SignalCombiner
from tests.serving.client.helpers import bars_of
from tests.utils.api_keys import OPS, TRADER
from tests.utils.live_server import LiveServer
from tests.utils.registries import register_specialists

TIMEOUT = 30


def test_reads_are_retried_through_503_until_the_champions_are_loaded(
    platform_settings, registry, market_prices
):
    """A replica without champions answers 503: a read (``ready``) is retried until the
    registry has them, a prediction (not idempotent) fails at once with the server's message."""
    server = LiveServer(platform_settings).start()  # the registry is empty
    try:
        with Client(server.url, TRADER, retry=RetryPolicy(retries=0)) as once:
            with pytest.raises(ServerError) as not_ready:
                once.ready()
            assert not_ready.value.status == 503 and "not ready" in not_ready.value.message
        patient = RetryPolicy(retries=40, backoff_s=0.2, max_backoff_s=0.5)
        with Client(server.url, TRADER, retry=patient) as client:
            began = time.monotonic()
            with pytest.raises(ServerError) as refused:
                client.predict("SIM0", features=features_from_bars(bars_of(market_prices, "SIM0")))
            assert refused.value.status == 503
            assert time.monotonic() - began < 1.0  # sent once, not retried
            versions: dict[str, str] = {}
            late = threading.Timer(1.0, lambda: versions.update(register_specialists(registry)))
            late.start()
            began = time.monotonic()
            ready = client.ready()  # 503, 503, ... then 200 once the poll loaded them
            late.join()
        assert time.monotonic() - began >= 1.0
        # Ready from the first champion loaded (the others follow at the next polls).
        assert ready.champions and ready.champions.items() <= versions.items()
    finally:
        server.stop()


def test_a_resume_beyond_the_replay_buffer_yields_a_gap_then_the_newest_frames(
    platform_settings, feature_champions, market_prices
):
    settings = platform_settings.model_copy(update={"stream_replay_size": 3})
    server = LiveServer(settings).start()
    features = features_from_bars(bars_of(market_prices, "SIM0"))

    async def scenario() -> None:
        async with AsyncClient(server.url, TRADER) as client:
            # backoff 2 s: the reconnection waits 1-2 s, while six predictions are served.
            stream = client.stream("SIM0", control=True, backoff_s=2.0)
            async with stream:
                await asyncio.wait_for(anext(stream), TIMEOUT)  # hello
                await client.predict("SIM0", features=features)
                first = await asyncio.wait_for(anext(stream), TIMEOUT)
                stream._ws.transport.abort()
                missed = [await client.predict("SIM0", features=features) for _ in range(6)]
                frames = [await asyncio.wait_for(anext(stream), TIMEOUT) for _ in range(5)]
        assert first["seq"] == 1
        hello, gap, *replayed = frames
        assert hello["type"] == "hello" and hello["seq"] == 7
        # Frames 2-4 left the three-frame buffer: said as a gap, then 5-7 replayed.
        assert (gap["type"], gap["from"], gap["to"]) == ("gap", 2, 4)
        assert [f["seq"] for f in replayed] == [5, 6, 7]
        assert [f["prediction_id"] for f in replayed] == [p.prediction_id for p in missed[-3:]]
        assert stream.last_seq == 7

    try:
        asyncio.run(scenario())
    finally:
        server.stop()


def test_async_client_batches_and_sessions(live, market_prices):
    rows = [(s, features_from_bars(bars_of(market_prices, s))) for s in ("SIM0", "SIM1", "SIM2")]

    async def scenario() -> None:
        async with AsyncClient(live.url, TRADER) as client, AsyncClient(live.url, OPS) as ops:
            session = await ops.start_session("SIM2", model_type="hoeffding_tree")
            # The bearer subprotocol (what browsers use) works as well as the header.
            stream = client.stream("SIM0", auth="subprotocol", since=0)
            predictions = await client.predict_many(rows)
            combiner = SignalCombiner(min_confidence=0.5)
            outcomes = [combiner.combine(p).outcome(0.002) for p in predictions]
            results = await client.post_outcomes(outcomes)
            again = await client.post_outcomes(outcomes)
            async with stream:
                frame = await asyncio.wait_for(anext(stream), TIMEOUT)
            sessions = {s.symbol: s for s in await client.sessions()}
            metrics = await client.session_metrics(session.session_id)
            online = await client.session_predict(session.session_id, rows[2][1])
        assert [p.symbol for p in predictions] == ["SIM0", "SIM1", "SIM2"]
        assert [r.status for r in results] == ["accepted"] * 3
        assert [r.status for r in again] == ["duplicate"] * 3
        assert (frame["type"], frame["prediction_id"]) == (
            "prediction", predictions[0].prediction_id
        )  # fmt: skip
        assert sessions["SIM2"].model_type == "hoeffding_tree"
        assert metrics.samples_seen == 1  # the started session learned SIM2's outcome
        assert 0.0 <= online.p_up <= 1.0

    asyncio.run(scenario())
