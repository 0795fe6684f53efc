"""Which models exist: the registry's model list, cached, that outlasts a registry outage."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

__all__ = ["KnownModels"]

logger = logging.getLogger(__name__)


class KnownModels:
    """The registry's models, read at most every ``ttl_s`` seconds (thread-safe).

    ``list_models`` is e.g. ``MlflowRegistry.list_models`` (rows with at least ``model_id``).
    When the registry cannot be read the last rows are kept and the failure is logged, so an
    outage of the registry stops neither learning nor serving; before the first successful
    read, :meth:`rows` raises and calling the object returns None ("not known yet").

    Examples
    --------
    >>> known = KnownModels(lambda: [{"model_id": "bull_specialist"}])
    >>> known.exists("bull_specialist"), known.exists("other"), sorted(known())
    (True, False, ['bull_specialist'])
    """

    def __init__(self, list_models: Callable[[], Iterable[dict]], *, ttl_s: float = 5.0) -> None:
        self.list_models = list_models
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._rows: list[dict] | None = None
        self._read_at = -float("inf")

    def rows(self, *, fresh: bool = False) -> list[dict]:
        """The registry's rows, re-read when older than ``ttl_s`` or when ``fresh``."""
        with self._lock:
            if not fresh and time.monotonic() - self._read_at < self.ttl_s:
                return self._rows
        try:
            rows = list(self.list_models())
        except Exception as exc:  # keep working on the last known list
            with self._lock:
                if self._rows is None:
                    raise
                self._read_at = time.monotonic()
                logger.warning("could not read the registry's models: %s", exc)
                return self._rows
        with self._lock:
            self._rows, self._read_at = rows, time.monotonic()
        return rows

    def ids(self) -> frozenset[str]:
        """The ids of :meth:`rows`."""
        return frozenset(row["model_id"] for row in self.rows())

    def exists(self, model_id: str) -> bool:
        """Whether the registry has ``model_id`` (a miss is checked against a fresh list)."""
        return model_id in self.ids() or model_id in {r["model_id"] for r in self.rows(fresh=True)}

    def __call__(self) -> frozenset[str] | None:
        """The ids, or None while the registry has never been read (then any id is taken)."""
        try:
            return self.ids()
        except Exception as exc:
            logger.warning("could not read the registry's models: %s", exc)
            return None
