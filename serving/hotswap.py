"""The champions follow the registry without a restart: events, a poll, one writer.

:class:`HotSwap` owns the only calls to :meth:`ChampionHolder.load` / ``refresh`` (under one
lock): the holder loads a new champion beside the old one and swaps one reference, so a
request keeps the models it started with and none fails during a promotion.

- With a broker (``KAFKA_BOOTSTRAP_SERVERS``) a consumer thread reads ``model-updates`` in a
  consumer group of this replica's own (every replica sees every event), from the latest
  offset, and refreshes the model an event names at once.
- Always, a poll thread refreshes every model every ``ONLINE_LEARNING_REGISTRY_POLL_S``
  seconds: that is the mechanism without a broker, and with one it catches an alias moved
  without an event (``online-learning rollback``, a promotion by hand in MLflow). Until the
  first champions are loaded the same thread keeps trying to load them.

:class:`~online_learning.registry.known.KnownModels` caches the registry's model list for the
feedback path and the 404s.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable

from online_learning.errors import OnlineLearningError

__all__ = ["HotSwap"]

logger = logging.getLogger(__name__)


class HotSwap:
    """Keeps ``holder`` on the registry's champions (see the module docstring).

    Parameters
    ----------
    holder : ChampionHolder
    interval_s : float
        Seconds between two polls of the registry.
    on_loaded : callable
        Called once the champions are loaded (readiness).
    on_swap : callable
        Called with each model id swapped.
    bootstrap_servers, topic, group : str, optional
        The ``model-updates`` consumer; None: poll only.
    is_loaded : bool
        Whether the holder already holds champions (else the poll loads them first).
    upkeep : callable, optional
        Called every ``upkeep_interval_s`` seconds in a thread of its own once the champions
        are loaded (``ModelServingService.refresh_caches``).
    """

    def __init__(
        self,
        holder,
        *,
        interval_s: float,
        on_loaded: Callable[[], None],
        on_swap: Callable[[str], None],
        bootstrap_servers: str | None = None,
        topic: str = "model-updates",
        group: str | None = None,
        is_loaded: bool = False,
        upkeep: Callable[[], None] | None = None,
        upkeep_interval_s: float = 1.0,
    ) -> None:
        self.holder = holder
        self.interval_s = interval_s
        self.on_loaded = on_loaded
        self.on_swap = on_swap
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.group = group
        self.loaded = is_loaded
        self.upkeep = upkeep
        self.upkeep_interval_s = upkeep_interval_s
        self.events_seen = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._subscribed = threading.Event()

    # -- the one writer ------------------------------------------------------------------------
    def check(self, model_id: str | None = None) -> list[str]:
        """Load the champions if none are yet, else refresh ``model_id`` (all when None);
        returns the model ids swapped."""
        with self._lock:
            if not self.loaded:
                try:
                    self.holder.load()
                finally:  # a champion that failed to load does not stop the others serving
                    if getattr(self.holder, "loaded", True):
                        self.loaded = True
                        self.on_loaded()
                return []
            swapped = list(self.holder.refresh(model_id))
        for swapped_id in swapped:
            logger.info("serving the new champion of %s", swapped_id)
            self.on_swap(swapped_id)
        return swapped

    def _safely(self, model_id: str | None = None) -> None:
        try:
            self.check(model_id)
        except OnlineLearningError as exc:  # no champions yet, registry down: try again later
            logger.info("champions not refreshed: %s", exc)
        except Exception:
            logger.exception("refreshing the champions failed")

    # -- threads -------------------------------------------------------------------------------
    def start(self) -> HotSwap:
        self._threads.append(threading.Thread(target=self._poll, name="hotswap-poll", daemon=True))
        if self.upkeep is not None:
            self._threads.append(
                threading.Thread(target=self._upkeep, name="serving-upkeep", daemon=True)
            )
        if self.bootstrap_servers:
            self._threads.append(
                threading.Thread(target=self._consume, name="hotswap-events", daemon=True)
            )
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)

    def wait_subscribed(self, timeout_s: float) -> bool:
        """Wait until the ``model-updates`` consumer has its partitions (tests, start-up)."""
        return self._subscribed.wait(timeout_s)

    def _poll(self) -> None:
        while not self._stop.wait(self.interval_s if self.loaded else min(self.interval_s, 2.0)):
            self._safely()

    def _upkeep(self) -> None:
        # The service's caches (realised performance, sessions) are refreshed here, off the
        # request path, so that a prediction never waits for the database.
        while not self._stop.wait(self.upkeep_interval_s):
            if not self.loaded:
                continue
            try:
                self.upkeep()
            except Exception:
                logger.exception("refreshing the serving caches failed")

    def _consume(self) -> None:
        from confluent_kafka import Consumer, KafkaException

        from online_learning.events.kafka import consumer_config

        config = consumer_config(
            self.bootstrap_servers,
            self.group,
            **{"auto.offset.reset": "latest", "enable.auto.commit": False},
        )
        consumer = Consumer(config)
        try:
            consumer.subscribe([self.topic], on_assign=lambda *_: self._subscribed.set())
            while not self._stop.is_set():
                try:
                    message = consumer.poll(0.5)
                except KafkaException as exc:
                    logger.warning("model-updates consumer: %s", exc)
                    time.sleep(1.0)
                    continue
                if message is None or message.error():
                    continue
                model_id = _model_of(message.value())
                self.events_seen += 1
                if model_id is not None and model_id in set(_ids(self.holder)):
                    self._safely(model_id)
        finally:
            consumer.close()


def _model_of(value: bytes | None) -> str | None:
    try:
        event = json.loads(value or b"")
    except ValueError:
        return None
    model_id = event.get("model_id") if isinstance(event, dict) else None
    return model_id if isinstance(model_id, str) else None


def _ids(holder) -> Iterable[str]:
    return getattr(holder, "model_ids", ())
