"""Producers of the feedback path: outcomes to their owner, invalid ones to the DLQ.

Both wait for the broker's acknowledgement of every message (``acks=all``, idempotent) and
raise :class:`~online_learning.errors.BrokerUnavailableError` when they do not get
it, so that a caller never reports "accepted" for an outcome the broker does not have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from confluent_kafka import KafkaError, KafkaException, Producer

from online_learning.errors import BrokerUnavailableError
from online_learning.events.kafka import _rdkafka_logger
from online_learning.events.schema import TRADE_OUTCOMES_DLQ_TOPIC, TRADE_OUTCOMES_TOPIC

__all__ = ["DeadLetterProducer", "KafkaOutcomeProducer", "KafkaSender"]

Message = tuple[str | bytes | None, bytes, Mapping[str, str | bytes] | None]


class KafkaSender:
    """Send messages to one topic and wait until the broker acknowledged each of them.

    Parameters
    ----------
    bootstrap_servers : str
    topic : str
    delivery_timeout_s : float
        How long :meth:`send` waits before it gives up and raises.
    """

    def __init__(self, bootstrap_servers: str, topic: str, *, delivery_timeout_s: float = 10.0):
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.delivery_timeout_s = delivery_timeout_s
        self._producer: Producer | None = None

    def _client(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(
                {
                    "bootstrap.servers": self.bootstrap_servers,
                    "logger": _rdkafka_logger,
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 2,
                    "message.timeout.ms": int(self.delivery_timeout_s * 1000),
                    "socket.connection.setup.timeout.ms": 3000,
                    "reconnect.backoff.max.ms": 1000,
                }
            )
        return self._producer

    def send_messages(self, messages: Sequence[Message]) -> None:
        """Produce ``(key, value, headers)`` triples in order; raise unless all are acked."""
        if not messages:
            return
        producer = self._client()
        errors: list[str] = []
        acked = [0]

        def on_delivery(error: KafkaError | None, _message) -> None:
            if error is None:
                acked[0] += 1
            else:
                errors.append(str(error))

        try:
            for key, value, headers in messages:
                producer.produce(
                    self.topic,
                    key=key.encode() if isinstance(key, str) else key,
                    value=value,
                    headers=dict(headers) if headers else None,
                    on_delivery=on_delivery,
                )
                producer.poll(0)
            producer.flush(self.delivery_timeout_s + 1.0)
        except (BufferError, KafkaException, SystemError) as exc:
            errors.append(str(exc))
        if errors or acked[0] != len(messages):
            # A fenced idempotent producer never recovers (a broker that lost its state).
            self._producer = None
            reason = errors[0] if errors else "no acknowledgement before the timeout"
            raise BrokerUnavailableError(
                f"the broker at {self.bootstrap_servers} did not take {len(messages) - acked[0]} "
                f"of {len(messages)} message(s) for {self.topic!r}: {reason}"
            )

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(1.0)
            self._producer = None


class KafkaOutcomeProducer(KafkaSender):
    """:class:`~online_learning.feedback.service.OutcomeProducer` on ``trade-outcomes``:
    keyed by symbol, so that one symbol's outcomes stay in order on one partition."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = TRADE_OUTCOMES_TOPIC,
        *,
        delivery_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(bootstrap_servers, topic, delivery_timeout_s=delivery_timeout_s)

    def send(self, messages: Sequence[tuple[str, bytes]]) -> None:
        self.send_messages([(key, value, {"source": "rest"}) for key, value in messages])


class DeadLetterProducer(KafkaSender):
    """Invalid outcomes to ``trade-outcomes-dlq``: the original key and bytes untouched, the
    reason and where the message came from in headers (:meth:`headers`).

    Delivery is at least once: a worker that dies after the DLQ acknowledged a message but
    before it recorded its position sends that message again after the restart; the
    ``source_topic``/``source_partition``/``source_offset`` headers identify it.
    """

    @staticmethod
    def headers(reason: str, detail: str, *, topic: str, partition: int, offset: int) -> dict:
        """``reason`` (one of ``INVALID_REASONS``), ``detail`` and the message's origin."""
        return {
            "reason": reason,
            "detail": detail[:1000],
            "source_topic": topic,
            "source_partition": str(partition),
            "source_offset": str(offset),
        }

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = TRADE_OUTCOMES_DLQ_TOPIC,
        *,
        delivery_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(bootstrap_servers, topic, delivery_timeout_s=delivery_timeout_s)
