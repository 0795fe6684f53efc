"""Micro-batching: concurrent single predictions share one batched forward per model.

A torch forward of one row costs about as much as a forward of dozens, so when many agents
ask at once, :class:`MicroBatcher` collects the single requests that arrive within a short
window and calls ``service.predict_many`` once for all of them, on the event loop (a
thread hop per request cut throughput ~3x here, see ``benchmarks/serving_api.py``).

``window_ms = 0`` (the default) flushes on the next turn of the event loop: it adds no wait,
and batches exactly the requests whose handlers ran in the same turn (under load, those
uvicorn parsed from the same socket reads). A positive window waits up to that long for
more. A row that makes the batch fail (bad features) is retried alone, so only its own
request fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from online_learning.errors import OnlineLearningError

__all__ = ["MicroBatcher"]

logger = logging.getLogger(__name__)


class MicroBatcher:
    """Collects single predictions for ``window_ms`` and serves them with ``predict_many``.

    Parameters
    ----------
    service : ModelServingService
        Anything with ``predict(symbol, features, strategy=)`` and
        ``predict_many(rows, strategy=)``.
    window_ms : float
        How long the first request of a batch waits for others (0: the next loop turn).
    max_rows : int
        A batch is flushed at once when it reaches this many rows.
    metrics : ServingMetrics, optional
        Observes the size of each batch.
    """

    def __init__(self, service, *, window_ms: float = 0.0, max_rows: int = 256, metrics=None):
        self.service = service
        self.window_ms = window_ms
        self.max_rows = max_rows
        self.metrics = metrics
        self._pending: list[tuple[str, Mapping[str, float], str | None, asyncio.Future]] = []
        self._handle: asyncio.Handle | None = None
        self.batches = 0
        self.rows = 0

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.service.feature_names

    async def predict(self, symbol: str, features: Mapping[str, float], *, strategy=None):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((symbol, features, strategy, future))
        if len(self._pending) >= self.max_rows:
            self._flush()
        elif self._handle is None:
            if self.window_ms > 0:
                self._handle = loop.call_later(self.window_ms / 1000.0, self._flush)
            else:
                self._handle = loop.call_soon(self._flush)
        return await future

    def predict_many(self, rows: Sequence[tuple[str, Mapping[str, float]]], *, strategy=None):
        """A batch request is a batch already: straight to the service."""
        return self.service.predict_many(list(rows), strategy=strategy)

    def _flush(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        pending, self._pending = self._pending, []
        if not pending:
            return
        groups: dict[str | None, list] = {}
        for item in pending:
            groups.setdefault(item[2], []).append(item)
        for strategy, items in groups.items():
            self._serve(strategy, items)

    def _serve(self, strategy, items) -> None:
        self.batches += 1
        self.rows += len(items)
        if self.metrics is not None:
            self.metrics.batch_size.observe(len(items))
        try:
            if len(items) == 1:
                symbol, features, _, _ = items[0]
                results: list[Any] = [self.service.predict(symbol, features, strategy=strategy)]
            else:
                rows = [(symbol, features) for symbol, features, _, _ in items]
                results = self.service.predict_many(rows, strategy=strategy)
        except OnlineLearningError as exc:
            if len(items) == 1:
                if not items[0][3].done():
                    items[0][3].set_exception(exc)
                return
            for item in items:  # one bad row must not fail its neighbours
                self._serve(strategy, [item])
            return
        except Exception as exc:
            logger.exception("a batched prediction failed")
            for *_, future in items:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), result in zip(items, results, strict=True):
            if not future.done():  # a client that went away cancelled its future
                future.set_result(result)

    async def close(self) -> None:
        """Serve what is pending (called at shutdown)."""
        self._flush()
