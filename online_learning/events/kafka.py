"""Kafka adapter of the event path (``confluent-kafka``), the one module importing it.

:class:`KafkaPublisher` is an idempotent producer with ``acks=all``: a message the broker
acknowledged is written once even when librdkafka retried it. The outbox relay uses it; the
update itself never talks to Kafka.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from online_learning.events.schema import OutboxEvent

# librdkafka logs connection failures to stderr while a broker is down; route them to logging.
_rdkafka_logger = logging.getLogger("online_learning.events.librdkafka")


@dataclass
class PublishReport:
    """Which events the broker acknowledged and which failed, with the error."""

    delivered: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def consumer_config(bootstrap_servers: str, group_id: str, **overrides: object) -> dict:
    """Consumer settings that join a group in seconds (short session timeout)."""
    config = {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "logger": _rdkafka_logger,
    }
    config.update(overrides)
    return config


def manual_commit_config(
    bootstrap_servers: str, group_id: str, *, max_poll_interval_ms: int = 60_000, **overrides
) -> dict:
    """Consumer settings for a worker that commits offsets itself, after recording.

    Offsets are neither committed nor stored automatically: the worker commits exactly the
    positions its recorded state includes. ``max.poll.interval.ms`` is the bound the worker
    keeps its batches well inside (the group throws out a consumer that exceeds it).
    """
    config = consumer_config(
        bootstrap_servers,
        group_id,
        **{
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "max.poll.interval.ms": max_poll_interval_ms,
            "enable.partition.eof": False,
        },
    )
    config.update(overrides)
    return config


def ensure_topics(
    bootstrap_servers: str, topics: Iterable[str], *, partitions: int = 1, timeout: float = 10.0
) -> None:
    """Create ``topics`` if they do not exist (idempotent)."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "logger": _rdkafka_logger})
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [
        NewTopic(t, num_partitions=partitions, replication_factor=1)
        for t in topics
        if t not in existing
    ]
    if not wanted:
        return
    for topic, future in admin.create_topics(wanted, operation_timeout=timeout).items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"could not create topic {topic!r}: {exc}") from exc


class KafkaPublisher:
    """Publish outbox events to Kafka and report, per event, whether the broker acked it.

    Parameters
    ----------
    bootstrap_servers : str
        ``host:port[,host:port]``.
    delivery_timeout_s : float
        How long one :meth:`publish` waits for acknowledgements before reporting the rest
        as failed (they stay in the outbox and are retried by the next relay pass).
    """

    def __init__(self, bootstrap_servers: str, delivery_timeout_s: float = 10.0) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.delivery_timeout_s = delivery_timeout_s
        self._producer: Producer | None = None
        self._fatal: KafkaError | None = None

    def _on_error(self, error: KafkaError) -> None:
        # Broker-down noise arrives here too; only a fatal error needs action.
        if error.fatal():
            self._fatal = error

    def _client(self) -> Producer:
        if self._producer is None:
            self._fatal = None
            self._producer = Producer(
                {
                    "bootstrap.servers": self.bootstrap_servers,
                    "error_cb": self._on_error,
                    "logger": _rdkafka_logger,
                    "enable.idempotence": True,
                    "acks": "all",
                    "message.timeout.ms": int(self.delivery_timeout_s * 1000),
                    "socket.connection.setup.timeout.ms": 3000,
                    "reconnect.backoff.max.ms": 1000,
                }
            )
        return self._producer

    def publish(self, events: Sequence[OutboxEvent]) -> PublishReport:
        """Send ``events`` in order and wait for the broker's acknowledgements."""
        report = PublishReport()
        if not events:
            return report
        producer = self._client()
        pending = {event.event_id for event in events}

        def on_delivery(event_id: str):
            def callback(error: KafkaError | None, _message) -> None:
                pending.discard(event_id)
                if error is None:
                    report.delivered.append(event_id)
                else:
                    report.failed[event_id] = str(error)

            return callback

        for event in events:
            try:
                producer.produce(
                    event.topic,
                    key=event.key.encode(),
                    value=event.value(),
                    headers={"event_id": event.event_id},
                    on_delivery=on_delivery(event.event_id),
                )
            except (BufferError, KafkaException) as exc:
                pending.discard(event.event_id)
                report.failed[event.event_id] = str(exc)
        try:
            producer.flush(self.delivery_timeout_s + 1.0)
        except (KafkaException, SystemError) as exc:
            # A fatal producer error surfaces from flush(), sometimes wrapped in a SystemError
            # raised from inside a delivery callback.
            self._fatal = self._fatal or KafkaError(KafkaError._FATAL, str(exc), fatal=True)
        reason = str(self._fatal) if self._fatal else "no acknowledgement before the timeout"
        for event_id in pending:
            report.failed[event_id] = reason
        if self._fatal is not None or pending:
            # An idempotent producer that met a broker which forgot its producer id (a restart
            # of a broker without persistent state) is fenced for good: start a new one.
            self._producer = None
        return report

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(1.0)
            self._producer = None
