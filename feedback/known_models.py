"""Which model ids exist: the registry's models, re-read now and then."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

logger = logging.getLogger(__name__)


class KnownModels:
    """A callable returning the set of registered model ids, cached for ``refresh_s``.

    ``list_models`` is e.g. ``MlflowRegistry.list_models``. When the registry cannot be read
    the last set is kept; before the first successful read it returns None (any well-formed
    id is accepted) and logs a warning, so an outage of the registry never stops learning.
    """

    def __init__(self, list_models: Callable[[], Iterable[dict]], *, refresh_s: float = 60.0):
        self.list_models = list_models
        self.refresh_s = refresh_s
        self._known: frozenset[str] | None = None
        self._read_at = -float("inf")
        self._lock = threading.Lock()

    def __call__(self) -> frozenset[str] | None:
        with self._lock:
            if time.monotonic() - self._read_at < self.refresh_s:
                return self._known
            self._read_at = time.monotonic()
            try:
                self._known = frozenset(row["model_id"] for row in self.list_models())
            except Exception as exc:  # keep learning on the last known set
                logger.warning("could not read the registry's models: %s", exc)
            return self._known
