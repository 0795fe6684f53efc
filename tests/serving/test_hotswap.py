"""The champion moves while requests are in flight: none fails, later ones name the new
version. Without a broker the registry poll swaps it; with one, the ``model-updates`` event
does (the poll is set to an hour there). Real MLflow store, real embedded broker."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from cli.broker import EmbeddedKafka
from tests.utils.api_keys import AGENT, FEEDER, bearer
from tests.utils.registries import register
from tests.utils.topics import read_topic
from tests.utils.trade_outcomes import outcome_stream
from tests.utils.waiting import wait_for

F = {"f1": 0.3, "f2": -0.1, "f3": 0.7}
MODEL = "bull_specialist"


@pytest.fixture(scope="module")
def broker():
    with EmbeddedKafka() as broker:
        yield broker


def _versions(response) -> dict[str, str]:
    return {c["name"]: c["version"] for c in response.json()["components"] if c["kind"] == "batch"}


def _hammer(client, stop: threading.Event, seen: list, failures: list) -> None:
    mine: list[str] = []  # this thread's requests, one after another
    seen.append(mine)
    while not stop.is_set():
        response = client.post(
            "/api/v1/predictions", json={"symbol": "AAA", "features": F}, headers=bearer(AGENT)
        )
        if response.status_code != 200:
            failures.append((response.status_code, response.text))
        else:
            mine.append(_versions(response)[MODEL])


def _promote_during_requests(client, registry, *, after_promotion=None, timeout_s=30.0):
    stop, seen, failures = threading.Event(), [], []
    workers = [
        threading.Thread(target=_hammer, args=(client, stop, seen, failures)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    try:
        time.sleep(0.5)
        new = register(registry, MODEL, seed=42)  # log, register and move champion
        if after_promotion is not None:
            after_promotion(new)
        wait_for(
            lambda: all(s and s[-1] == new for s in seen),
            timeout_s=timeout_s,
            what=f"every request thread to be served version {new}",
            every_s=0.05,
            details=lambda: failures,
        )
        time.sleep(0.3)  # requests keep flowing after the swap
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    return new, seen, failures


def test_a_promotion_under_load_fails_no_request_and_is_served(champions, make_client, registry):
    old = champions[MODEL]
    with make_client(registry_poll_s=0.2) as client:
        new, seen, failures = _promote_during_requests(client, registry)
        assert failures == []
        assert sum(map(len, seen)) > 20
        assert any(versions[0] == old for versions in seen)
        for versions in seen:
            assert versions[-1] == new
            # Versions only move forward: once a thread was served the new champion, none of
            # its later requests got the old one.
            first_new = versions.index(new)
            assert set(versions[first_new:]) == {new}
        metrics = client.get("/api/v1/metrics").text
        assert f'online_learning_model_swaps_total{{model_id="{MODEL}"}} 1.0' in metrics


def _publish_update(bootstrap: str, topic: str, version: str) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap})
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": "model_update",
        "model_id": MODEL,
        "decision": "promoted",
        "version": version,
    }
    producer.produce(topic, key=MODEL, value=json.dumps(event).encode())
    producer.flush(10)


def test_with_a_broker_the_model_updates_event_swaps_at_once(
    broker, champions, make_client, registry
):
    from online_learning.events.kafka import ensure_topics

    topic = f"model-updates-{uuid.uuid4().hex[:6]}"
    ensure_topics(broker.bootstrap_servers, [topic, "trade-outcomes"])
    with make_client(
        registry_poll_s=3600,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        model_updates_topic=topic,
    ) as client:
        swap = client.app.state.hotswap
        assert swap.wait_subscribed(30), "the model-updates consumer got no partition"
        time.sleep(1.0)  # "latest" is resolved once the partition is assigned
        new, seen, failures = _promote_during_requests(
            client,
            registry,
            after_promotion=lambda v: _publish_update(broker.bootstrap_servers, topic, v),
        )
        assert failures == []
        assert all(versions[-1] == new for versions in seen), "the event did not swap it"
        assert swap.events_seen >= 1


def test_with_a_broker_outcomes_go_to_the_feedback_workers(broker, champions, make_client):
    from online_learning.events.kafka import ensure_topics

    topic = f"trade-outcomes-{uuid.uuid4().hex[:6]}"
    ensure_topics(broker.bootstrap_servers, [topic, "model-updates"])
    outcomes = outcome_stream(5, symbol="KKK", model_id=MODEL)
    with make_client(
        kafka_bootstrap_servers=broker.bootstrap_servers, trade_outcomes_topic=topic
    ) as client:
        assert not client.app.state.feedback.in_process
        posted = client.post(
            "/api/v1/feedback/outcomes", json=[*outcomes, {"trade_id": "x"}], headers=bearer(FEEDER)
        )
        assert [r["status"] for r in posted.json()["results"]] == ["accepted"] * 5 + ["rejected"]
    received = [
        (message.key().decode(), json.loads(message.value()))
        for message in read_topic(broker.bootstrap_servers, topic, expected=5)
    ]
    assert [key for key, _ in received] == ["KKK"] * 5
    assert [value["trade_id"] for _, value in received] == [o["trade_id"] for o in outcomes]
