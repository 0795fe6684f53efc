"""Errors of the feedback path; adapters map them to HTTP status codes or DLQ reasons."""

from __future__ import annotations

from online_learning.errors import OnlineLearningError

__all__ = [
    "BrokerUnavailableError",
    "FencedError",
    "InvalidTradeOutcome",
    "SessionExistsError",
    "SessionNotFoundError",
]


class InvalidTradeOutcome(OnlineLearningError, ValueError):
    """A trade outcome that must not reach a model.

    Attributes
    ----------
    reason : str
        One of :data:`online_learning.feedback.trade_outcome.INVALID_REASONS`; stable, for
        counters, DLQ headers and HTTP bodies.
    detail : str
        What exactly is wrong, for a human.
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class SessionExistsError(OnlineLearningError):
    """The symbol already has an active online session (HTTP 409)."""

    def __init__(self, symbol: str, session_id: str) -> None:
        self.symbol = symbol
        self.session_id = session_id
        super().__init__(f"symbol {symbol!r} already has the active session {session_id!r}")


class SessionNotFoundError(OnlineLearningError, LookupError):
    """No online session with this id (or for this symbol) exists (HTTP 404)."""


class FencedError(OnlineLearningError):
    """Another worker took over a partition: this one must not write its state any more."""


class BrokerUnavailableError(OnlineLearningError):
    """The broker did not acknowledge outcomes handed to it (HTTP 503: retry later)."""
