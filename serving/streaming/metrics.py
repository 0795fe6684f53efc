"""Prometheus metrics of the streams, in the default registry (``GET /api/v1/metrics``).

Counters are process-wide: several hubs in one process (tests, benchmarks) add up, and the
subscriber gauge is moved by ``inc``/``dec`` so that it stays the sum of theirs. A frame that
a subscriber never received is counted once, either as *coalesced* (a queued prediction
replaced by a newer one of the same symbol, the intended degradation of a slow client) or as
*dropped* with its reason; the two are disjoint.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = [
    "BRIDGE_MESSAGES",
    "FRAMES_COALESCED",
    "FRAMES_DROPPED",
    "FRAMES_SENT",
    "REPLAY_GAPS",
    "SLOW_CLOSED",
    "SUBSCRIBERS",
]

SUBSCRIBERS = Gauge(
    "online_learning_stream_subscribers",
    "WebSocket subscribers currently connected to a symbol stream",
)
FRAMES_SENT = Counter(
    "online_learning_stream_frames_sent",
    "Frames written to subscribers, by frame type",
    ["type"],
)
FRAMES_COALESCED = Counter(
    "online_learning_stream_frames_coalesced",
    "Queued prediction frames replaced by a newer prediction of the same symbol (slow client)",
)
FRAMES_DROPPED = Counter(
    "online_learning_stream_frames_dropped",
    "Frames a subscriber never received, other than coalesced ones, by reason: "
    "slow_close (still queued when a slow client was closed), disconnected (queued when the "
    "client went away), no_symbol (a drift event without a symbol)",
    ["reason"],
)
SLOW_CLOSED = Counter(
    "online_learning_stream_slow_closed",
    "Subscribers closed with code 4008 because they stayed behind",
)
REPLAY_GAPS = Counter(
    "online_learning_stream_replay_gaps",
    "Reconnections whose since= the replay buffer could no longer cover (a gap frame was sent)",
)
BRIDGE_MESSAGES = Counter(
    "online_learning_stream_bridge_messages",
    "Messages of the Kafka bridge: produced and consumed per topic, produce_failed (fanned "
    "out locally instead), invalid (unreadable, skipped) and duplicate (already fanned out)",
    ["topic", "outcome"],
)
