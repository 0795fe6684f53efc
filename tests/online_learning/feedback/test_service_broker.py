"""The feedback service with a broker: outcomes go to their owner's partition, keyed by symbol."""

from __future__ import annotations

import json
import uuid

import pytest

from cli.broker import EmbeddedKafka
from online_learning.errors import BrokerUnavailableError
from online_learning.events.kafka import ensure_topics
from online_learning.events.producers import KafkaOutcomeProducer
from online_learning.feedback.service import FeedbackService
from tests.utils.topics import read_topic
from tests.utils.trade_outcomes import outcome_stream

TOPIC = "trade-outcomes"


@pytest.fixture(scope="module")
def broker():
    with EmbeddedKafka() as broker:
        yield broker


def test_outcomes_are_handed_to_the_owner_keyed_by_symbol(broker, metrics) -> None:
    topic = f"{TOPIC}-{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap_servers, [topic], partitions=3)
    producer = KafkaOutcomeProducer(broker.bootstrap_servers, topic)
    service = FeedbackService(store=metrics, producer=producer)
    assert not service.in_process
    items = outcome_stream(4, symbol="AAA") + outcome_stream(3, symbol="BBB")
    bad = {**items[0], "trade_id": "bad-1", "features": {"x": 1.0}}

    results = service.submit([*items, items[0], bad])

    assert [r.status for r in results] == ["accepted"] * 7 + ["duplicate", "rejected"]
    assert results[-1].reason == "wrong_features"
    messages = read_topic(broker.bootstrap_servers, topic, expected=7)
    assert sorted(json.loads(m.value())["trade_id"] for m in messages) == sorted(
        i["trade_id"] for i in items
    )
    by_symbol: dict[str, set[int]] = {}
    for message in messages:
        value = json.loads(message.value())
        assert message.key().decode() == value["symbol"]
        by_symbol.setdefault(value["symbol"], set()).add(message.partition())
    assert all(len(partitions) == 1 for partitions in by_symbol.values())  # one owner each
    assert service.rejection_counts() == {("rest", "wrong_features"): 1}
    assert service.list_sessions() == []  # this process learns nothing itself
    producer.close()


def test_a_broker_that_does_not_answer_is_reported_not_swallowed(metrics) -> None:
    with EmbeddedKafka() as gone:
        address = gone.bootstrap_servers
    producer = KafkaOutcomeProducer(address, TOPIC, delivery_timeout_s=2)
    service = FeedbackService(store=metrics, producer=producer)
    with pytest.raises(BrokerUnavailableError, match="did not take 1 of 1"):
        service.submit(outcome_stream(1))
