"""Deduplication of stream frames by id over a bounded window."""

from __future__ import annotations

from collections import deque

__all__ = ["RecentIds"]


class RecentIds:
    """The last ``size`` ids seen, for deduplication in O(1)."""

    def __init__(self, size: int) -> None:
        self._ids: set[str] = set()
        self._order: deque[str] = deque()
        self._size = size

    def seen(self, event_id: str) -> bool:
        """True if ``event_id`` was seen before; records it otherwise."""
        if event_id in self._ids:
            return True
        self._ids.add(event_id)
        self._order.append(event_id)
        if len(self._order) > self._size:
            self._ids.discard(self._order.popleft())
        return False
