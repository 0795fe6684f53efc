"""The error the metrics store raises on purpose."""

from __future__ import annotations

from online_learning.errors import OnlineLearningError


class StoreError(OnlineLearningError):
    """The metrics database is misconfigured, unreachable or refused a write.

    The message names the database with its password hidden; the driver's own exception is
    chained as ``__cause__`` for debugging.
    """
