"""The stream hub: numbered frames per symbol, fanned out to bounded subscriber queues.

One :class:`StreamHub` per API replica (``app.state.hub``). The API tells it what happened:

- :meth:`StreamHub.prediction_served` for every served prediction (event loop);
- :meth:`StreamHub.outcome_recorded` for every accepted trade outcome (event loop);
- :meth:`StreamHub.drift_detected_threadsafe` for a drift event (any thread).

Each becomes a frame of its symbol's stream with the next sequence number of that symbol on
this replica (contiguous from 1), kept in a replay ring buffer, and offered to the symbol's
subscribers (see :mod:`serving.streaming.subscriber`; the hub never awaits a socket).

**Across replicas** (``KAFKA_BOOTSTRAP_SERVERS`` set): a served prediction is produced to
``predictions`` (keyed by symbol) and *not* fanned out locally; every replica, this one
included, fans out what it reads from ``predictions``, ``model-drift`` and
``trade-outcomes`` (see :mod:`serving.streaming.kafka_bridge`). So a symbol's predictions
reach every replica's subscribers in the same order, that of the symbol's partition.
Duplicates are avoided by construction and then by id: the local path and the topic path of
a prediction are exclusive while the bridge is live; while it is not (starting, rebalancing,
broker gone) or when the broker refused a prediction, the hub fans out locally, and every
frame is deduplicated by its id (``prediction_id``, the drift's ``event_id``, the outcome's
``trade_id``) over the last ``dedupe_size`` ids of each kind. A drift or an outcome reported
in-process is fanned out at once; its copy on the topic is then a duplicate and skipped.
Without a broker, fan-out is local only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from typing import Any

from serving.streaming import metrics
from serving.streaming.dedupe import RecentIds
from serving.streaming.frames import (
    Frame,
    InvalidStreamEvent,
    as_mapping,
    drift_payload,
    encode,
    outcome_payload,
    prediction_payload,
)
from serving.streaming.kafka_bridge import Incoming, KafkaBridge
from serving.streaming.logs import install_token_redaction
from serving.streaming.replay import StreamSet
from serving.streaming.subscriber import CLOSE_SLOW, Subscriber

__all__ = ["StreamHub"]

logger = logging.getLogger(__name__)


def default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


class StreamHub:
    """Per-symbol streams of one replica (see the module docstring).

    Parameters
    ----------
    queue_size : int
        Frames queued per subscriber before predictions are coalesced.
    replay_size : int
        Frames kept per symbol for ``?since=`` replays.
    send_timeout_s : float
        Longest a socket may take to accept one frame before it is closed with 4008.
    max_behind_s : float
        Longest a subscriber's queue may stay full (coalescing) before it is closed with 4008.
    close_timeout_s : float
        How long a close may wait for a congested socket to take the close frame.
    auth_recheck_s : float
        Interval at which an open stream's key is checked again (a revoked key: 1008).
    max_buffered_symbols : int
        Symbols whose replay buffers are kept; beyond, the buffers of the least recently
        active symbols without subscribers are dropped (their numbering is kept).
    dedupe_size : int
        Ids remembered per frame kind for deduplication.
    bootstrap_servers : str or None
        Kafka cluster of the bridge across replicas; None for local fan-out only.
    predictions_topic, model_drift_topic, trade_outcomes_topic : str
    replica_id : str or None
        Name of this replica in hello frames; hostname-pid-random when None.
    bridge_start_timeout_s : float
        How long :meth:`start` waits for the bridge to be live (it keeps trying after).
    delivery_timeout_s : float
        How long a produced prediction may wait for the broker before it is fanned out
        locally instead.
    """

    def __init__(
        self,
        *,
        queue_size: int = 256,
        replay_size: int = 1024,
        send_timeout_s: float = 5.0,
        max_behind_s: float = 10.0,
        close_timeout_s: float = 10.0,
        auth_recheck_s: float = 5.0,
        max_buffered_symbols: int = 2000,
        dedupe_size: int = 50_000,
        bootstrap_servers: str | None = None,
        predictions_topic: str = "predictions",
        model_drift_topic: str = "model-drift",
        trade_outcomes_topic: str = "trade-outcomes",
        replica_id: str | None = None,
        bridge_start_timeout_s: float = 20.0,
        delivery_timeout_s: float = 5.0,
    ) -> None:
        if not isinstance(replay_size, int) or replay_size < 0:
            raise ValueError(f"replay_size must be an integer >= 0, got {replay_size!r}")
        for name, value in (
            ("queue_size", queue_size),
            ("max_buffered_symbols", max_buffered_symbols),
            ("dedupe_size", dedupe_size),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name, value in (
            ("send_timeout_s", send_timeout_s),
            ("max_behind_s", max_behind_s),
            ("close_timeout_s", close_timeout_s),
            ("auth_recheck_s", auth_recheck_s),
            ("delivery_timeout_s", delivery_timeout_s),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        self.queue_size = queue_size
        self.replay_size = replay_size
        self.send_timeout_s = send_timeout_s
        self.max_behind_s = max_behind_s
        self.close_timeout_s = close_timeout_s
        self.auth_recheck_s = auth_recheck_s
        self.max_buffered_symbols = max_buffered_symbols
        self.dedupe_size = dedupe_size
        self.bootstrap_servers = bootstrap_servers or None
        self.predictions_topic = predictions_topic
        self.model_drift_topic = model_drift_topic
        self.trade_outcomes_topic = trade_outcomes_topic
        self.replica_id = replica_id or default_replica_id()
        #: This hub's life: sequence numbers are valid within one (replica, epoch); a
        #: restarted replica of the same name has a new epoch (milliseconds since 1970).
        self.epoch = str(time.time_ns() // 1_000_000)
        self.bridge_start_timeout_s = bridge_start_timeout_s
        self.delivery_timeout_s = delivery_timeout_s
        self._streams = StreamSet(replay_size, max_buffered_symbols)
        self._recent = {kind: RecentIds(dedupe_size) for kind in ("prediction", "drift", "outcome")}
        self._topic_of = {
            "prediction": predictions_topic,
            "drift": model_drift_topic,
            "outcome": trade_outcomes_topic,
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bridge: KafkaBridge | None = None
        self._watchdog: asyncio.Task | None = None
        #: The watchdog's period: a send timeout or a key check is late by at most this.
        self.tick_s = min(1.0, max(0.02, min(send_timeout_s, auth_recheck_s) / 4))

    @classmethod
    def from_settings(cls, settings: Any) -> StreamHub:
        """A hub configured from the API's ``ServingSettings`` (read by attribute, each with
        the default above when the settings do not have it)."""

        def get(name: str, default: Any) -> Any:
            value = getattr(settings, name, None)
            return default if value is None else value

        return cls(
            queue_size=get("stream_queue_size", 256),
            replay_size=get("stream_replay_size", 1024),
            send_timeout_s=get("stream_send_timeout_s", 5.0),
            max_behind_s=get("stream_max_behind_s", 10.0),
            close_timeout_s=get("stream_close_timeout_s", 10.0),
            auth_recheck_s=get("stream_auth_recheck_s", 5.0),
            max_buffered_symbols=get("stream_max_symbols", 2000),
            bootstrap_servers=get("kafka_bootstrap_servers", None),
            predictions_topic=get("predictions_topic", "predictions"),
            model_drift_topic=get("model_drift_topic", "model-drift"),
            trade_outcomes_topic=get("trade_outcomes_topic", "trade-outcomes"),
            replica_id=get("replica", None),
        )

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def bridged(self) -> bool:
        """True while the Kafka bridge is live (fan-out of predictions comes from the topic)."""
        return self._bridge is not None and self._bridge.live

    async def start(self) -> None:
        """Bind to the running loop; with a broker, start the bridge and wait (up to
        ``bridge_start_timeout_s``) until it is live. Keys in ``?token=`` are redacted from
        uvicorn's logs from here on."""
        install_token_redaction()
        self._loop = asyncio.get_running_loop()
        if self._watchdog is None:
            self._watchdog = self._loop.create_task(self._watch(), name="stream-hub-watchdog")
        if self.bootstrap_servers is None or self._bridge is not None:
            return
        self._bridge = KafkaBridge(
            self.bootstrap_servers,
            replica_id=self.replica_id,
            on_messages=self._ingest,
            on_undelivered=self._undelivered,
            predictions_topic=self.predictions_topic,
            model_drift_topic=self.model_drift_topic,
            trade_outcomes_topic=self.trade_outcomes_topic,
            delivery_timeout_s=self.delivery_timeout_s,
        )
        live = await asyncio.to_thread(
            self._bridge.start, self._loop, wait_s=self.bridge_start_timeout_s
        )
        if not live:
            logger.warning(
                "stream bridge to %s not live after %.0f s: fanning out locally until it is",
                self.bootstrap_servers,
                self.bridge_start_timeout_s,
            )

    async def stop(self) -> None:
        """Stop the bridge and close every subscriber (1001, going away)."""
        bridge, self._bridge = self._bridge, None
        if bridge is not None:
            await asyncio.to_thread(bridge.stop)
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            watchdog.cancel()
        for stream in self._streams:
            for sub in list(stream.subscribers):
                sub.request_close(1001, "server shutting down")

    # -- what happened (the API's calls) -----------------------------------------------------

    def prediction_served(self, prediction: Any) -> None:
        """A prediction was served (``Prediction.to_dict()``); event loop only."""
        try:
            symbol, prediction_id, payload = prediction_payload(prediction)
        except InvalidStreamEvent as exc:
            logger.warning("prediction not streamed: %s", exc)
            return
        payload.setdefault("served_by", self.replica_id)
        bridge = self._bridge
        if bridge is not None:
            produced = bridge.produce(symbol, prediction_id, payload)
            if produced and bridge.live:
                return  # its frame comes back from the topic, to every replica alike
        self._fanout("prediction", symbol, prediction_id, payload)

    def outcome_recorded(self, outcome: Any) -> None:
        """A trade outcome was accepted (schema v1); event loop only."""
        try:
            symbol, trade_id, payload = outcome_payload(outcome)
        except InvalidStreamEvent as exc:
            logger.warning("outcome not streamed: %s", exc)
            return
        self._fanout("outcome", symbol, trade_id, payload)

    def drift_detected_threadsafe(self, event: Any) -> None:
        """A drift fired (a ``model_drift`` event, dict or ``ModelDriftEvent``); any thread."""
        try:
            symbol, event_id, payload = drift_payload(as_mapping(event))
        except InvalidStreamEvent as exc:
            metrics.FRAMES_DROPPED.labels("no_symbol").inc()
            logger.warning("drift not streamed: %s", exc)
            return
        loop = self._loop
        if loop is None or loop.is_closed():
            logger.warning("drift %s not streamed: the hub is not running", event_id)
            return
        try:
            loop.call_soon_threadsafe(self._fanout, "drift", symbol, event_id, payload)
        except RuntimeError:  # the loop closed between the check and the call
            logger.warning("drift %s not streamed: the hub stopped", event_id)

    # -- subscribers -------------------------------------------------------------------------

    def subscribe(
        self, symbol: str, since: int | None = None, epoch: str | None = None
    ) -> Subscriber:
        """A subscriber of ``symbol``, its backlog holding the hello frame and, with
        ``since``, the gap frame and the replayed frames; live frames follow in its queue.
        A ``since`` of another ``epoch`` (a restarted replica) counts as 0."""
        if since is not None and epoch is not None and epoch != self.epoch:
            since = 0
        stream = self._streams.get(symbol)
        sub = Subscriber(symbol, queue_size=self.queue_size, max_behind_s=self.max_behind_s)
        hello = encode(
            {
                "type": "hello",
                "symbol": symbol,
                "seq": stream.last_seq,
                "replica": self.replica_id,
                "epoch": self.epoch,
            }
        )
        sub.backlog.append(("hello", hello))
        replay = stream.replay(since)
        gap = replay.gap_text()
        if gap is not None:
            metrics.REPLAY_GAPS.inc()
            sub.backlog.append(("gap", gap))
        sub.backlog.extend(Subscriber.texts(replay.frames))
        stream.subscribers.add(sub)
        metrics.SUBSCRIBERS.inc()
        return sub

    def unsubscribe(self, sub: Subscriber, close_code: int | None) -> None:
        """Forget ``sub`` once its connection ended (``close_code`` None: client left)."""
        stream = self._streams.find(sub.symbol)
        if stream is not None:
            stream.subscribers.discard(sub)
        if sub.released:
            return
        sub.released = True
        metrics.SUBSCRIBERS.dec()
        left = len(sub.queue)
        sub.queue.clear()
        if close_code == CLOSE_SLOW:
            metrics.SLOW_CLOSED.inc()
            reason = "slow_close"
        else:
            reason = "disconnected"
        if left:
            metrics.FRAMES_DROPPED.labels(reason).inc(left)

    def subscriber_count(self, symbol: str | None = None) -> int:
        if symbol is not None:
            stream = self._streams.find(symbol)
            return len(stream.subscribers) if stream is not None else 0
        return sum(len(s.subscribers) for s in self._streams)

    def last_seq(self, symbol: str) -> int:
        return self._streams.last_seq(symbol)

    async def _watch(self) -> None:
        """Every ``tick_s``: cancel the sends that exceed ``send_timeout_s`` and wake the
        writers due for a key check (see :meth:`Subscriber.watch`)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.tick_s)
            now = loop.time()
            for stream in self._streams:
                for sub in stream.subscribers:
                    sub.watch(now, self.send_timeout_s)

    # -- fan-out -----------------------------------------------------------------------------

    def _fanout(self, kind: str, symbol: str, event_id: str, payload: dict) -> Frame | None:
        if self._recent[kind].seen(event_id):
            return None
        stream = self._streams.get(symbol)
        frame = stream.append(kind, payload)
        if stream.subscribers:
            slow = [sub for sub in stream.subscribers if not sub.offer(frame)]
            for sub in slow:
                stream.subscribers.discard(sub)
                sub.request_close(CLOSE_SLOW, "client stayed behind")
        return frame

    def _ingest(self, batch: list[Incoming]) -> None:
        """Frames read from the topics (event loop, from the bridge's consumer thread)."""
        for kind, symbol, event_id, payload in batch:
            if self._fanout(kind, symbol, event_id, payload) is None:
                metrics.BRIDGE_MESSAGES.labels(self._topic_of[kind], "duplicate").inc()

    def _undelivered(self, symbol: str, prediction_id: str, payload: dict) -> None:
        self._fanout("prediction", symbol, prediction_id, payload)
