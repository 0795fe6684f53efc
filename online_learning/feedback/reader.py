"""Readers of sessions they do not own: the newest checkpoint, rebuilt, and how old it is."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from online_learning.feedback.session_store import SessionStore
from online_learning.feedback.sessions import OnlineSession

__all__ = ["SessionReader"]


class SessionReader:
    """The latest checkpoint of a symbol's session, cached and reloaded when a newer appears.

    For serving replicas: the owner of a symbol (the worker holding its partition) learns and
    checkpoints; a reader predicts with a copy rebuilt from the newest checkpoint. Predicting
    does not change a River model, so one rebuilt copy serves every caller of the reader.

    Parameters
    ----------
    store : SessionStore
    refresh_s : float
        How long a cached copy is used before the store is asked (one small query) whether a
        newer checkpoint exists.

    Examples
    --------
    >>> from online_learning.metrics_store import MetricsStore
    >>> metrics = MetricsStore("sqlite://")
    >>> metrics.migrate()
    >>> store = SessionStore(metrics)
    >>> owner = OnlineSession("AAA")
    >>> store.create_session(owner.session_id, "AAA", owner.config, owner.created_at)
    >>> store.save(owner.checkpoint())
    >>> session, age_s = SessionReader(store).latest("AAA")
    >>> session.session_id == owner.session_id, age_s < 60
    (True, True)
    >>> SessionReader(store).latest("BBB") is None
    True
    >>> metrics.dispose()
    """

    def __init__(self, store: SessionStore, *, refresh_s: float = 1.0) -> None:
        if not refresh_s >= 0:
            raise ValueError(f"refresh_s must be >= 0, got {refresh_s!r}")
        self.store = store
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        # symbol -> (stamp, session, monotonic time of the last check)
        self._cache: dict[str, tuple[tuple[str, datetime], OnlineSession, float]] = {}

    def latest(self, symbol: str) -> tuple[OnlineSession, float] | None:
        """``(session, checkpoint_age_s)`` of the symbol's newest checkpoint, or None when
        the symbol has no checkpointed session."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(symbol)
        if cached is not None and now - cached[2] < self.refresh_s:
            stamp, session = cached[0], cached[1]
        else:
            stamp = self.store.stamp(symbol)
            if stamp is None:
                with self._lock:
                    self._cache.pop(symbol, None)
                return None
            if cached is not None and cached[0] == stamp:
                session = cached[1]
            else:
                checkpoint = self.store.latest(symbol)
                if checkpoint is None:
                    return None
                stamp = (checkpoint.session_id, checkpoint.created_at)
                session = OnlineSession.from_checkpoint(checkpoint)
            with self._lock:
                self._cache[symbol] = (stamp, session, now)
        age = max((datetime.now(UTC) - stamp[1]).total_seconds(), 0.0)
        return session, age

    def clear(self) -> None:
        """Forget every cached copy."""
        with self._lock:
            self._cache.clear()
