"""The online component: each symbol's active session, read from its checkpoint and cached.

Serving never learns. Whoever owns a symbol (the feedback worker in broker mode, the API's
own :class:`~online_learning.feedback.service.FeedbackService` in-process, which records a
checkpoint with every :meth:`~FeedbackService.submit`) writes checkpoints; this cache holds
the copy :class:`~online_learning.feedback.reader.SessionReader` rebuilt from the newest one,
so a prediction costs no database query. ``checkpoint_age_s`` says how old the state a
prediction used is.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, replace

from online_learning.feedback.reader import SessionReader
from online_learning.feedback.service import FeedbackService
from online_learning.feedback.sessions import OnlineSession
from online_learning.metrics_store.errors import StoreError
from online_learning.prediction._ttl import usable

__all__ = ["CachedSession", "SessionCache"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CachedSession:
    """A reading copy of a session with the statistics the weighting rules need."""

    session: OnlineSession
    samples_seen: int
    rolling_sharpe: float
    pnl_mean: float
    window_count: int  # outcomes the rolling figures rest on
    age_at_fetch_s: float
    fetched_at: float  # time.monotonic()

    @property
    def session_id(self) -> str:
        return self.session.session_id

    def checkpoint_age_s(self, now: float | None = None) -> float:
        """Age of the checkpoint now: its age when read plus the time since."""
        now = time.monotonic() if now is None else now
        return self.age_at_fetch_s + max(now - self.fetched_at, 0.0)


def _pnl_mean(session: OnlineSession) -> float:
    mean = session.rolling_pnl_mean()
    return float("nan") if mean is None else float(mean)


def _cached(session: OnlineSession, age_s: float) -> CachedSession:
    metrics = session.metrics()
    sharpe = metrics.rolling_sharpe
    return CachedSession(
        session=session,
        samples_seen=session.samples_seen,
        rolling_sharpe=float("nan") if sharpe is None or not math.isfinite(sharpe) else sharpe,
        pnl_mean=_pnl_mean(session),
        window_count=min(session.samples_seen, session.config.metrics_window),
        age_at_fetch_s=float(age_s),
        fetched_at=time.monotonic(),
    )


class SessionCache:
    """Symbol -> its active session's latest checkpoint (or None), refreshed every ``ttl_s``.

    Parameters
    ----------
    feedback : FeedbackService
    ttl_s : float
        How long a symbol's entry (including "no session") is used before it is read again;
        :meth:`refresh` from a background thread keeps entries fresh off the hot path.

    Examples
    --------
    >>> from online_learning.metrics_store import MetricsStore
    >>> store = MetricsStore("sqlite://")
    >>> store.migrate()
    >>> feedback = FeedbackService(store=store)
    >>> cache = SessionCache(feedback, ttl_s=60)
    >>> cache.get("AAA") is None
    True
    >>> started = feedback.start_session("AAA")
    >>> cache.get("AAA") is None  # cached "no session" until refreshed
    True
    >>> cache.refresh()
    >>> cache.get("AAA").session_id == started.session_id
    True
    >>> store.dispose()
    """

    def __init__(self, feedback: FeedbackService, *, ttl_s: float = 1.0) -> None:
        if not ttl_s >= 0:
            raise ValueError(f"ttl_s must be >= 0, got {ttl_s!r}")
        self.feedback = feedback
        self.ttl_s = ttl_s
        # A reader of our own, uncached: this cache's ttl_s is the only staleness (the
        # reader still rebuilds a session only when its checkpoint changed).
        self._reader = SessionReader(feedback.sessions, refresh_s=0.0)
        self._entries: dict[str, tuple[float, CachedSession | None]] = {}
        self._refreshed_at: float | None = None
        self._lock = threading.Lock()

    def get(self, symbol: str) -> CachedSession | None:
        """The symbol's session as of its newest checkpoint, or None without one."""
        entry = self._entries.get(symbol)
        if entry is not None and usable(entry[0], self.ttl_s, self._refreshed_at):
            return entry[1]
        return self._read(symbol, entry)

    def refresh(self) -> None:
        """Read every symbol seen so far again (for a background thread).

        While it runs at least every ``ttl_s``, predictions never read the store for a symbol
        seen before: an entry past its ``ttl_s`` is used until the next refresh replaces it.
        """
        for symbol, entry in list(self._entries.items()):
            self._read(symbol, entry)
        self._refreshed_at = time.monotonic()

    def _read(self, symbol: str, entry) -> CachedSession | None:
        previous = entry[1] if entry is not None else None
        try:
            found = self._reader.latest(symbol)
        except (StoreError, ValueError) as exc:  # ValueError: an unreadable checkpoint
            logger.warning("session of %s unavailable, keeping the last one: %s", symbol, exc)
            value = previous
        else:
            if found is None:
                value = None
            elif previous is not None and found[0] is previous.session:
                value = _refetched(previous, found[1])
            else:
                value = _cached(*found)
        with self._lock:
            self._entries[symbol] = (time.monotonic(), value)
        return value


def _refetched(previous: CachedSession, age_s: float) -> CachedSession:
    # Same checkpoint as before: only its age changed.
    return replace(previous, age_at_fetch_s=float(age_s), fetched_at=time.monotonic())
