"""Prequential metrics of an online session: each outcome is scored before it is learned."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from online_learning.stats import annualise

__all__ = ["RollingScore", "SessionMetrics"]

_EPS = 1e-15


@dataclass(frozen=True)
class SessionMetrics:
    """What an online session has learned and how well it predicted, so far.

    ``rolling_accuracy`` and ``rolling_log_loss`` score the session's prediction of the
    direction, made before it learned each of the last ``metrics_window`` outcomes (None
    before the first). ``realized_pnl`` sums the ``pnl`` of every outcome it learned;
    ``rolling_sharpe`` is ``mean / std * sqrt(252)`` of the last ``metrics_window`` ``pnl``
    values (one trade per trading day; None with fewer than two, 0.0 when they do not vary).
    ``model_age_s`` is the time since the session was created; ``updated_at`` when it last
    learned (``created_at`` before that).
    """

    session_id: str
    symbol: str
    model_type: str
    samples_seen: int
    rolling_accuracy: float | None
    rolling_log_loss: float | None
    realized_pnl: float
    rolling_sharpe: float | None
    last_drift_at: datetime | None
    model_age_s: float
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: timestamps as ISO 8601 strings."""
        data = asdict(self)
        for name in ("last_drift_at", "created_at", "updated_at"):
            value = data[name]
            data[name] = None if value is None else value.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionMetrics:
        """Read back :meth:`to_dict`."""
        values = dict(data)
        for name in ("last_drift_at", "created_at", "updated_at"):
            if values.get(name) is not None:
                values[name] = datetime.fromisoformat(values[name])
        return cls(**values)


class RollingScore:
    """Running sums over the last ``window`` outcomes: hits, log-loss and realised PnL.

    Sums are updated in O(1) per outcome and recomputed from the window every ``window``
    steps, so rounding errors never accumulate.

    Examples
    --------
    >>> score = RollingScore(window=3)
    >>> for p_up, up, pnl in [(0.9, True, 0.01), (0.8, False, -0.02), (0.3, False, 0.005),
    ...                       (0.6, True, 0.01)]:
    ...     score.update(p_up, up, pnl)
    >>> round(score.accuracy(), 3), round(score.realized_pnl, 3), score.count
    (0.667, 0.005, 3)
    """

    def __init__(self, window: int = 200) -> None:
        self.window = window
        self.realized_pnl = 0.0
        self._items: deque[tuple[float, float, float]] = deque()
        self._hits = 0.0
        self._loss = 0.0
        self._pnl = 0.0
        self._pnl_sq = 0.0
        self._since_resum = 0

    @property
    def count(self) -> int:
        return len(self._items)

    def update(self, p_up: float, went_up: bool, pnl: float) -> None:
        p = min(max(p_up, _EPS), 1.0 - _EPS)
        hit = 1.0 if (p_up >= 0.5) == went_up else 0.0
        loss = -math.log(p if went_up else 1.0 - p)
        self._items.append((hit, loss, pnl))
        self._hits += hit
        self._loss += loss
        self._pnl += pnl
        self._pnl_sq += pnl * pnl
        self.realized_pnl += pnl
        if len(self._items) > self.window:
            old_hit, old_loss, old_pnl = self._items.popleft()
            self._hits -= old_hit
            self._loss -= old_loss
            self._pnl -= old_pnl
            self._pnl_sq -= old_pnl * old_pnl
        self._since_resum += 1
        if self._since_resum >= self.window:
            self._resum()

    def _resum(self) -> None:
        self._since_resum = 0
        self._hits = math.fsum(i[0] for i in self._items)
        self._loss = math.fsum(i[1] for i in self._items)
        self._pnl = math.fsum(i[2] for i in self._items)
        self._pnl_sq = math.fsum(i[2] * i[2] for i in self._items)

    def accuracy(self) -> float | None:
        return self._hits / len(self._items) if self._items else None

    def log_loss(self) -> float | None:
        return self._loss / len(self._items) if self._items else None

    def pnl_mean(self) -> float | None:
        return self._pnl / len(self._items) if self._items else None

    def sharpe(self) -> float | None:
        n = len(self._items)
        if n < 2:
            return None
        mean = self._pnl / n
        variance = max(self._pnl_sq - n * mean * mean, 0.0) / (n - 1)
        # A variance at rounding level of the mean's square is a constant stream.
        if variance <= 1e-24 + 1e-12 * mean * mean:
            return 0.0
        # Realised PnL is annualised as if the session traded once per trading day.
        return annualise(mean / math.sqrt(variance))
