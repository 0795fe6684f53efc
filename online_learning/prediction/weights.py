"""How much each component counts: rules over recent realised performance, and their cache.

**Ensemble rule.** Each specialist's recent record is its annualised Sharpe over its last 30
realised trading days (:meth:`MetricsStore.calculate_recent_sharpe` semantics), the online
component's the session's rolling Sharpe over its last ``metrics_window`` outcomes. An unknown
Sharpe (too little history) counts as 0, i.e. no evidence either way. Each Sharpe is clipped to
``[-clip, clip]`` (default 3, so one lucky month cannot take all the weight) and then, resting
on ``n`` periods, shrunk toward 0 by ``n / (n + 20)`` (:func:`sharpe_evidence`: five lucky
outcomes of a new session count for a fifth of a clipped Sharpe, 30 days of a specialist for
three fifths). The batch component's evidence is the regime-weighted mean of its
specialists'; the weights of batch and online are a softmax of their evidence ``e``:

    weight_i = exp(e_i / temperature) / sum_j exp(e_j / temperature)

(temperature 1). Equal evidence gives equal weights; a Sharpe 2 better gives the better
component 88 % of the weight; no component ever gets exactly 0.

**Champion/challenger rule.** The component with the higher recent mean realised return per
trading period serves (the batch specialists' mean daily return of their book over 30
trading days, regime-weighted; the session's mean ``pnl`` per outcome over its window); an
unknown mean counts as 0, each mean is shrunk as above, and a tie keeps the batch champion.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from online_learning.metrics_store import performance
from online_learning.metrics_store.errors import StoreError
from online_learning.metrics_store.store import MetricsStore
from online_learning.prediction._ttl import usable
from online_learning.stats import sharpe_ratio

__all__ = [
    "PRIOR_PERIODS",
    "PerformanceCache",
    "RecentPerformance",
    "challenger_serves_online",
    "ensemble_weights",
    "sharpe_evidence",
    "shrunk",
]

logger = logging.getLogger(__name__)
UNKNOWN = float("nan")
#: Periods of evidence that count as much as the prior (no edge) in :func:`shrunk`.
PRIOR_PERIODS = 20


@dataclass(frozen=True, slots=True)
class RecentPerformance:
    """Recent realised performance: annualised ``sharpe``, ``mean_return`` per period, and
    the number of periods ``n`` they rest on (NaN values when unknown)."""

    sharpe: float = UNKNOWN
    mean_return: float = UNKNOWN
    n: int = 0


def _known(value: float | None) -> float:
    return 0.0 if value is None or not math.isfinite(value) else float(value)


def shrunk(value: float | None, n: int, *, prior: int = PRIOR_PERIODS) -> float:
    """``value * n / (n + prior)``: a statistic of ``n`` periods pulled toward 0 (no edge);
    0 when unknown.

    Examples
    --------
    >>> shrunk(3.0, 5), shrunk(3.0, 180), shrunk(float("nan"), 30), shrunk(None, 0)
    (0.6, 2.7, 0.0, 0.0)
    """
    if n <= 0:
        return 0.0
    return _known(value) * n / (n + prior)


def sharpe_evidence(sharpe: float | None, n: int, *, clip: float = 3.0) -> float:
    """A Sharpe ratio of ``n`` periods as evidence: clipped to ``[-clip, clip]``, then
    :func:`shrunk`.

    Examples
    --------
    >>> sharpe_evidence(40.0, 3), sharpe_evidence(1.5, 30), sharpe_evidence(None, 30)
    (0.391304347826087, 0.9, 0.0)
    """
    return shrunk(min(max(_known(sharpe), -clip), clip), n)


def ensemble_weights(
    sharpes: Mapping[str, float | None], *, temperature: float = 1.0, clip: float = 3.0
) -> dict[str, float]:
    """Softmax weights of the components from their Sharpe evidence (module docstring);
    values beyond ``[-clip, clip]`` count as the bound, unknown ones as 0.

    Examples
    --------
    >>> ensemble_weights({"batch": 1.0, "online": 1.0})
    {'batch': 0.5, 'online': 0.5}
    >>> {k: round(v, 3) for k, v in ensemble_weights({"batch": 2.0, "online": None}).items()}
    {'batch': 0.881, 'online': 0.119}
    >>> round(ensemble_weights({"batch": 50.0, "online": -50.0})["online"], 4)
    0.0025
    """
    if not sharpes:
        return {}
    scores = {k: min(max(_known(v), -clip), clip) / temperature for k, v in sharpes.items()}
    top = max(scores.values())
    exp = {k: math.exp(s - top) for k, s in scores.items()}
    total = sum(exp.values())
    return {k: e / total for k, e in exp.items()}


def challenger_serves_online(batch_mean: float | None, online_mean: float | None) -> bool:
    """True when the online session earned more per period recently than the batch champion.

    Examples
    --------
    >>> challenger_serves_online(0.001, 0.002), challenger_serves_online(0.001, None)
    (True, False)
    >>> challenger_serves_online(None, 0.0005), challenger_serves_online(0.001, 0.001)
    (True, False)
    """
    return _known(online_mean) > _known(batch_mean)


class PerformanceCache:
    """The batch models' recent realised performance from the metrics store, cached.

    Parameters
    ----------
    store : MetricsStore or None
        None: every model's performance is unknown (equal evidence).
    days : int
        Trading days of the window (30).
    ttl_s : float
        How long a value is used before the store is read again. :meth:`refresh`, called from
        a background thread, keeps values fresh so that predictions never wait for the store.

    A store that fails keeps the last value known (logged); predictions do not fail for it.

    Examples
    --------
    >>> from datetime import date
    >>> from online_learning.metrics_store import PerformanceRow
    >>> store = MetricsStore("sqlite://")
    >>> store.migrate()
    >>> _ = store.record_daily_performance([PerformanceRow("bull", "SPY", date(2025, 1, 6 + i),
    ...     1.0, r, r) for i, r in enumerate([0.01, -0.005, 0.02, 0.0])])
    >>> cache = PerformanceCache(store)
    >>> perf = cache.get("bull")
    >>> round(perf.sharpe, 3), round(perf.mean_return, 5), perf.n
    (8.949, 0.00625, 4)
    >>> cache.get("bear").n
    0
    >>> store.dispose()
    """

    def __init__(self, store: MetricsStore | None, *, days: int = 30, ttl_s: float = 30.0) -> None:
        if not ttl_s >= 0:
            raise ValueError(f"ttl_s must be >= 0, got {ttl_s!r}")
        self.store = store
        self.days = days
        self.ttl_s = ttl_s
        self._values: dict[str, tuple[float, RecentPerformance]] = {}
        self._refreshed_at: float | None = None
        self._lock = threading.Lock()

    def get(self, model_id: str) -> RecentPerformance:
        """The model's recent performance, read from the store when the cached one expired."""
        cached = self._values.get(model_id)
        if cached is not None and usable(cached[0], self.ttl_s, self._refreshed_at):
            return cached[1]
        return self._read(model_id, cached)

    def refresh(self, model_ids: Iterable[str]) -> None:
        """Read the performance of ``model_ids`` now (for a background thread).

        While it runs at least every ``ttl_s``, predictions never wait for the store.
        """
        for model_id in model_ids:
            self._read(model_id, self._values.get(model_id))
        self._refreshed_at = time.monotonic()

    def _read(self, model_id: str, cached) -> RecentPerformance:
        if self.store is None:
            value = RecentPerformance()
        else:
            try:
                frame = self.store.recent_performance(model_id, days=self.days)
            except StoreError as exc:
                logger.warning("recent performance of %s unavailable: %s", model_id, exc)
                value = cached[1] if cached is not None else RecentPerformance()
            else:
                daily = performance.daily_returns(frame).to_numpy(dtype=np.float64)
                value = RecentPerformance(
                    sharpe=sharpe_ratio(daily) if len(daily) else UNKNOWN,
                    mean_return=float(daily.mean()) if len(daily) else UNKNOWN,
                    n=len(daily),
                )
        with self._lock:
            self._values[model_id] = (time.monotonic(), value)
        return value
