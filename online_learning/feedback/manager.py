"""The adaptive model manager: periodic checks that start adaptations for their own reasons.

Drift detectors react to one stream at a time, at the moment they fire. Every ``interval``
(5 minutes by default) :class:`AdaptiveModelManager` looks at every watched model and symbol
this process owns and asks for an adaptation, through the same path as a detection (a drift
record, a ``model_drift`` event, a Prefect event, one cool-down per model), when:

``drift``
    a detector is still in drift and the model has had no adaptation request since that
    detection (its request was absorbed by the cool-down, which has passed since);
``performance``
    the recent realised performance breaks a threshold (rolling Sharpe ratio or hit rate
    over at least ``min_outcomes`` outcomes);
``regime_change``
    the :class:`~online_learning.feedback.regime.RegimeClassifier` says the symbol's regime
    changed and the new one held for ``confirmations`` checks: the specialist of the new
    regime is adapted (its window now holds the new regime's days).

It decides and requests; the orchestrator adapts.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from online_learning.errors import ConfigError
from online_learning.events.schema import MODEL_DRIFT_TOPIC
from online_learning.feedback.drift_watch import ONLINE_MODEL_ID, WatchSnapshot
from online_learning.feedback.regime import RegimeClassifier
from online_learning.metrics_store.drift_store import DriftStore
from online_learning.metrics_store.feedback_records import DriftRecord

__all__ = ["AdaptiveModelManager", "ManagerThresholds"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ManagerThresholds:
    """When realised performance asks for an adaptation.

    ``min_sharpe`` applies to the annualised rolling Sharpe ratio of the watch's window
    (100 outcomes by default), ``min_hit_rate`` to its share of winning trades; neither is
    judged on fewer than ``min_outcomes`` outcomes. ``confirmations`` is how many consecutive
    checks a new regime must hold before it counts as a change.
    """

    min_outcomes: int = 50
    min_sharpe: float = -1.0
    min_hit_rate: float = 0.42
    confirmations: int = 2

    def __post_init__(self) -> None:
        if not (isinstance(self.min_outcomes, int) and self.min_outcomes >= 2):
            raise ConfigError(f"min_outcomes must be an integer >= 2, got {self.min_outcomes!r}")
        if not 0.0 <= self.min_hit_rate <= 1.0:
            raise ConfigError(f"min_hit_rate must be in [0, 1], got {self.min_hit_rate!r}")
        if not (isinstance(self.confirmations, int) and self.confirmations >= 1):
            raise ConfigError(f"confirmations must be an integer >= 1, got {self.confirmations!r}")


class AdaptiveModelManager:
    """Checks watches on an interval and requests adaptations (see the module docstring).

    Parameters
    ----------
    snapshots : callable
        Returns the :class:`WatchSnapshot` of every watch the process owns
        (``FeedbackWorker.watch_snapshots`` or ``FeedbackService.watch_snapshots``).
    drift : DriftStore
        Where requests are recorded (and the cool-down read).
    thresholds : ManagerThresholds, optional
    classifier : RegimeClassifier, optional
    cooldown : timedelta
        The model's cool-down between two adaptation requests (as for detections).
    on_request : callable, optional
        Called after requests were recorded (e.g. to wake the notifier).

    Examples
    --------
    >>> from online_learning.metrics_store import MetricsStore
    >>> store = MetricsStore("sqlite://")
    >>> store.migrate()
    >>> from online_learning.feedback.drift_watch import PerformanceView
    >>> losing = WatchSnapshot("bull_specialist", "AAA", 120, PerformanceView(100, -0.002,
    ...     -2.5, 0.38), {}, None, None, None)
    >>> manager = AdaptiveModelManager(lambda: [losing], DriftStore(store))
    >>> [(r.model_id, r.reason, r.detectors) for r in manager.check()]
    [('bull_specialist', 'performance', ('sharpe', 'hit_rate'))]
    >>> manager.check()  # inside the model's cool-down: nothing new
    []
    >>> store.dispose()
    """

    def __init__(
        self,
        snapshots: Callable[[], Sequence[WatchSnapshot]],
        drift: DriftStore,
        *,
        thresholds: ManagerThresholds | None = None,
        classifier: RegimeClassifier | None = None,
        cooldown: timedelta = timedelta(hours=4),
        drift_topic: str = MODEL_DRIFT_TOPIC,
        on_request: Callable[[], None] | None = None,
    ) -> None:
        self.snapshots = snapshots
        self.drift = drift
        self.thresholds = thresholds or ManagerThresholds()
        self.classifier = classifier or RegimeClassifier()
        self.cooldown = cooldown
        self.drift_topic = drift_topic
        self.on_request = on_request
        self.requests = 0
        self.checks = 0
        self._regimes: dict[str, str] = {}  # symbol -> regime in force
        self._candidates: dict[str, tuple[str, int]] = {}  # symbol -> (new regime, checks)

    def _record(self, model_id, symbol, reason, triggers, snapshot, now, extra) -> DriftRecord:
        return DriftRecord(
            drift_id=str(uuid.uuid4()),
            model_id=model_id,
            symbol=symbol,
            reason=reason,
            detectors=tuple(triggers),
            statistics={
                "trigger": {"source": "adaptive_manager", **extra},
                "performance": snapshot.performance.to_dict(),
                "detectors": {k: dict(v) for k, v in snapshot.detectors.items()},
            },
            n_outcomes=snapshot.n_outcomes,
            detected_at=now,
        )

    def _regime_change(self, latest: WatchSnapshot) -> tuple[str, dict] | None:
        features = latest.last_features
        try:
            view = self.classifier.classify(features or {})
        except ConfigError:
            return None  # outcomes without the regime features: nothing to say
        symbol = latest.symbol
        current = self._regimes.get(symbol)
        if current is None:
            self._regimes[symbol] = view.regime
            return None
        if view.regime == current:
            self._candidates.pop(symbol, None)
            return None
        regime, seen = self._candidates.get(symbol, (view.regime, 0))
        seen = seen + 1 if regime == view.regime else 1
        self._candidates[symbol] = (view.regime, seen)
        if seen < self.thresholds.confirmations:
            return None
        self._regimes[symbol] = view.regime
        self._candidates.pop(symbol, None)
        return view.specialist, {"from": current, "to": view.regime, **view.to_dict()}

    def check(self, *, now: datetime | None = None) -> list[DriftRecord]:
        """One pass over the watches; returns the requests recorded (cool-down applied)."""
        now = now or datetime.now(UTC)
        self.checks += 1
        limits = self.thresholds
        wanted: dict[str, DriftRecord] = {}  # one request per model and pass
        snapshots = list(self.snapshots())
        latest_by_symbol: dict[str, WatchSnapshot] = {}
        for snap in snapshots:
            best = latest_by_symbol.get(snap.symbol)
            if best is None or (snap.last_outcome_at or now) > (best.last_outcome_at or now):
                latest_by_symbol[snap.symbol] = snap
        for snap in snapshots:
            if snap.model_id == ONLINE_MODEL_ID or snap.model_id in wanted:
                continue
            in_drift = sorted(n for n, s in snap.detectors.items() if s.get("drift_detected"))
            last = self.drift.last_request(snap.model_id)
            if last is not None and now - last < self.cooldown:
                continue
            perf = snap.performance
            if (
                in_drift
                and snap.last_detection_at
                and (last is None or last < snap.last_detection_at)
            ):
                wanted[snap.model_id] = self._record(
                    snap.model_id, snap.symbol, "drift", in_drift, snap, now, {}
                )
            elif perf.n >= limits.min_outcomes:
                broken = []
                if perf.sharpe is not None and perf.sharpe < limits.min_sharpe:
                    broken.append("sharpe")
                if perf.hit_rate is not None and perf.hit_rate < limits.min_hit_rate:
                    broken.append("hit_rate")
                if broken:
                    extra = {"min_sharpe": limits.min_sharpe, "min_hit_rate": limits.min_hit_rate}
                    wanted[snap.model_id] = self._record(
                        snap.model_id, snap.symbol, "performance", broken, snap, now, extra
                    )
        for symbol, snap in sorted(latest_by_symbol.items()):
            change = self._regime_change(snap)
            if change is None:
                continue
            specialist, extra = change
            if specialist in wanted:
                continue
            last = self.drift.last_request(specialist)
            if last is None or now - last >= self.cooldown:
                wanted[specialist] = self._record(
                    specialist, symbol, "regime_change", ["regime_classifier"], snap, now, extra
                )
        if not wanted:
            return []
        stored = self.drift.record(list(wanted.values()), cooldown=self.cooldown,
                                   topic=self.drift_topic)  # fmt: skip
        requested = [r for r in stored if r.adaptation_requested]
        self.requests += len(requested)
        for record in requested:
            logger.info("adaptation of %s requested (%s on %s)", record.model_id, record.reason,
                        record.symbol)  # fmt: skip
        if self.on_request is not None:
            self.on_request()
        return requested

    def run(self, stop: threading.Event, *, interval_s: float = 300.0) -> None:
        """Check every ``interval_s`` seconds until ``stop`` is set."""
        while not stop.wait(interval_s):
            try:
                self.check()
            except Exception:  # a failed pass (store down) must not end the loop
                logger.exception("adaptive model manager check failed")
