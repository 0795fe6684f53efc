"""Prometheus metrics of incremental updates, for dashboards and the alert rules.

:class:`UpdateMetrics` owns a :class:`~prometheus_client.CollectorRegistry` (its own unless one
is passed) and exposes, per ``model_id``:

==================================================  ==========  ===========================
metric                                              type        labels
==================================================  ==========  ===========================
``online_learning_update_duration_seconds``         histogram   model_id (0.1 s ... 2 h)
``online_learning_updates_total``                   counter     model_id, outcome
``online_learning_rollback_rate``                   gauge       model_id
``online_learning_consecutive_failed_updates``      gauge       model_id
``online_learning_sharpe_pre`` / ``_sharpe_post``   gauge       model_id
``online_learning_degradation_percent``             gauge       model_id
``online_learning_fisher_mean`` / ``_fisher_max``   gauge       model_id
``online_learning_fisher_nonfinite_values``         gauge       model_id
``online_learning_last_update_timestamp_seconds``   gauge       model_id
``online_learning_update_started_timestamp_seconds``  gauge     model_id
==================================================  ==========  ===========================

``outcome`` is ``promoted``, ``rolled_back``, ``failed`` (the update raised) or ``deferred``
(it waited for new validation days: nothing trained, nothing decided). All four are exposed
from the first time a model is seen, at 0, so that ``increase()`` counts the first event. The
rollback rate is ``rolled_back / (promoted + rolled_back + failed)`` over the life of the
counters, NaN before the first update; the alert rules use ``increase()`` of the counter over
a window instead. The Sharpe and degradation gauges describe the *last decided* update (NaN
when it had none, e.g. a failure; a deferral leaves them as they were);
``consecutive_failed_updates == 0`` means the last decided update was promoted (a deferral
neither resets nor extends the run). The Fisher gauges keep the last statistics reported with
``fisher_stats`` (from :meth:`online_learning.ewc.EWCState.stats`).

Exposing them
-------------
The serving process is long-lived and will serve ``/metrics`` from the registry
(``prometheus_client.make_asgi_app(registry=metrics.registry)``).

A batch run (the daily flow, the CLI) lives for one update and is usually gone before the next
scrape, so it leaves its numbers where Prometheus can read them later: a file for
node_exporter's textfile collector (``--collector.textfile.directory``; the name must end in
``.prom``), or a Pushgateway. Counters that restart at zero in every run would make
``increase()`` and the consecutive-failure count meaningless, so a run continues from the file
the previous run wrote, and publishes at the start too so that a long run shows while it runs::

    metrics = UpdateMetrics.from_textfile(path)
    with metrics.track(model_id, on_change=lambda m: m.write_textfile(path)):
        metrics.observe(learner.incremental_update(config))  # Fisher stats ride along
    metrics.push("pushgateway:9091", job="online-learning")  # optional

A run killed mid-update leaves ``update_started_timestamp_seconds`` set, so the "running over
60 minutes" alert also catches updates that died; the model's next finished update clears it.
A Pushgateway replaces every series of a pushed metric name within the push's grouping key, so
processes that update different models push with ``grouping_key={"model_id": ...}`` and keep
one state file per model.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import pushadd_to_gateway, write_to_textfile

from online_learning.monitoring._collector import (
    DURATION_BUCKETS,
    METRIC_NAMES,
    OUTCOMES,
    ModelState,
    UpdateCollector,
    parse_exposition,
)

__all__ = ["DURATION_BUCKETS", "METRIC_NAMES", "OUTCOMES", "Outcome", "UpdateMetrics"]

FISHER_KEYS = ("fisher_mean", "fisher_max", "fisher_nonfinite")


class Outcome(Protocol):
    """What :meth:`UpdateMetrics.observe` reads;
    :class:`~online_learning.update.outcomes.UpdateSuccess`
    and :class:`~online_learning.update.outcomes.RollbackResult` fit."""

    @property
    def model_id(self) -> str: ...
    @property
    def decision(self) -> str: ...
    @property
    def sharpe_pre(self) -> float: ...
    @property
    def sharpe_post(self) -> float: ...
    @property
    def degradation_pct(self) -> float: ...
    @property
    def duration_s(self) -> float: ...


def _model_id(model_id: object) -> str:
    if not isinstance(model_id, str) or not model_id:
        raise ValueError(f"model_id must be a non-empty string, got {model_id!r}")
    return model_id


def _duration(seconds: float) -> float:
    value = float(seconds)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"duration_s must be finite and >= 0, got {seconds!r}")
    return value


def _gauge(value: float | None) -> float:
    return math.nan if value is None else float(value)


class UpdateMetrics:
    """Metrics of incremental updates in one registry (see the module docstring).

    Thread-safe: one instance may be shared by the threads of a process; a scrape sees each
    update either entirely or not at all.

    Parameters
    ----------
    registry : CollectorRegistry, optional
        Registry to expose the metrics in; a new one by default. A second instance on the
        same registry raises ``ValueError`` (duplicated timeseries).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> metrics = UpdateMetrics()
    >>> metrics.observe(SimpleNamespace(model_id="bull", decision="rolled_back", sharpe_pre=1.2,
    ...                                 sharpe_post=0.9, degradation_pct=25.0, duration_s=42.0))
    >>> metrics.value("online_learning_updates_total", model_id="bull", outcome="rolled_back")
    1.0
    >>> metrics.value("online_learning_consecutive_failed_updates", model_id="bull")
    1.0
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        self._lock = threading.Lock()
        self._states: dict[str, ModelState] = {}
        self._running: set[str] = set()
        self.registry.register(UpdateCollector(self._snapshot))

    @classmethod
    def from_textfile(
        cls, path: str | PathLike[str], *, registry: CollectorRegistry | None = None
    ) -> UpdateMetrics:
        """Continue from an exposition written by :meth:`write_textfile`; fresh if it is missing.

        Counters, the duration histogram, the consecutive-failure count and the gauges are
        restored; other metrics in the file are ignored.

        Raises
        ------
        ValueError
            If the file's duration buckets differ from :data:`DURATION_BUCKETS` or a counter
            is not a non-negative integer.

        Examples
        --------
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "online_learning.prom")
        >>> first = UpdateMetrics.from_textfile(path)  # no file yet: starts at zero
        >>> first.observe_failure("bull", 3.0)
        >>> first.write_textfile(path)
        >>> second = UpdateMetrics.from_textfile(path)
        >>> second.observe_failure("bull", 2.0)
        >>> second.value("online_learning_consecutive_failed_updates", model_id="bull")
        2.0
        """
        metrics = cls(registry)
        file = Path(path)
        if file.exists():
            metrics._states = parse_exposition(file.read_text(encoding="utf-8"))
        return metrics

    def _state(self, model_id: str) -> ModelState:
        return self._states.setdefault(_model_id(model_id), ModelState())

    def _snapshot(self) -> dict[str, ModelState]:
        with self._lock:
            return {model_id: state.copy() for model_id, state in self._states.items()}

    def _finish(self, model_id: str, outcome: str, duration_s: float) -> None:
        state = self._states[model_id]
        if model_id not in self._running:
            state.started = 0.0  # e.g. restored from a run that died; this one has finished
        state.counts[outcome] += 1
        if outcome != "deferred":
            state.consecutive_failed = 0 if outcome == "promoted" else state.consecutive_failed + 1
        state.add_duration(duration_s)
        state.last_update = time.time()
        state.observations += 1

    def observe(self, outcome: Outcome, *, fisher_stats: Mapping[str, float] | None = None) -> None:
        """Record a finished update: an :class:`~online_learning.update.outcomes.UpdateSuccess`
        (``decision == "promoted"``), a :class:`~online_learning.update.outcomes.RollbackResult`
        (``"rolled_back"``), an :class:`~online_learning.update.outcomes.UpdateDeferred`
        (``"deferred"``: only the count and the duration move), or anything with the same
        attributes.

        Parameters
        ----------
        outcome : Outcome
            Its ``duration_s`` goes to the histogram; its Sharpe ratios and degradation
            replace the gauges (``None`` or NaN exposes NaN).
        fisher_stats : mapping, optional
            ``EWCState.stats()`` of the Fisher the update produced (``fisher_mean``,
            ``fisher_max``, ``fisher_nonfinite``; other keys are ignored). Defaults to the
            outcome's own ``fisher_stats`` attribute when it has a non-empty one. Without
            either, the Fisher gauges keep their values: a rollback before the Fisher step
            leaves the champion's Fisher as it was.

        Raises
        ------
        ValueError
            On an unknown decision, an empty ``model_id``, a negative or non-finite duration,
            or ``fisher_stats`` lacking a key.

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> metrics = UpdateMetrics()
        >>> promoted = SimpleNamespace(model_id="bear", decision="promoted", sharpe_pre=1.0,
        ...                            sharpe_post=1.1, degradation_pct=-10.0, duration_s=30.0)
        >>> metrics.observe(promoted, fisher_stats={"fisher_mean": 0.01, "fisher_max": 0.2,
        ...                                         "fisher_nonfinite": 0, "n_params": 914})
        >>> metrics.value("online_learning_fisher_max", model_id="bear")
        0.2
        >>> metrics.value("online_learning_update_duration_seconds_count", model_id="bear")
        1.0
        """
        decision = getattr(outcome, "decision", None)
        if decision not in ("promoted", "rolled_back", "deferred"):
            raise ValueError(
                f"decision must be 'promoted', 'rolled_back' or 'deferred', got {decision!r}"
            )
        duration = _duration(outcome.duration_s)
        if fisher_stats is None:
            fisher_stats = getattr(outcome, "fisher_stats", None) or None
        fisher = None
        if fisher_stats is not None:
            missing = [key for key in FISHER_KEYS if key not in fisher_stats]
            if missing:
                raise ValueError(f"fisher_stats lacks {missing}")
            fisher = {key: float(fisher_stats[key]) for key in FISHER_KEYS}
        sharpe = (_gauge(outcome.sharpe_pre), _gauge(outcome.sharpe_post))
        degradation = _gauge(outcome.degradation_pct)
        with self._lock:
            state = self._state(outcome.model_id)
            if decision != "deferred":
                state.sharpe_pre, state.sharpe_post = sharpe
                state.degradation = degradation
            if fisher is not None:
                for key, value in fisher.items():
                    setattr(state, key, value)
            self._finish(outcome.model_id, decision, duration)

    def observe_failure(self, model_id: str, duration_s: float) -> None:
        """Record an update that raised instead of returning an outcome.

        It counts as ``outcome="failed"`` and as a consecutive failure; the Sharpe and
        degradation gauges become NaN (the update measured nothing).
        :meth:`track` calls this itself when its body raises before :meth:`observe`.

        Examples
        --------
        >>> metrics = UpdateMetrics()
        >>> metrics.observe_failure("bull", 1.5)
        >>> metrics.value("online_learning_updates_total", model_id="bull", outcome="failed")
        1.0
        >>> metrics.value("online_learning_sharpe_post", model_id="bull")
        nan
        """
        duration = _duration(duration_s)
        with self._lock:
            state = self._state(model_id)
            state.sharpe_pre = state.sharpe_post = state.degradation = math.nan
            self._finish(model_id, "failed", duration)

    @contextmanager
    def track(
        self, model_id: str, *, on_change: Callable[[UpdateMetrics], None] | None = None
    ) -> Iterator[None]:
        """Mark an update of ``model_id`` as running for the duration of the block.

        ``update_started_timestamp_seconds`` is the start time inside the block and 0 after
        it, also when the block raises. If the block raises an ``Exception`` before
        :meth:`observe` recorded this model, the update counts as failed (with the block's
        wall time) and the exception propagates. ``on_change(self)`` is called after the
        gauge is set and after it is cleared, so a batch run can publish both.

        Raises
        ------
        RuntimeError
            If an update of ``model_id`` is already being tracked in this process.

        Examples
        --------
        >>> metrics = UpdateMetrics()
        >>> with metrics.track("bull"):
        ...     metrics.value("online_learning_update_started_timestamp_seconds",
        ...                   model_id="bull") > 0
        True
        >>> metrics.value("online_learning_update_started_timestamp_seconds", model_id="bull")
        0.0
        """
        with self._lock:
            state = self._state(model_id)
            if model_id in self._running:
                raise RuntimeError(f"an update of {model_id!r} is already being tracked")
            self._running.add(model_id)
            state.started = time.time()
            observations = state.observations
        begin = time.perf_counter()
        try:
            if on_change is not None:
                on_change(self)  # outside the inner try: failing to publish is not a failed update
            try:
                yield
            except Exception:
                with self._lock:
                    unrecorded = state.observations == observations
                if unrecorded:
                    self.observe_failure(model_id, time.perf_counter() - begin)
                raise
        finally:
            with self._lock:
                state.started = 0.0
                self._running.discard(model_id)
            if on_change is not None:
                on_change(self)

    def value(self, name: str, **labels: str) -> float | None:
        """The current value of one sample (e.g. ``"online_learning_updates_total"``), or
        ``None`` when no sample has that name and those labels. See the class example."""
        value = self.registry.get_sample_value(name, labels)
        return None if value is None else float(value)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format (what ``/metrics`` serves).

        Examples
        --------
        >>> metrics = UpdateMetrics()
        >>> metrics.observe_failure("bull", 1.0)
        >>> 'online_learning_updates_total{model_id="bull",outcome="failed"} 1.0' in (
        ...     metrics.render().decode())
        True
        """
        return generate_latest(self.registry)

    def write_textfile(self, path: str | PathLike[str]) -> None:
        """Write :meth:`render` to ``path`` atomically (a temporary file in the same folder,
        then a rename), as node_exporter's textfile collector needs; see
        :meth:`from_textfile` for an example."""
        write_to_textfile(str(path), self.registry)

    def push(
        self,
        gateway: str,
        job: str,
        *,
        grouping_key: Mapping[str, str] | None = None,
        timeout: float | None = 30,
    ) -> None:
        """Push to a Pushgateway (``POST /metrics/job/<job>[/<label>/<value>...]``).

        Series of the pushed metric names in the same job and grouping key are replaced;
        others are kept. ``gateway`` is ``host:port`` or a URL. Raises ``OSError`` (e.g.
        ``urllib.error.URLError``) when the gateway cannot be reached or refuses the push.
        """
        pushadd_to_gateway(
            gateway,
            job=job,
            registry=self.registry,
            grouping_key=dict(grouping_key) if grouping_key else None,
            timeout=timeout,
        )
