"""Adaptation requests to the orchestrator: retried, counted, never raised into the learner.

A drift that requests an adaptation is stored with ``prefect_status = "pending"`` in the same
transaction as everything the learner recorded. :class:`AdaptationNotifier` sends the pending
ones through an ``emit`` function (the Prefect adapter passes
``flows.events.emit_drift_event``) from its own thread: an orchestrator that is down delays
the request, retried with a growing delay, and counts a failure; learning never waits for it.
A request still unsent ``give_up_after`` after its detection is marked ``failed`` (an
adaptation hours late would train on a window that no longer shows the problem).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from online_learning.metrics_store.drift_store import DriftStore
from online_learning.metrics_store.errors import StoreError
from online_learning.metrics_store.feedback_records import DriftRecord
from online_learning.monitoring.health import Backoff, ComponentHealth

__all__ = ["AdaptationNotifier"]

logger = logging.getLogger(__name__)

#: ``emit(model_id, *, reason, detectors, symbol, details, occurred)``; raises on failure.
Emit = Callable[..., Any]


class AdaptationNotifier:
    """Sends pending adaptation requests; one notifier per store is enough, more are safe.

    Parameters
    ----------
    drift : DriftStore
    emit : callable
        ``emit(model_id, reason=..., detectors=[...], symbol=..., details={...},
        occurred=datetime)``, returning once the orchestrator has the request.
    first_retry_s, max_retry_s : float
        Delay before the first retry, doubling up to ``max_retry_s``.
    give_up_after : timedelta
        Requests older than this (since detection) are marked ``failed``.

    Attributes
    ----------
    sent, failures, given_up : int
        Counters since construction.
    """

    def __init__(
        self,
        drift: DriftStore,
        emit: Emit,
        *,
        first_retry_s: float = 1.0,
        max_retry_s: float = 60.0,
        give_up_after: timedelta = timedelta(hours=1),
    ) -> None:
        self.drift = drift
        self.emit = emit
        self.first_retry_s = first_retry_s
        self.max_retry_s = max_retry_s
        self.give_up_after = give_up_after
        self.sent = 0
        self.failures = 0
        self.given_up = 0
        self.last_error: str | None = None
        self.wake = threading.Event()

    def _details(self, record: DriftRecord) -> dict[str, Any]:
        statistics = dict(record.statistics)
        return {
            "drift_id": record.drift_id,
            "n_outcomes": record.n_outcomes,
            "detected_at": record.detected_at.isoformat(),
            "performance": statistics.get("performance"),
            "trigger": statistics.get("trigger"),
        }

    def notify_once(self, *, now: datetime | None = None) -> int:
        """Send every due request once; returns how many were sent."""
        sent = 0
        for record in self.drift.pending_prefect(now=now):
            at = now or datetime.now(UTC)
            try:
                self.emit(
                    record.model_id,
                    reason=record.reason,
                    detectors=list(record.detectors),
                    symbol=record.symbol,
                    details=self._details(record),
                    occurred=record.detected_at,
                )
            except Exception as exc:  # any failure of the orchestrator: count, retry later
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                attempts = record.prefect_attempts + 1
                delay = min(self.first_retry_s * 2 ** (attempts - 1), self.max_retry_s)
                retry_at = at + timedelta(seconds=delay)
                if retry_at - record.detected_at > self.give_up_after:
                    retry_at = None
                    self.given_up += 1
                self.drift.mark_prefect_failed(record.drift_id, self.last_error, retry_at=retry_at)
                logger.warning(
                    "adaptation request %s for %s not sent (attempt %d): %s",
                    record.drift_id, record.model_id, attempts, self.last_error,
                )  # fmt: skip
                continue
            self.drift.mark_prefect_sent(record.drift_id, at=at)
            self.sent += 1
            sent += 1
        return sent

    def run(
        self,
        stop: threading.Event,
        *,
        interval_s: float = 1.0,
        health: ComponentHealth | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        """Notify until ``stop`` is set; :attr:`wake` makes it look at once.

        A pass that fails (the metrics store unreachable) is retried after a growing delay
        (``backoff``, 0.5 s doubling to 30 s by default), the outage logged once and shown in
        ``health`` (the ``notifier`` component by default).
        """
        health = health or ComponentHealth("notifier", logger=logger)
        backoff = backoff or Backoff()
        while not stop.is_set():
            delay = interval_s
            try:
                self.notify_once()
            except StoreError as exc:  # the store being down must not kill the thread
                delay = backoff.next()
                health.dependency_failed(exc.component, exc, retry_in_s=delay)
            except Exception:
                logger.exception("adaptation notifier pass failed")
            else:
                health.dependency_ok(StoreError.component)
                backoff.reset()
            self.wake.wait(delay)
            self.wake.clear()
        health.set_state("stopped")
