"""The streams across replicas: served predictions to ``predictions``, and every replica
fanning out what it reads from ``predictions``, ``model-drift`` and ``trade-outcomes``.

Neither side blocks the event loop. :meth:`KafkaBridge.produce` is ``Producer.produce`` (it
only appends to librdkafka's queue); a thread polls the producer for delivery reports. A
second thread owns the consumer: each replica joins a consumer group of its own (so every
replica reads every partition), starts at the end of each partition when it is assigned (a
stream is live: what was served before this replica started is not its news), and hands
what it read to the hub on the event loop in batches (``loop.call_soon_threadsafe``).

The bridge is *live* once its partitions are assigned and positioned. Until then the hub fans
its own predictions out locally as well as producing them; a prediction the broker did not
take (queue full, or not delivered within ``delivery_timeout_s``) is handed back to the hub to
fan out locally. The hub deduplicates by id, so none of these paths shows a frame twice.

A message of ``predictions``: key the symbol, value the JSON of ``Prediction.to_dict()`` plus
``served_by`` (the replica that served it), header ``replica`` (the same). Other consumers
(analytics, an audit trail) may read the topic too.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from confluent_kafka import OFFSET_END, Consumer, KafkaError, KafkaException, Producer

from online_learning.events.kafka import _rdkafka_logger, consumer_config, ensure_topics
from serving.streaming import metrics
from serving.streaming.frames import (
    InvalidStreamEvent,
    drift_payload,
    outcome_payload,
    prediction_payload,
)

__all__ = ["Incoming", "KafkaBridge"]

logger = logging.getLogger(__name__)

#: ``(kind, symbol, event id, payload)`` read from a topic, ready to fan out.
Incoming = tuple[str, str, str, dict]


class KafkaBridge:
    """Producer of ``predictions`` and consumer of the three stream topics of one replica.

    Parameters
    ----------
    bootstrap_servers : str
    replica_id : str
        Names the replica in its consumer group (``online-learning-stream-<replica>-<nonce>``:
        a group per process, whatever the replica is called) and in the ``replica`` header of
        what it produces.
    on_messages : callable
        Called on the event loop with a list of :data:`Incoming` read from the topics.
    on_undelivered : callable
        Called on the event loop with ``(symbol, prediction_id, payload)`` of a prediction
        the broker did not take.
    predictions_topic, model_drift_topic, trade_outcomes_topic : str
    predictions_partitions, trade_outcomes_partitions : int
        Partitions of the topics when this bridge creates them (``trade-outcomes`` as the
        feedback worker's default, so that whichever starts first makes the same topic).
    delivery_timeout_s : float
        How long a produced prediction may wait for the broker before it is fanned out
        locally instead.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        replica_id: str,
        on_messages: Callable[[list[Incoming]], None],
        on_undelivered: Callable[[str, str, dict], None],
        predictions_topic: str = "predictions",
        model_drift_topic: str = "model-drift",
        trade_outcomes_topic: str = "trade-outcomes",
        predictions_partitions: int = 4,
        trade_outcomes_partitions: int = 4,
        delivery_timeout_s: float = 5.0,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.replica_id = replica_id
        self.on_messages = on_messages
        self.on_undelivered = on_undelivered
        self.predictions_topic = predictions_topic
        self.model_drift_topic = model_drift_topic
        self.trade_outcomes_topic = trade_outcomes_topic
        self.predictions_partitions = predictions_partitions
        self.trade_outcomes_partitions = trade_outcomes_partitions
        self.delivery_timeout_s = delivery_timeout_s
        self.group_id = f"online-learning-stream-{replica_id}-{time.time_ns() % 10**9:09d}"
        self._kinds = {
            predictions_topic: ("prediction", prediction_payload),
            model_drift_topic: ("drift", drift_payload),
            trade_outcomes_topic: ("outcome", outcome_payload),
        }
        self._live = threading.Event()
        self._stop = threading.Event()
        self._loop = None
        self._producer: Producer | None = None
        self._threads: list[threading.Thread] = []
        #: Next offset to read per (topic, partition) this consumer has read from: after a
        #: rebalance it resumes there instead of skipping to the end.
        self._positions: dict[tuple[str, int], int] = {}
        self._produced = metrics.BRIDGE_MESSAGES.labels(predictions_topic, "produced")
        self._produce_failed = metrics.BRIDGE_MESSAGES.labels(predictions_topic, "produce_failed")

    @property
    def live(self) -> bool:
        """True once the consumer's partitions are assigned and positioned."""
        return self._live.is_set()

    # -- lifecycle (called from a worker thread by the hub) ---------------------------------

    def start(self, loop, *, wait_s: float) -> bool:
        """Start both threads; wait up to ``wait_s`` for the consumer to be live."""
        self._loop = loop
        self._producer = Producer(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "logger": _rdkafka_logger,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 1,
                "message.timeout.ms": int(self.delivery_timeout_s * 1000),
                "socket.connection.setup.timeout.ms": 3000,
                "reconnect.backoff.max.ms": 1000,
            }
        )
        for target, name in ((self._poll_producer, "produce"), (self._consume, "consume")):
            thread = threading.Thread(
                target=target, name=f"stream-bridge-{name}-{self.replica_id}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self._live.wait(wait_s)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        if self._producer is not None:
            self._producer.flush(1.0)
            self._producer = None
        self._live.clear()

    # -- producing (event loop) ------------------------------------------------------------

    def produce(self, symbol: str, prediction_id: str, payload: Mapping[str, Any]) -> bool:
        """Hand a served prediction to librdkafka (never blocks); False if it refused it."""
        producer = self._producer
        if producer is None:
            return False

        def on_delivery(error: KafkaError | None, _message) -> None:  # producer thread
            if error is None:
                self._produced.inc()
                return
            self._produce_failed.inc()
            logger.warning(
                "prediction %s not delivered to %s: %s",
                prediction_id,
                self.predictions_topic,
                error,
            )
            self._to_loop(self.on_undelivered, symbol, prediction_id, dict(payload))

        try:
            producer.produce(
                self.predictions_topic,
                key=symbol.encode(),
                value=orjson.dumps(payload),
                headers={"replica": self.replica_id},
                on_delivery=on_delivery,
            )
        except (BufferError, KafkaException) as exc:
            self._produce_failed.inc()
            logger.warning("prediction %s not produced: %s", prediction_id, exc)
            return False
        return True

    def _to_loop(self, callback, *args) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(callback, *args)

    def _poll_producer(self) -> None:
        while not self._stop.is_set():
            producer = self._producer
            if producer is None:
                return
            producer.poll(0.1)

    # -- consuming (the consumer thread) ----------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions) -> None:
        # From the partition's end as of now, explicitly: a message delivered after this point
        # is read; one delivered before it was fanned out locally (the bridge was not live).
        for tp in partitions:
            resume = self._positions.get((tp.topic, tp.partition))
            if resume is not None:
                tp.offset = resume
                continue
            try:
                _low, high = consumer.get_watermark_offsets(tp, timeout=5.0, cached=False)
                tp.offset = high
            except KafkaException:
                tp.offset = OFFSET_END
        consumer.assign(partitions)
        self._live.set()

    def _on_revoke(self, consumer: Consumer, partitions) -> None:
        # Until the next assignment the replica's own predictions are fanned out locally.
        self._live.clear()

    def _consume(self) -> None:
        consumer = None
        try:
            while not self._stop.is_set():
                try:
                    ensure_topics(
                        self.bootstrap_servers,
                        [self.predictions_topic],
                        partitions=self.predictions_partitions,
                        timeout=3.0,
                    )
                    ensure_topics(
                        self.bootstrap_servers,
                        [self.trade_outcomes_topic],
                        partitions=self.trade_outcomes_partitions,
                        timeout=3.0,
                    )
                    ensure_topics(self.bootstrap_servers, [self.model_drift_topic], timeout=3.0)
                    break
                except (KafkaException, RuntimeError) as exc:
                    logger.warning(
                        "stream bridge: broker %s not ready (%s); retrying",
                        self.bootstrap_servers,
                        exc,
                    )
                    self._stop.wait(1.0)
            if self._stop.is_set():
                return
            consumer = Consumer(
                consumer_config(
                    self.bootstrap_servers,
                    self.group_id,
                    **{
                        "auto.offset.reset": "latest",
                        "enable.auto.commit": False,
                        "enable.auto.offset.store": False,
                        "fetch.wait.max.ms": 50,
                        "topic.metadata.refresh.interval.ms": 10_000,
                    },
                )
            )
            consumer.subscribe(
                list(self._kinds), on_assign=self._on_assign, on_revoke=self._on_revoke
            )
            while not self._stop.is_set():
                message = consumer.poll(0.1)
                if message is None:
                    continue
                messages = [message, *consumer.consume(num_messages=999, timeout=0)]
                batch = self._parse(messages)
                if batch:
                    self._to_loop(self.on_messages, batch)
        except Exception:  # the thread must say why it died; the hub falls back to local
            logger.exception("stream bridge consumer stopped")
            self._live.clear()
        finally:
            if consumer is not None:
                consumer.close()

    def _parse(self, messages) -> list[Incoming]:
        batch: list[Incoming] = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    logger.warning("stream bridge: %s", error)
                continue
            topic = message.topic()
            self._positions[(topic, message.partition())] = message.offset() + 1
            kind, payload_of = self._kinds[topic]
            try:
                value = orjson.loads(message.value() or b"")
                symbol, event_id, payload = payload_of(value)
            except (orjson.JSONDecodeError, InvalidStreamEvent) as exc:
                metrics.BRIDGE_MESSAGES.labels(topic, "invalid").inc()
                logger.debug("stream bridge: skipped a message of %s: %s", topic, exc)
                continue
            metrics.BRIDGE_MESSAGES.labels(topic, "consumed").inc()
            batch.append((kind, symbol, event_id, payload))
        return batch
