"""Slow subscribers: their queue coalesces predictions and keeps drift and outcomes; one
that stays behind is closed with 4008 and counted, and never delays the others or the API."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from prometheus_client import REGISTRY
from websockets.exceptions import ConnectionClosed

from serving.streaming import CLOSE_SLOW
from serving.streaming.frames import Frame
from serving.streaming.subscriber import Subscriber
from tests.serving.streaming.events import drift_event, prediction, trade_outcome
from tests.serving.streaming.helpers import frames, open_stream, serving, small_buffer_socket
from tests.utils.api_keys import AGENT


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def frame(seq: int, kind: str = "prediction") -> Frame:
    return Frame(seq, kind, f'{{"seq":{seq}}}')


def test_a_full_queue_keeps_the_latest_prediction_and_every_drift_and_outcome():
    sub = Subscriber("AAA", queue_size=4, max_behind_s=5.0, clock=Clock())
    for seq, kind in [(1, "prediction"), (2, "drift"), (3, "prediction"), (4, "outcome")]:
        assert sub.offer(frame(seq, kind))
    before = metric("online_learning_stream_frames_coalesced_total")
    assert sub.offer(frame(5))  # full: predictions 1 and 3 give way to 5
    assert [(f.seq, f.kind) for f in sub.queue] == [(2, "drift"), (4, "outcome"), (5, "prediction")]
    assert sub.offer(frame(6, "drift"))  # fits
    assert sub.offer(frame(7))  # full: 5 gives way to 7, the news stays
    assert [f.seq for f in sub.queue] == [2, 4, 6, 7]
    assert sub.coalesced == 3
    assert metric("online_learning_stream_frames_coalesced_total") - before == 3
    assert sub.behind_since == 0.0
    # news arriving at a queue of news and the latest prediction: nothing can give way
    assert not sub.offer(frame(8, "outcome"))

    # news arriving at a queue of predictions: the latest prediction stays, before the news
    sub = Subscriber("AAA", queue_size=3, max_behind_s=5.0, clock=Clock())
    for seq in (1, 2, 3):
        sub.offer(frame(seq))
    assert sub.offer(frame(4, "drift"))
    assert [(f.seq, f.kind) for f in sub.queue] == [(3, "prediction"), (4, "drift")]


def test_a_subscriber_behind_for_too_long_or_full_of_news_must_be_closed():
    clock = Clock()
    sub = Subscriber("AAA", queue_size=2, max_behind_s=1.0, clock=clock)
    sub.offer(frame(1))
    sub.offer(frame(2))
    assert sub.offer(frame(3))  # behind from now on
    clock.now = 0.9
    assert sub.offer(frame(4))
    clock.now = 1.1
    assert not sub.offer(frame(5))  # behind for more than max_behind_s

    news = Subscriber("AAA", queue_size=2, max_behind_s=60.0, clock=clock)
    assert news.offer(frame(1, "drift")) and news.offer(frame(2, "outcome"))
    assert not news.offer(frame(3, "drift"))  # nothing may be coalesced away


@pytest.fixture
def server():
    with serving(
        queue_size=16, send_timeout_s=1.0, max_behind_s=0.5, close_timeout_s=30.0
    ) as server:
        yield server


def test_a_stalled_client_is_coalesced_then_closed_4008_while_a_fast_one_gets_everything(
    server,
):
    hub = server.app.state.hub
    slow_before = metric("online_learning_stream_slow_closed_total")
    coalesced_before = metric("online_learning_stream_frames_coalesced_total")
    dropped_before = metric("online_learning_stream_frames_dropped_total", reason="slow_close")

    async def scenario():
        fast = await open_stream(f"{server.url}/AAA")
        # stalled: a tiny receive buffer, and the client library stops reading after 1 frame
        stalled = await open_stream(
            f"{server.url}/AAA", sock=small_buffer_socket(server.port), max_queue=1
        )
        received: list[dict] = []

        async def read_fast():
            async for message in fast:
                received.append(json.loads(message))

        reader = asyncio.create_task(read_fast())
        served = 0
        pings = 0
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            while served < 3000:
                await server.acall(hub.prediction_served, prediction("AAA", padding=16_000))
                served += 1
                await asyncio.sleep(0.002)
                if hub.subscriber_count("AAA") == 1:
                    # the stalled client is out; the API answered all along
                    assert (await http.get("/ping")).json() == {"pong": True}
                    pings += 1
                    if pings == 50:
                        break
        assert hub.subscriber_count("AAA") == 1, "the stalled client was never closed"
        async with asyncio.timeout(20):
            while len(received) < served + 1:
                await asyncio.sleep(0.01)
        assert received[0]["type"] == "hello"
        assert [f["seq"] for f in received[1:]] == list(range(1, served + 1))

        # The stalled client reads again: the frames the socket held, then the close.
        got: list[dict] = []
        with pytest.raises(ConnectionClosed) as info:
            async with asyncio.timeout(30):
                while True:
                    got.append(json.loads(await stalled.recv()))
        assert info.value.rcvd is not None and info.value.rcvd.code == CLOSE_SLOW
        seqs = [f["seq"] for f in got[1:]]
        assert got[0]["type"] == "hello" and seqs == sorted(set(seqs))
        assert seqs[-1] < served
        reader.cancel()
        await fast.close()
        return served

    served = asyncio.run(scenario())
    assert metric("online_learning_stream_slow_closed_total") - slow_before == 1
    assert metric("online_learning_stream_frames_coalesced_total") - coalesced_before > 0
    assert (
        metric("online_learning_stream_frames_dropped_total", reason="slow_close") - dropped_before
        > 0
    )
    assert served < 3000


def test_a_client_that_reads_again_in_time_stays_connected(server):
    """Behind briefly (less than max_behind_s): coalesced, visible as a jump in seq, kept."""
    hub = server.app.state.hub

    async def scenario():
        ws = await open_stream(f"{server.url}/AAA", key=AGENT)
        await frames(ws, 1)
        # 40 predictions in one loop turn: more than the queue holds, before any is sent
        burst = [prediction("AAA") for _ in range(40)]
        await server.acall(lambda: [hub.prediction_served(p) for p in burst])
        got = []
        async with asyncio.timeout(5):
            while not got or got[-1]["seq"] < 40:
                got.append(json.loads(await ws.recv()))
        seqs = [f["seq"] for f in got]
        assert seqs[-1] == 40 and got[-1]["prediction_id"] == burst[-1]["prediction_id"]
        assert len(seqs) < 40  # some were coalesced away
        assert seqs == sorted(set(seqs))
        assert hub.subscriber_count("AAA") == 1
        await ws.close()

    asyncio.run(scenario())


def test_a_client_behind_loses_older_predictions_but_no_drift_or_outcome():
    """Stalled for a while, then reading again before the limits: every drift and outcome
    frame arrives, predictions are coalesced and the newest one is there."""
    coalesced_before = metric("online_learning_stream_frames_coalesced_total")
    with serving(queue_size=16, send_timeout_s=30.0, max_behind_s=30.0) as server:
        hub = server.app.state.hub

        async def scenario():
            stalled = await open_stream(
                f"{server.url}/AAA", sock=small_buffer_socket(server.port), max_queue=1
            )
            news: list[str] = []
            last = None
            for i in range(400):
                last = prediction("AAA", padding=16_000)
                await server.acall(hub.prediction_served, last)
                if i % 40 == 39:
                    drift = drift_event("AAA")
                    outcome = trade_outcome("AAA")
                    await server.acall(hub.drift_detected_threadsafe, drift)
                    await server.acall(hub.outcome_recorded, outcome)
                    news += [drift["event_id"], outcome["trade_id"]]
            assert metric("online_learning_stream_frames_coalesced_total") > coalesced_before
            got = []
            async with asyncio.timeout(30):
                while not got or got[-1].get("trade_id") != news[-1]:  # the last frame
                    got.append(json.loads(await stalled.recv()))
            assert last["prediction_id"] in {f.get("prediction_id") for f in got}
            seqs = [f["seq"] for f in got[1:]]
            assert seqs == sorted(set(seqs)) and len(seqs) < 420  # some were coalesced away
            streamed = [f.get("event_id") or f.get("trade_id") for f in got
                        if f["type"] in ("drift", "outcome")]  # fmt: skip
            assert streamed == news
            assert hub.subscriber_count("AAA") == 1  # behind, not closed
            await stalled.close()

        asyncio.run(scenario())
