"""The errors the metrics store raises on purpose.

Callers that must tell a bad day from a bad message catch the two subclasses:
:class:`StoreUnavailableError` (the database cannot be reached now: wait and retry the same
work) and :class:`StoreRefusedError` (the database refused the values of this request:
retrying them will fail again, set them aside).
"""

from __future__ import annotations

from online_learning.errors import OnlineLearningError

__all__ = ["StoreError", "StoreRefusedError", "StoreUnavailableError"]


class StoreError(OnlineLearningError):
    """The metrics database is misconfigured, unreachable or refused a write.

    The message names the database with its password hidden (for the operator's log; an
    adapter that answers a client names the component instead, see :attr:`component`); the
    driver's own exception is chained as ``__cause__`` for debugging.

    Attributes
    ----------
    action : str or None
        What the store was doing ("recording learned outcomes"), when known.
    """

    #: The part of the platform this error is about, for messages shown to clients.
    component = "metrics store"

    def __init__(self, message: str, *, action: str | None = None) -> None:
        super().__init__(message)
        self.action = action


class StoreUnavailableError(StoreError):
    """The database could not be reached or dropped the connection: retry later."""


class StoreRefusedError(StoreError):
    """The database refused the values it was given (a text it cannot hold, a value out of
    its column's range): the same request will fail again."""
