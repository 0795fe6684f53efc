"""Reading a topic of the broker as a consumer of a group of its own would."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Message

from online_learning.events.kafka import consumer_config


def read_topic(bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0) -> list[Message]:
    """Up to ``expected`` messages of ``topic`` from its start, as a new consumer group reads
    them; fewer when ``timeout_s`` passes first (the caller's assertion says what was missing).
    """
    consumer = Consumer(consumer_config(bootstrap, f"test-{uuid.uuid4().hex}"))
    consumer.subscribe([topic])
    messages, deadline = [], time.monotonic() + timeout_s
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                messages.append(message)
    finally:
        consumer.close()
    return messages
