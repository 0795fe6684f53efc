"""The outbox relay: move committed events from the metrics store to the broker.

An update writes its event to the outbox table in the same transaction as its history row, so
an event exists if and only if the update was recorded. The relay publishes pending events in
creation order and marks the acknowledged ones; while the broker is down they wait, and a later
pass delivers them. Delivery is at least once: an event can be sent twice only if the process
dies between the broker's acknowledgement and marking the row, which is why every event carries
an ``event_id`` for consumers to deduplicate on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from online_learning.events.schema import OutboxEvent
from online_learning.monitoring.health import Backoff, ComponentHealth

logger = logging.getLogger(__name__)


class Publisher(Protocol):
    def publish(self, events: Sequence[OutboxEvent]): ...


class Outbox(Protocol):
    def pending_events(self, *, limit: int = 100) -> list[OutboxEvent]: ...

    def mark_published(self, event_ids: Sequence[str]) -> None: ...

    def mark_failed(self, event_id: str, error: str) -> None: ...


@dataclass(frozen=True)
class RelayReport:
    published: int
    failed: int
    last_error: str | None = None


class OutboxRelay:
    """Publishes pending outbox events; one relay per outbox (a single writer of its marks).

    Parameters
    ----------
    outbox : Outbox
        Usually the :class:`~online_learning.metrics_store.MetricsStore`.
    publisher : Publisher
        Usually a :class:`~online_learning.events.kafka.KafkaPublisher`.
    batch_size : int
        Events read per pass.
    """

    def __init__(self, outbox: Outbox, publisher: Publisher, batch_size: int = 100) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.outbox = outbox
        self.publisher = publisher
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def relay_once(self) -> RelayReport:
        """One pass over the outbox, until it is empty or the broker refuses a batch.

        Events of one batch are published in order; when any of them fails the pass stops, so
        a later event never overtakes an earlier one that is still waiting.
        """
        published, failed, last_error = 0, 0, None
        with self._lock:
            while True:
                events = self.outbox.pending_events(limit=self.batch_size)
                if not events:
                    break
                report = self.publisher.publish(events)
                if report.delivered:
                    self.outbox.mark_published(report.delivered)
                    published += len(report.delivered)
                for event_id, error in report.failed.items():
                    self.outbox.mark_failed(event_id, error)
                    failed += 1
                    last_error = error
                if report.failed or len(events) < self.batch_size:
                    break
        if failed:
            logger.warning("outbox relay: %d events wait for the broker (%s)", failed, last_error)
        return RelayReport(published=published, failed=failed, last_error=last_error)

    def run(
        self,
        stop: threading.Event,
        interval_s: float = 1.0,
        *,
        wake: threading.Event | None = None,
        health: ComponentHealth | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        """Relay until ``stop`` is set (for a background thread of a long-running process).

        A pass runs every ``interval_s`` seconds, or at once when ``wake`` is set. A pass that
        fails (the metrics store unreachable) is retried after a growing delay (``backoff``,
        0.5 s doubling to 30 s by default) instead of every interval; the outage is logged
        once and shown in ``health`` (the ``outbox_relay`` component by default).
        """
        health = health or ComponentHealth("outbox_relay", logger=logger)
        backoff = backoff or Backoff()
        while not stop.is_set():
            delay = interval_s
            try:
                self.relay_once()
            except Exception as exc:  # a broken pass must not kill the relay thread; it retries
                delay = backoff.next()
                # StoreError names its component; anything else is the relay's own failure.
                health.dependency_failed(_dependency(exc), exc, retry_in_s=delay)
            else:
                for dependency in ("metrics store", "outbox"):
                    health.dependency_ok(dependency)
                backoff.reset()
            if wake is None:
                stop.wait(delay)
            else:
                wake.wait(delay)
                wake.clear()
        health.set_state("stopped")


def _dependency(exc: BaseException) -> str:
    component = getattr(exc, "component", None)
    return component if isinstance(component, str) else "outbox"
