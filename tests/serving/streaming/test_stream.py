"""Symbol streams through a real uvicorn server: frames, sequence numbers, replay and gaps."""

from __future__ import annotations

import asyncio
import threading

import pytest

from online_learning.events.schema import ModelDriftEvent
from serving.streaming import StreamHub
from tests.serving.streaming.events import drift_event, prediction, trade_outcome
from tests.serving.streaming.helpers import frames, no_frame, open_stream, serving
from tests.utils.live_server import LiveServer


@pytest.fixture
def server():
    with serving(replay_size=4, auth_recheck_s=0.2) as server:
        yield server


def serve(server: LiveServer, *predictions: dict) -> None:
    for p in predictions:
        server.call(server.app.state.hub.prediction_served, p)


def test_a_subscriber_gets_its_symbol_numbered_from_one_and_nothing_of_others(server):
    async def scenario():
        aaa = await open_stream(f"{server.url}/AAA")
        bbb = await open_stream(f"{server.url}/BBB")
        hello_a, hello_b = (await frames(aaa, 1))[0], (await frames(bbb, 1))[0]
        assert hello_a == {
            "type": "hello",
            "symbol": "AAA",
            "seq": 0,
            "replica": "replica-1",
            "epoch": server.app.state.hub.epoch,
        }
        assert hello_b["symbol"] == "BBB" and hello_b["seq"] == 0
        sent = [prediction("AAA", 0.6), prediction("BBB", 0.4), prediction("AAA", 0.7)]
        serve(server, *sent)
        got = await frames(aaa, 2)
        assert [f["seq"] for f in got] == [1, 2]
        assert [f["prediction_id"] for f in got] == [
            sent[0]["prediction_id"],
            sent[2]["prediction_id"],
        ]
        assert all(f["type"] == "prediction" and f["symbol"] == "AAA" for f in got)
        # the whole prediction travels, with who served it
        assert got[1]["p_up"] == 0.7 and got[1]["components"] == sent[2]["components"]
        assert got[1]["served_by"] == "replica-1"
        (b,) = await frames(bbb, 1)
        assert b["seq"] == 1 and b["prediction_id"] == sent[1]["prediction_id"]
        assert await no_frame(aaa) and await no_frame(bbb)
        await aaa.close()
        await bbb.close()

    asyncio.run(scenario())


def test_a_reconnecting_client_gets_what_it_missed_then_the_live_frames(server):
    async def scenario():
        ws = await open_stream(f"{server.url}/AAA")
        await frames(ws, 1)
        first = [prediction("AAA") for _ in range(2)]
        serve(server, *first)
        seen = await frames(ws, 2)
        assert [f["seq"] for f in seen] == [1, 2]
        await ws.close()
        missed = [prediction("AAA") for _ in range(2)]
        serve(server, *missed)  # seq 3 and 4, while the client is away

        ws = await open_stream(f"{server.url}/AAA?since=2")
        hello, *replayed = await frames(ws, 3)
        assert hello["type"] == "hello" and hello["seq"] == 4
        assert [(f["seq"], f["prediction_id"]) for f in replayed] == [
            (3, missed[0]["prediction_id"]),
            (4, missed[1]["prediction_id"]),
        ]
        live = prediction("AAA")
        serve(server, live)
        (frame,) = await frames(ws, 1)
        assert (frame["seq"], frame["prediction_id"]) == (5, live["prediction_id"])
        assert await no_frame(ws)
        await ws.close()

        # up to date: nothing to replay
        ws = await open_stream(f"{server.url}/AAA?since=5")
        assert (await frames(ws, 1))[0]["seq"] == 5
        assert await no_frame(ws)
        await ws.close()

    asyncio.run(scenario())


def test_a_gap_frame_says_what_the_replay_buffer_no_longer_holds(server):
    serve(server, *[prediction("AAA") for _ in range(10)])  # the buffer keeps 7..10

    async def scenario():
        ws = await open_stream(f"{server.url}/AAA?since=2")
        hello, gap, *replayed = await frames(ws, 6)
        assert hello["seq"] == 10
        assert gap == {"type": "gap", "from": 3, "to": 6}
        assert [f["seq"] for f in replayed] == [7, 8, 9, 10]
        await ws.close()

        # a since from another numbering (a restarted replica) counts as 0
        ws = await open_stream(f"{server.url}/AAA?since=500")
        hello, gap, *replayed = await frames(ws, 6)
        assert gap == {"type": "gap", "from": 1, "to": 6}
        assert [f["seq"] for f in replayed] == [7, 8, 9, 10]
        await ws.close()

        # so does one of another epoch, even when it is not beyond the last seq
        epoch = server.app.state.hub.epoch
        ws = await open_stream(f"{server.url}/AAA?since=8&epoch=1")
        hello, gap, *replayed = await frames(ws, 6)
        assert hello["epoch"] == epoch and gap == {"type": "gap", "from": 1, "to": 6}
        assert [f["seq"] for f in replayed] == [7, 8, 9, 10]
        await ws.close()
        ws = await open_stream(f"{server.url}/AAA?since=8&epoch={epoch}")
        hello, *replayed = await frames(ws, 3)
        assert [f["seq"] for f in replayed] == [9, 10]
        await ws.close()

    asyncio.run(scenario())


def test_drift_from_any_thread_and_outcomes_are_frames_of_their_symbol(server):
    hub = server.app.state.hub

    async def scenario():
        ws = await open_stream(f"{server.url}/AAA")
        other = await open_stream(f"{server.url}/BBB")
        await frames(ws, 1)
        await frames(other, 1)
        as_dict = drift_event("AAA")
        as_event = ModelDriftEvent.from_dict(drift_event("AAA", model_id="bear_specialist"))

        def feedback_thread():  # FeedbackService(on_drift=...) calls from its own thread
            hub.drift_detected_threadsafe(as_dict)
            hub.drift_detected_threadsafe(as_dict)  # the same event again: one frame
            hub.drift_detected_threadsafe(as_event)

        worker = threading.Thread(target=feedback_thread)
        worker.start()
        worker.join()
        first, second = await frames(ws, 2)
        assert first["type"] == "drift" and first["seq"] == 1
        assert first["event_id"] == as_dict["event_id"]
        assert first["model_id"] == "bull_specialist" and first["detectors"] == ["page_hinkley"]
        assert second["seq"] == 2 and second["model_id"] == "bear_specialist"

        outcome = trade_outcome("AAA", position=0.5, realized=0.02)
        server.call(hub.outcome_recorded, outcome)
        (frame,) = await frames(ws, 1)
        assert frame == {
            "type": "outcome",
            "seq": 3,
            "trade_id": outcome["trade_id"],
            "symbol": "AAA",
            "model_id": "bull_specialist",
            "prediction_id": outcome["prediction_id"],
            "realized_return": 0.02,
            "pnl": pytest.approx(0.01),
            "position": 0.5,
            "timestamp": outcome["timestamp"],
        }
        assert await no_frame(ws) and await no_frame(other)
        await ws.close()
        await other.close()

    asyncio.run(scenario())


def test_an_evicted_symbol_keeps_its_numbering_and_says_what_it_lost():
    hub = StreamHub(replica_id="replica-1", max_buffered_symbols=2)
    for symbol in ("AAA", "BBB", "CCC"):  # AAA's buffer is the least recently active: evicted
        hub.prediction_served(prediction(symbol))
    assert hub.last_seq("AAA") == 1
    hub.prediction_served(prediction("AAA"))
    assert hub.last_seq("AAA") == 2  # never 1 again
    sub = hub.subscribe("AAA", since=0)
    kinds = [kind for kind, _ in sub.backlog]
    assert kinds == ["hello", "gap", "prediction"]
    assert '"from":1,"to":1' in sub.backlog[1][1] and '"seq":2' in sub.backlog[2][1]
    hub.unsubscribe(sub, None)
    assert hub.subscriber_count() == 0


def test_without_a_replay_buffer_every_since_behind_gets_a_gap():
    hub = StreamHub(replica_id="replica-1", replay_size=0)
    for _ in range(3):
        hub.prediction_served(prediction("AAA"))
    sub = hub.subscribe("AAA", since=1)
    assert [kind for kind, _ in sub.backlog] == ["hello", "gap"]
    assert '"from":2,"to":3' in sub.backlog[1][1]
    hub.unsubscribe(sub, None)
