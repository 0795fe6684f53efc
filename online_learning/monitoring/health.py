"""Health of the long-running components: their state, the dependencies they wait for.

A feedback worker, an outbox relay or a notifier that loses its metrics store or its broker
does not exit: it waits, retrying with a bounded backoff (:class:`Backoff`), and resumes where
it stood. :class:`ComponentHealth` is what such a component tells the outside about it: every
change of state and every outage is logged once (a warning when a dependency goes, an info line
with the outage's length when it is back), and exposed to Prometheus in the process's default
registry (served by the API's ``/metrics``, or by :func:`serve_metrics` in a worker):

=================================================  =======  ===============================
metric                                             type     labels
=================================================  =======  ===============================
``online_learning_component_state``                gauge    component, instance, state
``online_learning_dependency_up``                  gauge    component, instance, dependency
``online_learning_dependency_down_seconds``        gauge    component, instance, dependency
``online_learning_dependency_last_outage_seconds``  gauge   component, instance, dependency
``online_learning_dependency_outages_total``       counter  component, instance, dependency
``online_learning_dependency_retries_total``       counter  component, instance, dependency
``online_learning_component_events_total``         counter  component, instance, event
=================================================  =======  ===============================

``state`` is one of :data:`STATES` (1 for the current one, 0 for the others): ``waiting`` at
start-up until the dependencies answer, ``running``, ``paused`` while a dependency is down
(consumption paused, the group kept), ``stopped``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import REGISTRY
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

__all__ = ["STATES", "Backoff", "ComponentHealth", "serve_metrics", "wait_until"]

STATES: tuple[str, ...] = ("waiting", "running", "paused", "stopped")

_log = logging.getLogger(__name__)


class Backoff:
    """Delays of a bounded exponential backoff: ``first_s``, doubling up to ``max_s``.

    Each delay is spread by up to ``jitter`` of itself (so that many workers do not retry in
    step); :meth:`reset` starts again from ``first_s``.

    Examples
    --------
    >>> backoff = Backoff(first_s=1.0, max_s=8.0, jitter=0.0)
    >>> [backoff.next() for _ in range(5)]
    [1.0, 2.0, 4.0, 8.0, 8.0]
    >>> backoff.reset(); backoff.next()
    1.0
    """

    def __init__(
        self,
        *,
        first_s: float = 0.5,
        max_s: float = 30.0,
        factor: float = 2.0,
        jitter: float = 0.1,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < first_s <= max_s or factor < 1 or not 0 <= jitter < 1:
            raise ValueError("need 0 < first_s <= max_s, factor >= 1 and 0 <= jitter < 1")
        self.first_s, self.max_s, self.factor, self.jitter = first_s, max_s, factor, jitter
        self._rng = rng or random.Random()
        self.attempts = 0

    def next(self) -> float:
        """The delay before the next attempt (and count the attempt)."""
        delay = min(self.first_s * self.factor**self.attempts, self.max_s)
        self.attempts += 1
        if self.jitter:
            delay *= 1 + self.jitter * (2 * self._rng.random() - 1)
        return delay

    def reset(self) -> None:
        self.attempts = 0


@dataclass
class _Dependency:
    up: bool = True
    down_since: float | None = None
    outages: int = 0
    retries: int = 0
    last_outage_s: float = 0.0
    last_error: str | None = None


class ComponentHealth:
    """State of one component and of the dependencies it needs (see the module doc).

    Parameters
    ----------
    component : str
        ``feedback_worker``, ``outbox_relay``, ``notifier``, ...
    instance : str
        Tells apart components of one kind in one process (a worker id); ``""`` by default.
    logger : logging.Logger, optional
        Where state changes are logged (this module's logger by default).
    clock : callable
        Monotonic seconds (tests pass a fake one).

    Examples
    --------
    >>> health = ComponentHealth("doc_relay", clock=iter([0.0, 20.5]).__next__)
    >>> health.dependency_failed("metrics store", OSError("connection refused"))
    >>> health.state, health.is_down("metrics store")
    ('paused', True)
    >>> round(health.dependency_ok("metrics store"), 1), health.state
    (20.5, 'running')
    """

    def __init__(
        self,
        component: str,
        *,
        instance: str = "",
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.component, self.instance = component, instance
        self.logger = logger or _log
        self._clock = clock
        self._lock = threading.Lock()
        self._state = "running"
        self._dependencies: dict[str, _Dependency] = {}
        self._events: dict[str, int] = {}
        _register(self)

    # -- state ----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def set_state(self, state: str, why: str = "") -> None:
        """Enter ``state`` (one of :data:`STATES`); logged when it changes."""
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {state!r}")
        with self._lock:
            changed, self._state = self._state != state, state
        if changed:
            self.logger.info("%s: %s%s", self._name, state, f" ({why})" if why else "")

    def count(self, event: str, n: int = 1) -> None:
        """Count ``n`` occurrences of ``event`` (``dead_lettered``, ``restarted``, ...)."""
        with self._lock:
            self._events[event] = self._events.get(event, 0) + n

    def events(self) -> dict[str, int]:
        with self._lock:
            return dict(self._events)

    # -- dependencies ---------------------------------------------------------------------
    def is_down(self, dependency: str) -> bool:
        found = self._dependencies.get(dependency)
        return found is not None and not found.up

    def dependency_failed(
        self, dependency: str, error: BaseException | str, *, retry_in_s: float | None = None
    ) -> None:
        """``dependency`` did not answer: the first failure starts an outage (a warning and
        the ``paused`` state), later ones count as retries."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        with self._lock:
            found = self._dependencies.setdefault(dependency, _Dependency())
            found.last_error = text
            first = found.up
            if first:
                found.up, found.down_since = False, self._clock()
                found.outages += 1
            else:
                found.retries += 1
        if first:
            retry = "" if retry_in_s is None else f"; retrying in {retry_in_s:.1f} s"
            self.logger.warning("%s: %s unavailable (%s)%s", self._name, dependency, text, retry)
            if self._state == "running":
                self.set_state("paused", f"waiting for the {dependency}")

    def dependency_ok(self, dependency: str) -> float | None:
        """``dependency`` answered: the seconds its outage lasted (None if there was none)."""
        with self._lock:
            found = self._dependencies.setdefault(dependency, _Dependency())
            if found.up:
                return None
            lasted = self._clock() - (found.down_since or 0.0)
            found.up, found.down_since, found.last_outage_s = True, None, lasted
            retries = found.retries
            others_down = any(not d.up for d in self._dependencies.values())
        self.logger.info(
            "%s: %s back after %.1f s (%d retries)", self._name, dependency, lasted, retries
        )
        if self._state == "paused" and not others_down:
            self.set_state("running", f"the {dependency} answers")
        return lasted

    def snapshot(self) -> dict:
        """The state and each dependency's, as plain data (for status lines)."""
        now = self._clock()
        with self._lock:
            return {
                "state": self._state,
                "dependencies": {
                    name: {
                        "up": d.up,
                        "down_s": 0.0 if d.up else round(now - (d.down_since or now), 3),
                        "outages": d.outages,
                        "retries": d.retries,
                        "last_outage_s": round(d.last_outage_s, 3),
                    }
                    for name, d in self._dependencies.items()
                },
                "events": dict(self._events),
            }

    @property
    def _name(self) -> str:
        return f"{self.component} {self.instance}".strip()

    def _metrics(self, now: float) -> Iterator[tuple[str, tuple[str, ...], float]]:
        with self._lock:
            labels = (self.component, self.instance)
            for state in STATES:
                yield "state", (*labels, state), float(self._state == state)
            for name, d in self._dependencies.items():
                down = 0.0 if d.up else now - (d.down_since or now)
                yield "up", (*labels, name), float(d.up)
                yield "down", (*labels, name), down
                yield "last", (*labels, name), d.last_outage_s
                yield "outages", (*labels, name), float(d.outages)
                yield "retries", (*labels, name), float(d.retries)
            for event, n in self._events.items():
                yield "events", (*labels, event), float(n)


def wait_until(
    check: Callable[[], object],
    *,
    health: ComponentHealth,
    dependency: str,
    stop: threading.Event | None = None,
    backoff: Backoff | None = None,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
) -> bool:
    """Call ``check`` until it returns without raising one of ``retry_on``; False if
    ``stop`` was set first. The component is ``waiting`` meanwhile, each failure logged as
    the dependency's outage (see :class:`ComponentHealth`).

    Examples
    --------
    >>> answers = iter([ConnectionError("refused"), ConnectionError("refused"), "ok"])
    >>> def check():
    ...     answer = next(answers)
    ...     if isinstance(answer, Exception):
    ...         raise answer
    >>> health = ComponentHealth("doc_waiter")
    >>> wait_until(check, health=health, dependency="broker",
    ...            backoff=Backoff(first_s=0.001, max_s=0.001))
    True
    >>> health.snapshot()["dependencies"]["broker"]["retries"]
    1
    """
    backoff = backoff or Backoff()
    stop = stop or threading.Event()
    previous = health.state
    health.set_state("waiting", f"for the {dependency}")
    try:
        while not stop.is_set():
            try:
                check()
            except retry_on as exc:
                delay = backoff.next()
                health.dependency_failed(dependency, exc, retry_in_s=delay)
                stop.wait(delay)
                continue
            health.dependency_ok(dependency)
            return True
        return False
    finally:
        health.set_state(previous if previous != "waiting" else "running")


# -- exposition ---------------------------------------------------------------------------
_components: dict[tuple[str, str], weakref.ReferenceType[ComponentHealth]] = {}
_components_lock = threading.Lock()
_collector_registered = False

_FAMILIES = {
    "state": ("gauge", "online_learning_component_state", "The component's state: 1 for the "
              "current one.", ("component", "instance", "state")),
    "up": ("gauge", "online_learning_dependency_up", "1 while the dependency answers.",
           ("component", "instance", "dependency")),
    "down": ("gauge", "online_learning_dependency_down_seconds", "How long the current outage "
             "of the dependency has lasted (0 while it answers).",
             ("component", "instance", "dependency")),
    "last": ("gauge", "online_learning_dependency_last_outage_seconds", "Length of the last "
             "finished outage of the dependency.", ("component", "instance", "dependency")),
    "outages": ("counter", "online_learning_dependency_outages", "Outages of the dependency "
                "seen by the component.", ("component", "instance", "dependency")),
    "retries": ("counter", "online_learning_dependency_retries", "Failed retries during "
                "outages of the dependency.", ("component", "instance", "dependency")),
    "events": ("counter", "online_learning_component_events", "Events counted by the "
               "component (dead_lettered, refused_by_store, restarted, ...).",
               ("component", "instance", "event")),
}  # fmt: skip


class _HealthCollector:
    def collect(self) -> Iterable[Metric]:
        families: dict[str, Metric] = {}
        for key, (kind, name, text, labels) in _FAMILIES.items():
            cls = GaugeMetricFamily if kind == "gauge" else CounterMetricFamily
            families[key] = cls(name, text, labels=list(labels))
        now = time.monotonic()
        with _components_lock:
            alive = [ref() for ref in _components.values()]
        for health in alive:
            if health is None:
                continue
            for key, labels, value in health._metrics(now):
                families[key].add_metric(list(labels), value)
        return list(families.values())

    def describe(self) -> Iterable[Metric]:
        return []


def _register(health: ComponentHealth) -> None:
    global _collector_registered
    with _components_lock:
        _components[(health.component, health.instance)] = weakref.ref(health)
        if not _collector_registered:
            REGISTRY.register(_HealthCollector())
            _collector_registered = True


def serve_metrics(port: int, host: str = "127.0.0.1") -> int:
    """Serve the process's default registry (``GET /metrics``) on ``host:port`` from a
    daemon thread; ``port`` 0 picks a free one. Returns the port."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host)
    return int(server.server_port)
