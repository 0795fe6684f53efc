"""Drift watched per model and symbol on the stream of realised ``pnl``.

A :class:`DriftWatch` feeds the ``pnl`` of each outcome that credits one model on one symbol
to a :class:`~online_learning.feedback.drift.DriftMonitor` (ADWIN, Page-Hinkley and the
losing-trades DDM by default) and turns its signals into :class:`Detection` objects. It only
detects: whether a detection starts an adaptation is decided when it is recorded (the
model's cool-down, shared by every worker through the metrics store).
"""

from __future__ import annotations

import math
import pickle
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from online_learning.feedback.drift import CooldownPolicy, DriftDetector, DriftMonitor
from online_learning.feedback.trade_outcome import TradeOutcome
from online_learning.metrics_store.feedback_records import DriftRecord, WatchState
from online_learning.stats import annualise

__all__ = ["ONLINE_MODEL_ID", "Detection", "DriftWatch", "PerformanceView", "WatchSnapshot"]

#: Model id under which outcomes that name no model are watched: the symbol's online
#: session made the prediction. Its drift is recorded and published, but no adaptation
#: flow applies (there is no registry model to retrain).
ONLINE_MODEL_ID = "online"


@dataclass(frozen=True)
class PerformanceView:
    """Realised performance of the last ``n`` outcomes of a watch."""

    n: int
    mean_pnl: float | None
    sharpe: float | None
    hit_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean_pnl": self.mean_pnl, "sharpe": self.sharpe,
                "hit_rate": self.hit_rate}  # fmt: skip


@dataclass(frozen=True)
class WatchSnapshot:
    """What the adaptive model manager reads of a watch (a copy; the watch moves on)."""

    model_id: str
    symbol: str
    n_outcomes: int
    performance: PerformanceView
    detectors: Mapping[str, Mapping[str, Any]]
    last_detection_at: datetime | None
    last_features: Mapping[str, float] | None
    last_outcome_at: datetime | None


@dataclass(frozen=True)
class Detection:
    """Detectors of one watch fired on one outcome."""

    drift_id: str
    model_id: str
    symbol: str
    detectors: tuple[str, ...]
    detected_at: datetime
    n_outcomes: int
    statistics: Mapping[str, Any]

    def to_record(self) -> DriftRecord:
        return DriftRecord(
            drift_id=self.drift_id,
            model_id=self.model_id,
            symbol=self.symbol,
            reason="drift",
            detectors=self.detectors,
            statistics=self.statistics,
            n_outcomes=self.n_outcomes,
            detected_at=self.detected_at,
            request_adaptation=self.model_id != ONLINE_MODEL_ID,
        )


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, 10) if math.isfinite(number) else None


def _inner_statistics(detector: DriftDetector) -> dict[str, float | None]:
    """What a River detector's state says, where it exposes it (best effort: ADWIN's window,
    Page-Hinkley's accumulated drop, DDM's loss rate; other detectors give nothing)."""
    inner = getattr(detector, "detector", detector)
    if hasattr(inner, "width") and hasattr(inner, "estimation"):
        names = {"width": "width", "estimation": "estimation", "variance": "variance",
                 "n_detections": "n_detections"}  # fmt: skip
    elif hasattr(inner, "_sum_decrease"):
        names = {"sum_decrease": "_sum_decrease", "max_decrease": "_max_decrease",
                 "sum_increase": "_sum_increase", "threshold": "threshold"}  # fmt: skip
    elif hasattr(inner, "_p_min"):
        names = {"loss_rate_min": "_p_min", "std_min": "_s_min"}
        stats = {k: _finite(getattr(inner, a, None)) for k, a in names.items()}
        p = getattr(inner, "_p", None)
        stats["loss_rate"] = _finite(p.get()) if hasattr(p, "get") else None
        return stats
    else:
        return {}
    return {k: _finite(getattr(inner, a, None)) for k, a in names.items()}


class DriftWatch:
    """Drift detection on one model's realised ``pnl`` on one symbol.

    Parameters
    ----------
    model_id : str
        The model credited by the outcomes (:data:`ONLINE_MODEL_ID` for the online session).
    symbol : str
    detectors : callable, optional
        Builds the named detectors (default
        :func:`~online_learning.feedback.drift.default_detectors`).
    warmup : int
        Outcomes before any detection counts (the detectors learn the reference level).
    min_gap : int
        Outcomes after a detection during which further signals are counted, not recorded:
        the detectors of one change fire a few outcomes apart.
    window : int
        Outcomes of the rolling realised-performance view (:meth:`performance`).

    Examples
    --------
    >>> import random
    >>> from datetime import UTC, datetime
    >>> rng = random.Random(0)
    >>> watch = DriftWatch("bull_specialist", "AAA")
    >>> found = []
    >>> for i in range(600):
    ...     pnl = rng.gauss(0.001 if i < 300 else -0.004, 0.01)
    ...     o = TradeOutcome(f"t-{i}", "AAA", datetime.now(UTC), {"x": 0.0}, pnl, pnl=pnl)
    ...     d = watch.update(o)
    ...     if d is not None:
    ...         found.append((d.n_outcomes - 1, d.detectors))
    >>> found[0][0] > 300
    True
    """

    def __init__(
        self,
        model_id: str,
        symbol: str,
        *,
        detectors: Callable[[], Mapping[str, DriftDetector]] | None = None,
        warmup: int = 20,
        min_gap: int = 50,
        window: int = 100,
    ) -> None:
        self.model_id = model_id
        self.symbol = symbol
        self.monitor = DriftMonitor(model_id, None if detectors is None else detectors(),
                                    warmup=warmup)  # fmt: skip
        self.policy = CooldownPolicy(cooldown=min_gap)
        self.min_gap = min_gap
        self.window = window
        self.n_outcomes = 0
        self.last_detection_at: datetime | None = None
        self.last_detection_step: int | None = None
        self.last_detectors: tuple[str, ...] = ()
        self.signals_absorbed = 0
        self.detections = 0
        self.last_features: Mapping[str, float] | None = None
        self.last_outcome_at: datetime | None = None
        self._fired_at: dict[str, int] = {}
        self._pnl: deque[float] = deque(maxlen=window)

    def update(self, outcome: TradeOutcome, *, now: datetime | None = None) -> Detection | None:
        """Feed one outcome's ``pnl``; a :class:`Detection` when a new drift is found."""
        pnl = outcome.pnl
        self.n_outcomes += 1
        self._pnl.append(pnl)
        self.last_features = outcome.features
        self.last_outcome_at = outcome.timestamp
        signal = self.monitor.update(pnl)
        if signal is None:
            return None
        for name in signal.detectors:
            self._fired_at[name] = self.n_outcomes
        if not self.policy.should_adapt(signal):
            self.signals_absorbed += 1
            return None
        at = now or datetime.now(UTC)
        self.detections += 1
        self.last_detection_at = at
        self.last_detection_step = self.n_outcomes
        self.last_detectors = signal.detectors
        return Detection(
            drift_id=str(uuid.uuid4()),
            model_id=self.model_id,
            symbol=self.symbol,
            detectors=signal.detectors,
            detected_at=at,
            n_outcomes=self.n_outcomes,
            statistics={
                "detectors": self.detector_states(),
                "performance": self.performance().to_dict(),
                "pnl": _finite(pnl),
                "outcome_timestamp": outcome.timestamp.isoformat(),
                "trade_id": outcome.trade_id,
            },
        )

    @property
    def outcomes_since_detection(self) -> int:
        if self.last_detection_step is None:
            return self.n_outcomes
        return self.n_outcomes - self.last_detection_step

    def detector_states(self) -> dict[str, dict[str, Any]]:
        """Per detector: ``drift_detected`` (it fired within the last ``min_gap`` outcomes),
        ``last_fired_outcome`` and what its River state exposes."""
        states = {}
        for name, detector in self.monitor.detectors.items():
            fired = self._fired_at.get(name)
            states[name] = {
                "drift_detected": fired is not None and self.n_outcomes - fired < self.min_gap,
                "last_fired_outcome": fired,
                **_inner_statistics(detector),
            }
        return states

    def performance(self) -> PerformanceView:
        """Mean ``pnl``, Sharpe ratio (annualised, one trade a day) and hit rate of the last
        ``window`` outcomes."""
        values = list(self._pnl)
        n = len(values)
        if n == 0:
            return PerformanceView(0, None, None, None)
        mean = math.fsum(values) / n
        hit_rate = sum(1 for v in values if v > 0) / n
        sharpe = None
        if n >= 2:
            std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
            sharpe = 0.0 if std == 0 else annualise(mean / std)
        return PerformanceView(n, _finite(mean), _finite(sharpe), _finite(hit_rate))

    def snapshot(self) -> WatchSnapshot:
        return WatchSnapshot(
            model_id=self.model_id,
            symbol=self.symbol,
            n_outcomes=self.n_outcomes,
            performance=self.performance(),
            detectors=self.detector_states(),
            last_detection_at=self.last_detection_at,
            last_features=None if self.last_features is None else dict(self.last_features),
            last_outcome_at=self.last_outcome_at,
        )

    def to_state(self, *, now: datetime | None = None) -> WatchState:
        """What the metrics store keeps of this watch (a pickle and a summary)."""
        return WatchState(
            model_id=self.model_id,
            symbol=self.symbol,
            state=pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL),
            n_outcomes=self.n_outcomes,
            outcomes_since_detection=self.outcomes_since_detection,
            last_detection_at=self.last_detection_at,
            last_reason="drift" if self.last_detection_at else None,
            detectors=self.detector_states(),
            updated_at=now or datetime.now(UTC),
        )

    @staticmethod
    def from_state(state: bytes) -> DriftWatch:
        watch = pickle.loads(state)
        if not isinstance(watch, DriftWatch):
            raise ValueError("not a pickled DriftWatch")
        return watch

    def __repr__(self) -> str:
        return (
            f"DriftWatch({self.model_id!r}, {self.symbol!r}, n_outcomes={self.n_outcomes}, "
            f"detections={self.detections})"
        )
