"""Model-update events through the outbox to a real Kafka-protocol broker (tansu)."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from confluent_kafka import Consumer

from cli.broker import EmbeddedKafka
from online_learning.events.kafka import KafkaPublisher, consumer_config, ensure_topics
from online_learning.events.relay import OutboxRelay
from online_learning.metrics_store import MetricsStore
from online_learning.update.bootstrap import train_and_register
from online_learning.update.config import IncrementalUpdateConfig
from online_learning.update.learner import OnlineLearner
from online_learning.update.service import run_update
from tests.utils.markets import inverted_relationship, regime_switch, trading_days
from tests.utils.waiting import wait_for

TOPIC = "model-updates"
MODEL = "event_model"
PROMISED_FIELDS = {
    "model_id",
    "sharpe_pre",
    "sharpe_post",
    "degradation_pct",
    "stability_check",
    "version",
    "job_id",
    "window_start",
    "window_end",
    "data_window",
    "event_id",
    "schema_version",
    "started_at",
    "finished_at",
}


@pytest.fixture(scope="module")
def market():
    return regime_switch("bull", "sideways")


@pytest.fixture(scope="module")
def days(market):
    return trading_days(market)


@pytest.fixture
def store(home):
    store = MetricsStore(f"sqlite:///{home / 'metrics.db'}")
    store.migrate()
    yield store
    store.dispose()


@pytest.fixture
def learner(registry, market, days):
    train_and_register(
        registry=registry, source=market, model_id=MODEL, end=days[250].date(), epochs=20
    )
    return OnlineLearner(registry, market)


def _config(days, i: int, **overrides) -> IncrementalUpdateConfig:
    # 30 validation days: enough for the gate's test to see a wrecked candidate.
    options = {"model_id": MODEL, "as_of": days[i].date(), "learning_rate": 1e-3, "epochs": 5}
    options["validation_days"] = 30
    options.update(overrides)
    return IncrementalUpdateConfig(**options)


def _consume(bootstrap: str, expected: int, timeout: float = 30.0) -> list[dict]:
    """Read ``expected`` messages as a new member of a fresh consumer group."""
    consumer = Consumer(consumer_config(bootstrap, f"test-{uuid.uuid4().hex}"))
    consumer.subscribe([TOPIC])
    messages: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                if len(messages) >= expected:
                    break
                continue
            assert message.key().decode() == MODEL
            messages.append(json.loads(message.value()))
    finally:
        consumer.close()
    return messages


def test_update_and_rollback_each_emit_one_event(store, learner, days):
    with EmbeddedKafka() as broker:
        ensure_topics(broker.bootstrap_servers, [TOPIC])
        publisher = KafkaPublisher(broker.bootstrap_servers)
        relay = OutboxRelay(store, publisher)

        promoted = run_update(learner=learner, store=store, config=_config(days, 330))
        rolled_back = run_update(
            learner=learner,
            store=store,
            # The first decision judged its 30 days; this one needs as many new ones.
            config=_config(days, 361, ewc_lambda=0.0, learning_rate=1e-2, epochs=30),
            transform_train=inverted_relationship(),
        )
        assert (promoted.decision, rolled_back.decision) == ("promoted", "rolled_back")

        report = relay.relay_once()
        assert (report.published, report.failed) == (2, 0)
        assert store.pending_events() == []
        events = _consume(broker.bootstrap_servers, expected=2)
        publisher.close()

    assert len(events) == 2, events
    by_decision = {event["decision"]: event for event in events}
    accepted, rejected = by_decision["promoted"], by_decision["rolled_back"]
    assert set(accepted) >= PROMISED_FIELDS
    assert accepted["stability_check"] == "passed"
    assert accepted["version"] == "2" and accepted["previous_version"] == "1"
    assert accepted["sharpe_pre"] == pytest.approx(promoted.sharpe_pre)
    assert rejected["stability_check"] == "failed"
    assert rejected["version"] == "2"  # the champion that stayed
    # The wrecked candidate is stopped by the gate or, before it, by the update-size check.
    assert rejected["reason"] in {"sharpe_degradation", "update_too_large"}
    assert accepted["event_id"] != rejected["event_id"]


def test_events_wait_out_a_broker_outage_and_arrive_once(store, learner, days):
    broker = EmbeddedKafka().start()
    try:
        ensure_topics(broker.bootstrap_servers, [TOPIC])
        publisher = KafkaPublisher(broker.bootstrap_servers, delivery_timeout_s=3)
        relay = OutboxRelay(store, publisher)
        run_update(learner=learner, store=store, config=_config(days, 330))
        assert relay.relay_once().published == 1
        before = _consume(broker.bootstrap_servers, expected=1)

        broker.stop()
        outcomes = [
            run_update(learner=learner, store=store, config=_config(days, i))
            for i in (331, 332, 333)
        ]  # the updates themselves never touch the broker
        # One day apart, they wait for new validation days; deferred updates have events too.
        assert [o.decision for o in outcomes] == ["deferred"] * 3
        down = relay.relay_once()
        assert down.published == 0 and down.failed >= 1
        assert len(store.pending_events()) == 3

        broker.start()  # same port: the relay's producer reconnects by itself
        ensure_topics(broker.bootstrap_servers, [TOPIC])

        def relayed() -> bool:
            relay.relay_once()
            return not store.pending_events()

        wait_for(relayed, timeout_s=30, what="the outbox relayed", every_s=0)
        assert store.pending_events() == []
        after = _consume(broker.bootstrap_servers, expected=3)
    finally:
        publisher.close()
        broker.stop()

    ids = [event["event_id"] for event in before + after]
    assert len(ids) == 4 and len(set(ids)) == 4  # every event, none twice
    history = store.update_history(model_id=MODEL)
    assert sorted(r.job_id for r in history) == sorted(e["job_id"] for e in before + after)
