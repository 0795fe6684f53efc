"""When a cached value may still be used: the one freshness rule of the serving caches."""

from __future__ import annotations

import time


def usable(read_at: float, ttl_s: float, refreshed_at: float | None) -> bool:
    """True when a value read at ``read_at`` (``time.monotonic()``) is younger than ``ttl_s``,
    or when a background refresher ran within ``3 * ttl_s`` (it replaces the value soon, and
    the request must not wait for the store meanwhile).

    Examples
    --------
    >>> now = time.monotonic()
    >>> usable(now, 1.0, None), usable(now - 5, 1.0, None), usable(now - 5, 1.0, now - 0.5)
    (True, False, True)
    """
    now = time.monotonic()
    if now - read_at < ttl_s:
        return True
    return refreshed_at is not None and now - refreshed_at < 3 * max(ttl_s, 0.1)
