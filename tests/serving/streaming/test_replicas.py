"""Streams across replicas through the real broker: two hubs, each behind its own uvicorn
server, share the predictions, drift events and trade outcomes of the topics."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from confluent_kafka import Producer

from tests.serving.streaming.events import drift_event, prediction, trade_outcome
from tests.serving.streaming.helpers import frames, no_frame, open_stream, serving


@pytest.fixture
def replicas(broker):
    servers = []
    for name in ("replica-1", "replica-2"):
        servers.append(serving(replica_id=name, bootstrap_servers=broker.bootstrap_servers).start())
    assert all(s.app.state.hub.bridged for s in servers), "bridges not live after start"
    yield servers
    for server in servers:
        server.stop()


def produce(broker, topic: str, key: str, value: dict) -> None:
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    producer.produce(topic, key=key.encode(), value=json.dumps(value).encode())
    assert producer.flush(10) == 0


def test_a_subscriber_on_one_replica_sees_what_another_served_exactly_once(replicas):
    one, two = replicas

    async def scenario():
        on_one = await open_stream(f"{one.url}/AAA")
        on_two = await open_stream(f"{two.url}/AAA")
        other_symbol = await open_stream(f"{one.url}/BBB")
        for ws in (on_one, on_two, other_symbol):
            await frames(ws, 1)
        # replica 1 already streamed a frame of AAA: the numbering is each replica's own
        await one.acall(one.app.state.hub.drift_detected_threadsafe, drift_event("AAA"))
        assert (await frames(on_one, 1))[0]["seq"] == 1

        served = prediction("AAA")
        started = time.monotonic()
        await two.acall(two.app.state.hub.prediction_served, served)
        (got,) = await frames(on_one, 1)
        latency = time.monotonic() - started
        assert got["type"] == "prediction" and got["prediction_id"] == served["prediction_id"]
        assert got["seq"] == 2 and got["served_by"] == "replica-2"
        # replica 2 fans out its own prediction from the topic too, once
        (own,) = await frames(on_two, 1)
        assert own["seq"] == 1 and own["prediction_id"] == served["prediction_id"]
        assert await no_frame(on_one, 1.0) and await no_frame(on_two, 0.1)
        assert await no_frame(other_symbol, 0.1)
        for ws in (on_one, on_two, other_symbol):
            await ws.close()
        return latency

    latency = asyncio.run(scenario())
    print(f"replica 2 -> broker -> replica 1 subscriber: {latency * 1000:.1f} ms")


def test_drift_and_outcomes_on_the_topics_reach_every_replica_once(replicas, broker):
    one, two = replicas

    async def scenario():
        on_one = await open_stream(f"{one.url}/CCC")
        on_two = await open_stream(f"{two.url}/CCC")
        await frames(on_one, 1)
        await frames(on_two, 1)
        drift = drift_event("CCC")
        # reported in-process on replica 1 (its FeedbackService) and relayed to the topic
        await one.acall(one.app.state.hub.drift_detected_threadsafe, drift)
        produce(broker, "model-drift", drift["model_id"], drift)
        outcome = trade_outcome("CCC", position=-0.5, realized=0.01)
        produce(broker, "trade-outcomes", "CCC", outcome)
        produce(broker, "trade-outcomes", "CCC", outcome)  # posted twice: streamed once
        produce(broker, "trade-outcomes", "CCC", {"symbol": "CCC"})  # not an outcome
        for ws in (on_one, on_two):
            # two topics: their frames may interleave either way on a replica
            got = {f["type"]: f for f in await frames(ws, 2)}
            assert sorted(f["seq"] for f in got.values()) == [1, 2]
            assert got["drift"]["event_id"] == drift["event_id"]
            assert got["outcome"]["trade_id"] == outcome["trade_id"]
            assert got["outcome"]["pnl"] == pytest.approx(-0.005)
            assert await no_frame(ws, 1.0)
            await ws.close()

    asyncio.run(scenario())


def test_without_a_live_bridge_predictions_fan_out_locally(broker):
    """A broker that cannot be reached: the replica still streams what it serves."""
    with serving(
        replica_id="lonely",
        bootstrap_servers="127.0.0.1:1",  # nothing listens there
        bridge_start_timeout_s=0.5,
        delivery_timeout_s=1.0,
    ) as server:
        hub = server.app.state.hub
        assert not hub.bridged

        async def scenario():
            ws = await open_stream(f"{server.url}/AAA")
            await frames(ws, 1)
            served = prediction("AAA")
            await server.acall(hub.prediction_served, served)
            (got,) = await frames(ws, 1)
            assert got["prediction_id"] == served["prediction_id"] and got["seq"] == 1
            # the broker never takes it; the failed delivery is not streamed a second time
            assert await no_frame(ws, 2.0)
            await ws.close()

        asyncio.run(scenario())


def test_a_broker_outage_delays_own_predictions_by_the_delivery_timeout_and_loses_none():
    from cli.broker import EmbeddedKafka

    with (
        EmbeddedKafka() as outage_broker,
        serving(
            bootstrap_servers=outage_broker.bootstrap_servers, delivery_timeout_s=1.0
        ) as server,
    ):
        hub = server.app.state.hub
        assert hub.bridged

        async def scenario():
            ws = await open_stream(f"{server.url}/AAA")
            await frames(ws, 1)
            before = prediction("AAA")
            await server.acall(hub.prediction_served, before)
            (got,) = await frames(ws, 1)  # through the topic
            assert (got["seq"], got["prediction_id"]) == (1, before["prediction_id"])

            outage_broker.stop()
            during = [prediction("AAA") for _ in range(3)]
            started = time.monotonic()
            for p in during:
                await server.acall(hub.prediction_served, p)
            got = await frames(ws, 3, timeout=15)  # handed back undelivered, then local
            waited = time.monotonic() - started
            assert [f["prediction_id"] for f in got] == [p["prediction_id"] for p in during]
            assert [f["seq"] for f in got] == [2, 3, 4]
            assert await no_frame(ws, 1.5)  # none twice
            await ws.close()
            return waited

        waited = asyncio.run(scenario())
        print(f"own predictions during the outage streamed after {waited:.1f} s")
