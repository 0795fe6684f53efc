"""Monitoring of incremental updates: Prometheus metrics (alert rules live in ``monitoring/``)."""

from __future__ import annotations

from online_learning.monitoring.metrics import (
    DURATION_BUCKETS,
    METRIC_NAMES,
    OUTCOMES,
    Outcome,
    UpdateMetrics,
)

__all__ = ["DURATION_BUCKETS", "METRIC_NAMES", "OUTCOMES", "Outcome", "UpdateMetrics"]
