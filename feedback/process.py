"""One feedback process: the worker, the outbox relay, the Prefect notifier, the manager.

The worker's loop runs in the calling thread (the one writer of its symbols); the others run
in daemon threads and only read the store or write their own rows, so a broker or Prefect
outage never stops learning: drift rows are recorded, their events wait in the outbox, and
the adaptation requests are retried by the notifier. A metrics store outage pauses the worker
and backs the relay and the notifier off (see :mod:`feedback.worker`); at start-up
:func:`wait_for_dependencies` waits for the store and the broker instead of exiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta

from confluent_kafka import KafkaException

from feedback.worker import FeedbackWorker, _worker_id
from online_learning.events.kafka import KafkaPublisher, ensure_topics
from online_learning.events.relay import OutboxRelay
from online_learning.feedback.notifier import AdaptationNotifier
from online_learning.metrics_store import MetricsStore, StoreUnavailableError
from online_learning.metrics_store.drift_store import DriftStore
from online_learning.monitoring.health import ComponentHealth, wait_until
from online_learning.registry.known import KnownModels

logger = logging.getLogger(__name__)

Report = Callable[[dict], None]


def prefect_emit():
    """``flows.events.emit_drift_event`` when ``PREFECT_API_URL`` is set, else None."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return None
    from flows.events import emit_drift_event

    return emit_drift_event


def prefect_probe(model_id: str) -> bool:
    """Whether an adaptation (or update) run of ``model_id`` is due, pending or running."""
    from prefect.client.orchestration import get_client

    from flows.jobs import in_flight

    with get_client(sync_client=True) as client:
        return bool(in_flight(client, model_id))


def wait_for_dependencies(
    store: MetricsStore,
    bootstrap_servers: str,
    topics: list[tuple[list[str], int]],
    *,
    health: ComponentHealth,
    stop: threading.Event,
) -> bool:
    """Start-up: wait until the metrics store migrates and the broker has ``topics``
    (``[(names, partitions), ...]``), retrying each with a bounded backoff; False when
    ``stop`` was set first. A misconfigured store (not an outage) raises at once."""
    if not wait_until(store.migrate, health=health, dependency="metrics store", stop=stop,
                      retry_on=(StoreUnavailableError,)):  # fmt: skip
        return False

    def create_topics() -> None:
        for names, partitions in topics:
            ensure_topics(bootstrap_servers, names, partitions=partitions)

    return wait_until(create_topics, health=health, dependency="broker", stop=stop,
                      retry_on=(KafkaException, RuntimeError))  # fmt: skip


class FeedbackProcess:
    """Everything ``online-learning feedback-worker`` runs, from the settings.

    ``relay``, ``notify_prefect`` and ``manager`` switch the helper threads; the notifier
    needs ``PREFECT_API_URL`` (without it requests wait in the store for a notifier that has
    one). ``any_model`` accepts any model id instead of the registry's.
    """

    def __init__(
        self,
        config,
        store: MetricsStore,
        *,
        partitions: int = 4,
        batch_size: int = 2000,
        commit_interval_s: float | None = None,
        worker_id: str | None = None,
        relay: bool = True,
        notify_prefect: bool = True,
        manager: bool = True,
        any_model: bool = False,
        on_batch: Report | None = None,
        emit=None,
        bootstrap_servers: str | None = None,
        health: ComponentHealth | None = None,
    ) -> None:
        self.config = config
        self.store = store
        bootstrap = bootstrap_servers or config.kafka_bootstrap_servers
        self.bootstrap_servers = bootstrap
        worker_id = worker_id or _worker_id()
        self.health = health or ComponentHealth("feedback_worker", instance=worker_id)
        ensure_topics(bootstrap, [config.trade_outcomes_topic], partitions=partitions)
        ensure_topics(bootstrap, [config.trade_outcomes_dlq_topic, config.model_drift_topic])
        known = None
        if not any_model:
            from online_learning.registry import MlflowRegistry

            known = KnownModels(MlflowRegistry.from_settings(config).list_models, ttl_s=60.0)
        self.drift = DriftStore(store)
        self.notifier = None
        if notify_prefect:
            emit = emit or prefect_emit()
            if emit is None:
                logger.warning("PREFECT_API_URL is not set: adaptation requests wait in the store")
            else:
                self.notifier = AdaptationNotifier(self.drift, emit)
        self.worker = FeedbackWorker(
            bootstrap_servers=bootstrap,
            store=store,
            topic=config.trade_outcomes_topic,
            dlq_topic=config.trade_outcomes_dlq_topic,
            group=config.feedback_group,
            commit_interval_s=commit_interval_s or config.feedback_commit_interval_s,
            batch_size=batch_size,
            known_model_ids=known,
            drift_cooldown=timedelta(seconds=config.drift_cooldown_s),
            drift_topic=config.model_drift_topic,
            worker_id=worker_id,
            on_record=self._recorded,
            on_batch=on_batch,
            health=self.health,
        )
        self.publisher = KafkaPublisher(bootstrap) if relay else None
        self.relay = OutboxRelay(store, self.publisher) if relay else None
        self.manager = None
        if manager:
            from online_learning.feedback.manager import AdaptiveModelManager

            self.manager = AdaptiveModelManager(
                self.worker.watch_snapshots,
                self.drift,
                cooldown=timedelta(seconds=config.drift_cooldown_s),
                drift_topic=config.model_drift_topic,
                on_request=self._recorded,
            )
        self._relay_wake = threading.Event()

    def _recorded(self) -> None:
        if self.notifier is not None:
            self.notifier.wake.set()
        self._relay_wake.set()

    def _relay_loop(self, stop: threading.Event) -> None:
        health = ComponentHealth("outbox_relay", instance=self.worker.worker_id, logger=logger)
        self.relay.run(stop, 1.0, wake=self._relay_wake, health=health)

    def status(self) -> dict:
        stats = asdict(self.worker.stats)
        stats["event"] = "status"
        stats["worker_id"] = self.worker.worker_id
        stats["health"] = self.health.snapshot()
        if self.notifier is not None:
            stats["prefect"] = {"sent": self.notifier.sent, "failures": self.notifier.failures,
                                "given_up": self.notifier.given_up}  # fmt: skip
        if self.manager is not None:
            stats["manager_requests"] = self.manager.requests
        return stats

    def run(self, stop: threading.Event, *, report: Report | None = None, every_s: float = 10.0):
        """Run until ``stop`` is set; ``report(status)`` every ``every_s`` seconds."""
        threads = []
        if self.relay is not None:
            threads.append(threading.Thread(target=self._relay_loop, args=(stop,), daemon=True))
        if self.notifier is not None:
            health = ComponentHealth("notifier", instance=self.worker.worker_id, logger=logger)
            threads.append(threading.Thread(target=self.notifier.run, args=(stop,),
                                            kwargs={"health": health}, daemon=True))  # fmt: skip
        if self.manager is not None:
            interval = self.config.adaptive_interval_s
            manager = threading.Thread(
                target=self.manager.run, args=(stop,), kwargs={"interval_s": interval}, daemon=True
            )
            threads.append(manager)
        for thread in threads:
            thread.start()
        self.worker.subscribe()
        self.health.set_state("running")
        last = time.monotonic()
        try:
            while not stop.is_set():
                self.worker.poll_once(0.5)
                if report is not None and time.monotonic() - last >= every_s:
                    last = time.monotonic()
                    report(self.status())
        finally:
            self.worker.close()
            stop.set()
            self._relay_wake.set()
            if self.notifier is not None:
                self.notifier.wake.set()
            for thread in threads:
                thread.join(timeout=10)
            if self.relay is not None:
                try:
                    self.relay.relay_once()  # what the last recording added
                finally:
                    self.publisher.close()
            self.health.set_state("stopped")
            if report is not None:
                report(self.status())
