"""Domain errors of the online-learning library.

Adapters (CLI, HTTP, Prefect) translate these into exit codes, status codes or flow states; the
library never decides how an error is shown.
"""

from __future__ import annotations


class OnlineLearningError(Exception):
    """Base class of every error the library raises on purpose."""


class ConfigError(OnlineLearningError, ValueError):
    """A configuration value is out of range or inconsistent."""


class DataError(OnlineLearningError, ValueError):
    """Market data is missing, malformed or too short for the requested operation."""


class DataFormatError(DataError):
    """A user file does not follow the documented format.

    The message names the file and, where it applies, the row and the column.
    """

    def __init__(
        self,
        path: str,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = str(path)
        self.row = row
        self.column = column
        where = [self.path]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}")


class ModelNotFoundError(OnlineLearningError, LookupError):
    """The registry has no such model, version or alias."""


class RegistryError(OnlineLearningError):
    """The model registry failed to store or move a version."""


# The feedback path: adapters map these to HTTP status codes or dead-letter reasons.


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
