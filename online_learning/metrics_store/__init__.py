"""Performance metrics store: realised daily performance, update history, event outbox.

SQLite in the data directory by default, PostgreSQL (with TimescaleDB when available) by URL.
The schema is managed by Alembic revisions in ``migrations/``; call
:meth:`MetricsStore.migrate` at start-up.
"""

from __future__ import annotations

from online_learning.metrics_store.errors import (
    StoreError,
    StoreRefusedError,
    StoreUnavailableError,
)
from online_learning.metrics_store.records import PerformanceRow, UpdateRecord
from online_learning.metrics_store.store import MetricsStore

__all__ = [
    "MetricsStore",
    "PerformanceRow",
    "StoreError",
    "StoreRefusedError",
    "StoreUnavailableError",
    "UpdateRecord",
]
