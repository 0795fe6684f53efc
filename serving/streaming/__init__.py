"""Live per-symbol streams over WebSocket, across replicas through Kafka.

- :class:`StreamHub` (``app.state.hub``): numbered frames per symbol, replay, bounded
  subscriber queues, the Kafka bridge (:mod:`serving.streaming.hub`);
- :data:`router`: ``/api/v1/streaming/{symbol}`` (:mod:`serving.streaming.router`);
- Prometheus metrics in :mod:`serving.streaming.metrics`.
"""

from __future__ import annotations

from serving.streaming.hub import StreamHub
from serving.streaming.router import router
from serving.streaming.subscriber import CLOSE_POLICY_VIOLATION, CLOSE_SLOW

__all__ = ["CLOSE_POLICY_VIOLATION", "CLOSE_SLOW", "StreamHub", "router"]
