"""The shadow ledger: what champion/challenger serving did not serve, for a later verdict.

Serving appends rows in memory (:meth:`ShadowLedger.record`, no I/O on the request path); a
background thread writes them in one transaction per ``flush_interval_s``. Once outcomes
naming a ``prediction_id`` arrive, :meth:`ShadowLedger.attach_outcomes` stores their realised
return and :meth:`ShadowLedger.summary` compares what the served and the shadow component
would have earned, each priced by the one rule of :mod:`online_learning.execution`
(position ``2 * p_up - 1`` times the realised return).
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from online_learning.metrics_store.tables import shadow_predictions

if TYPE_CHECKING:
    from online_learning.metrics_store.store import MetricsStore

__all__ = ["ShadowLedger", "ShadowRow", "ShadowSummary", "shadow_predictions"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ShadowRow:
    """One champion/challenger prediction: the served and the shadow component's ``p_up``."""

    prediction_id: str
    symbol: str
    served_kind: str
    served_p_up: float
    shadow_kind: str
    shadow_p_up: float
    batch_versions: Mapping[str, str]
    session_id: str | None
    served_at: datetime

    def to_row(self) -> dict[str, Any]:
        return {"prediction_id": self.prediction_id, "symbol": self.symbol,
                "served_kind": self.served_kind, "served_p_up": self.served_p_up,
                "shadow_kind": self.shadow_kind, "shadow_p_up": self.shadow_p_up,
                "batch_versions": dict(self.batch_versions), "session_id": self.session_id,
                "served_at": self.served_at}  # fmt: skip


@dataclass(frozen=True)
class ShadowSummary:
    """Served against shadow over the rows whose outcome is known.

    ``served_pnl`` and ``shadow_pnl`` sum ``(2 * p_up - 1) * realized_return``; ``served_by``
    counts the recorded predictions by the kind that served.
    """

    n_predictions: int
    n_outcomes: int
    served_pnl: float
    shadow_pnl: float
    served_hit_rate: float | None
    shadow_hit_rate: float | None
    served_by: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ShadowLedger:
    """Buffered writer and reader of ``shadow_predictions`` (migration 0004).

    Parameters
    ----------
    store : MetricsStore
        Migrated to revision 0004 or later.
    flush_interval_s : float
        How often the background thread (started by the first :meth:`record`) writes.
    max_pending : int
        Rows kept in memory while the database is unreachable; beyond, the oldest are
        dropped and counted in :attr:`dropped`.

    Examples
    --------
    >>> from online_learning.metrics_store import MetricsStore
    >>> store = MetricsStore("sqlite://")
    >>> store.migrate()
    >>> ledger = ShadowLedger(store, flush_interval_s=60)
    >>> t = datetime(2026, 1, 5, 21, tzinfo=UTC)
    >>> ledger.record(ShadowRow("p-1", "AAA", "batch", 0.7, "online", 0.4, {"bull": "3"}, "s-1", t))
    >>> ledger.flush()
    1
    >>> ledger.attach_outcomes([{"prediction_id": "p-1", "realized_return": 0.01}])
    1
    >>> s = ledger.summary()
    >>> s.n_outcomes, round(s.served_pnl, 4), round(s.shadow_pnl, 4), s.served_by
    (1, 0.004, -0.002, {'batch': 1})
    >>> ledger.close(); store.dispose()
    """

    def __init__(
        self, store: MetricsStore, *, flush_interval_s: float = 1.0, max_pending: int = 100_000
    ) -> None:
        if not flush_interval_s > 0:
            raise ValueError(f"flush_interval_s must be > 0, got {flush_interval_s!r}")
        self.store = store
        self.flush_interval_s = flush_interval_s
        self.max_pending = max_pending
        self.dropped = 0
        self._pending: deque[ShadowRow] = deque()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        """Rows recorded and not written yet."""
        return len(self._pending)

    def record(self, row: ShadowRow) -> None:
        """Queue one row for the next write (no I/O; O(1))."""
        with self._lock:
            self._pending.append(row)
            if len(self._pending) > self.max_pending:
                self._pending.popleft()
                self.dropped += 1
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="shadow-ledger", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            try:
                self.flush()
            except Exception:
                logger.exception("writing %d shadow predictions failed", self.pending)

    def flush(self) -> int:
        """Write every queued row in one transaction; returns the number written.

        On an error the rows go back to the queue (and the error is raised). A prediction
        id written before is skipped.
        """
        with self._flush_lock:
            with self._lock:
                rows, self._pending = list(self._pending), deque()
            if not rows:
                return 0
            try:
                with self.store.writing("recording shadow predictions") as connection:
                    existing = _existing(connection, [r.prediction_id for r in rows])
                    fresh = [r.to_row() for r in rows if r.prediction_id not in existing]
                    if fresh:
                        connection.execute(sa.insert(shadow_predictions), fresh)
            except Exception:
                with self._lock:
                    self._pending.extendleft(reversed(rows))
                raise
            return len(fresh)

    def close(self) -> None:
        """Stop the background thread and write what is queued."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
        self.flush()

    def attach_outcomes(self, outcomes: Iterable[Any]) -> int:
        """Store the realised return of each outcome that names a recorded prediction.

        ``outcomes`` are :class:`~online_learning.feedback.trade_outcome.TradeOutcome` or
        mappings with ``prediction_id``, ``realized_return`` and optionally ``timestamp``.
        Returns the number of ledger rows updated.
        """
        values = []
        for outcome in outcomes:
            get = outcome.get if isinstance(outcome, Mapping) else (
                lambda name, o=outcome: getattr(o, name, None))  # fmt: skip
            prediction_id, realized = get("prediction_id"), get("realized_return")
            if not isinstance(prediction_id, str) or not isinstance(realized, int | float):
                continue
            if not math.isfinite(realized):
                continue
            stamp = get("timestamp")
            stamp = stamp if isinstance(stamp, datetime) else datetime.now(UTC)
            values.append({"pid": prediction_id, "r": float(realized), "at": stamp})
        if not values:
            return 0
        table = shadow_predictions
        statement = (
            sa.update(table)
            .where(table.c.prediction_id == sa.bindparam("pid"))
            .values(realized_return=sa.bindparam("r"), outcome_at=sa.bindparam("at"))
        )
        with self.store.writing("recording shadow outcomes") as connection:
            return int(connection.execute(statement, values).rowcount or 0)

    def summary(self, *, since: datetime | None = None, symbol: str | None = None) -> ShadowSummary:
        """Served against shadow PnL over the recorded rows (optionally since / of a symbol)."""
        table = shadow_predictions.c
        query = sa.select(table.served_kind, table.served_p_up, table.shadow_p_up,
                          table.realized_return)  # fmt: skip
        if since is not None:
            query = query.where(table.served_at >= since)
        if symbol is not None:
            query = query.where(table.symbol == symbol)
        with self.store.reading("reading shadow predictions") as connection:
            rows = connection.execute(query).all()
        served_by: dict[str, int] = {}
        served_pnl = shadow_pnl = 0.0
        served_hits = shadow_hits = n = 0
        for kind, served_p, shadow_p, realized in rows:
            served_by[kind] = served_by.get(kind, 0) + 1
            if realized is None:
                continue
            n += 1
            served_pnl += (2 * served_p - 1) * realized
            shadow_pnl += (2 * shadow_p - 1) * realized
            served_hits += (served_p > 0.5) == (realized > 0)
            shadow_hits += (shadow_p > 0.5) == (realized > 0)
        return ShadowSummary(
            n_predictions=len(rows),
            n_outcomes=n,
            served_pnl=served_pnl,
            shadow_pnl=shadow_pnl,
            served_hit_rate=served_hits / n if n else None,
            shadow_hit_rate=shadow_hits / n if n else None,
            served_by=served_by,
        )


def _existing(connection: sa.Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        query = sa.select(shadow_predictions.c.prediction_id).where(
            shadow_predictions.c.prediction_id.in_(ids[start : start + 500])
        )
        found.update(connection.execute(query).scalars())
    return found
