"""Prometheus metrics of the API, and the ASGI middleware that measures every request.

Served at ``GET /api/v1/metrics`` with, in one exposition:

- this app's own registry: ``online_learning_http_requests_total`` (method, route, status)
  and ``online_learning_http_request_duration_seconds`` (method, route) per **route
  template** (``/api/v1/jobs/{job_id}``, never the raw path, so ids do not explode the
  series; paths that match no route count as ``unmatched``),
  ``online_learning_predictions_total`` (component, kind, strategy) per component that
  contributed to a served prediction, ``online_learning_prediction_batch_size`` (the rows of
  each batched forward) and ``online_learning_model_swaps_total`` (model_id);
- the process's default registry (the streaming metrics of :mod:`serving.streaming`, process
  statistics);
- the update metrics of :mod:`online_learning.monitoring`: read from
  ``ONLINE_LEARNING_METRICS_TEXTFILE`` when the batch runs write one, else rebuilt from the
  metrics store's update history (its latest 1,000 updates), at most every 10 s;
- the success metrics of :mod:`serving.success` (the last 30 days, at most every 10 s).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest

from online_learning.monitoring import UpdateMetrics

__all__ = ["RequestMetricsMiddleware", "ServingMetrics"]

logger = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
_UPDATES_TTL_S = 10.0
_UPDATES_HISTORY = 1000


class ServingMetrics:
    """The API's metrics in a registry of their own (one per app: tests build several)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        self.requests = Counter(
            "online_learning_http_requests_total",
            "HTTP requests answered, per route template and status code.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "online_learning_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response, per route template.",
            ("method", "route"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "online_learning_predictions_total",
            "Components that contributed to a served prediction.",
            ("component", "kind", "strategy"),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "online_learning_prediction_batch_size",
            "Predictions computed by one batched forward.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000),
            registry=self.registry,
        )
        self.swaps = Counter(
            "online_learning_model_swaps_total",
            "Champions swapped in without a restart.",
            ("model_id",),
            registry=self.registry,
        )
        self._children: dict[tuple, Any] = {}
        #: The success metrics' collector (set by the app once its store is open).
        self.success: Any = None
        self._updates: tuple[float, bytes] | None = None
        self._updates_lock = threading.Lock()

    def _child(self, metric, labels: tuple[str, ...]):
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self._child(self.requests, (method, route, str(status))).inc()
        self._child(self.latency, (method, route)).observe(seconds)

    def observe_prediction(self, prediction: Mapping[str, Any]) -> None:
        strategy = prediction.get("strategy") or ""
        for component in prediction.get("components") or ():
            labels = (component.get("name", ""), component.get("kind", ""), strategy)
            self._child(self.predictions, labels).inc()

    def render(self, update_history: Callable[[], Iterable[Any]] | None, textfile=None) -> bytes:
        """The exposition of ``/metrics`` (see the module docstring)."""
        parts = [generate_latest(self.registry), generate_latest(REGISTRY)]
        parts.append(self._update_metrics(update_history, textfile))
        if self.success is not None:
            parts.append(self._success_metrics())
        return b"".join(parts)

    def _success_metrics(self) -> bytes:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.success)
        try:
            return generate_latest(registry)
        except Exception:  # the store down: the other metrics still answer (and say so)
            logger.exception("the success metrics could not be computed")
            return b""

    def _update_metrics(self, update_history, textfile) -> bytes:
        now = time.monotonic()
        with self._updates_lock:
            if self._updates is not None and now - self._updates[0] < _UPDATES_TTL_S:
                return self._updates[1]
        if textfile is not None and textfile.exists():
            metrics = UpdateMetrics.from_textfile(textfile)
        else:
            metrics = UpdateMetrics()
            records = list(update_history()) if update_history is not None else []
            for record in sorted(records, key=lambda r: r.finished_at):
                if record.decision == "failed":
                    metrics.observe_failure(record.model_id, record.duration_s)
                else:
                    metrics.observe(record)
        text = metrics.render()
        with self._updates_lock:
            self._updates = (now, text)
        return text


class RequestMetricsMiddleware:
    """Pure ASGI middleware (no per-request task or body copy): counts and times each HTTP
    request under its route template, and refuses a body whose ``Content-Length`` exceeds
    ``max_body_bytes`` with 413 before it is read."""

    def __init__(self, app, *, metrics: ServingMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self._too_large = (
            b'{"detail":"request body over ' + str(max_body_bytes).encode() + b' bytes"}'
        )

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if self._oversize(scope):
                status[0] = 413
                await send(
                    {
                        "type": "http.response.start",
                        "status": 413,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": self._too_large})
                return
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(
                scope["method"], template, status[0], time.perf_counter() - started
            )

    def _oversize(self, scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value) > self.max_body_bytes
                except ValueError:
                    return False
        return False
