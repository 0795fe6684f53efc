"""The SDK's stream against the real app: frames, resume after a dropped socket, restarts."""

from __future__ import annotations

import asyncio

import pytest

from online_learning.prediction import features_from_bars
from online_learning_client import AsyncClient, AuthenticationError
from tests.serving.client.helpers import bars_of
from tests.utils.api_keys import TRADER, UNKNOWN

TIMEOUT = 30


async def _next(stream, kind: str | None = None) -> dict:
    """The next frame (of ``kind``), or fail after TIMEOUT seconds."""
    while True:
        frame = await asyncio.wait_for(anext(stream), TIMEOUT)
        if kind is None or frame["type"] == kind:
            return frame


def test_stream_delivers_its_symbols_predictions_in_sequence(live, market_prices):
    features = {s: features_from_bars(bars_of(market_prices, s)) for s in ("SIM0", "SIM1")}

    async def scenario() -> None:
        client = AsyncClient(live.url, TRADER)
        async with client, client.stream("SIM0", control=True) as stream:
            hello = await _next(stream, "hello")
            served = []
            for _ in range(3):
                await client.predict("SIM1", features=features["SIM1"])  # not ours
                served.append(await client.predict("SIM0", features=features["SIM0"]))
            frames = [await _next(stream) for _ in served]
        assert hello["symbol"] == "SIM0" and hello["seq"] == 0
        assert [f["type"] for f in frames] == ["prediction"] * 3
        assert [f["prediction_id"] for f in frames] == [p.prediction_id for p in served]
        assert [f["seq"] for f in frames] == [1, 2, 3]
        assert {f["symbol"] for f in frames} == {"SIM0"}
        assert stream.last_seq == 3

    asyncio.run(scenario())


def test_stream_resumes_after_a_dropped_socket_without_loss_or_duplicates(live, market_prices):
    features = features_from_bars(bars_of(market_prices, "SIM0"))

    async def scenario() -> None:
        async with AsyncClient(live.url, TRADER) as client:
            # backoff 1 s: the reconnection waits 0.5-1 s, while two predictions are served.
            stream = client.stream("SIM0", control=True, backoff_s=1.0)
            async with stream:
                await _next(stream, "hello")
                first = [await client.predict("SIM0", features=features) for _ in range(2)]
                seen = [await _next(stream, "prediction") for _ in first]
                stream._ws.transport.abort()  # the network drops the connection
                missed = [await client.predict("SIM0", features=features) for _ in range(2)]
                hello = await _next(stream, "hello")  # the reconnection
                replayed = [await _next(stream, "prediction") for _ in missed]
                live_frame = await client.predict("SIM0", features=features)
                after = await _next(stream, "prediction")
        assert [f["seq"] for f in seen] == [1, 2]
        # The server had served 3 and 4 before the client was back: they came as a replay.
        assert hello["seq"] >= 4
        assert [f["prediction_id"] for f in replayed] == [p.prediction_id for p in missed]
        assert [f["seq"] for f in replayed] == [3, 4]
        assert (after["seq"], after["prediction_id"]) == (5, live_frame.prediction_id)
        assert stream.connections == 2 and stream.duplicates == 0

    asyncio.run(scenario())


def test_stream_reconnects_to_a_restarted_server_and_says_the_numbering_restarted(
    live, market_prices
):
    features = features_from_bars(bars_of(market_prices, "SIM0"))

    async def scenario() -> None:
        async with AsyncClient(live.url, TRADER) as client:
            # since=0: the replica's buffer first, so frames served before the socket opens count.
            stream = client.stream("SIM0", since=0, backoff_s=0.2, max_backoff_s=1.0)
            async with stream:
                served = [await client.predict("SIM0", features=features) for _ in range(2)]
                before = [await _next(stream, "prediction") for _ in served]
                replica = stream.replica
                await asyncio.to_thread(live.restart)  # the old replica's frames are gone
                reset = await _next(stream)
                after_restart = await client.predict("SIM0", features=features)
                frame = await _next(stream, "prediction")
        assert [f["seq"] for f in before] == [1, 2]
        assert reset["type"] == "reset"
        assert (reset["previous_replica"], reset["last_seq"]) == (replica, 2)
        assert reset["epoch"] is not None and reset["epoch"] != reset["previous_epoch"]
        assert stream.replica == reset["replica"]
        assert (frame["seq"], frame["prediction_id"]) == (1, after_restart.prediction_id)
        assert stream.connections >= 2

    asyncio.run(scenario())


def test_stream_with_a_wrong_key_fails_at_once_without_retrying(live):
    async def scenario() -> None:
        async with AsyncClient(live.url, UNKNOWN) as client:
            stream = client.stream("SIM0", max_retries=None)  # would retry forever otherwise
            with pytest.raises(AuthenticationError) as info:
                await asyncio.wait_for(anext(stream), TIMEOUT)
            assert info.value.status == 403
            await stream.aclose()

    asyncio.run(scenario())
