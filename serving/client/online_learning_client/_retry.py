"""When a failed call is sent again, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

from online_learning_client.errors import ConnectionFailed

#: Failures where the request never reached the server: safe to resend whatever it was.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries with capped exponential backoff and full jitter.

    A call is sent again (at most ``retries`` times) when the connection failed before the
    request was sent (any call), or when the request may have reached the server, through a
    timeout, a reset or a status in ``statuses``, and the call is idempotent (reads, and
    outcomes, which the platform deduplicates on ``trade_id``). A ``Retry-After`` header is
    honoured up to ``max_backoff_s``.
    """

    retries: int = 3
    backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    statuses: frozenset[int] = frozenset({500, 502, 503, 504})

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")
        if not (self.backoff_s >= 0 and self.max_backoff_s >= 0):
            raise ValueError("backoff_s and max_backoff_s must be >= 0")

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 0)."""
        if retry_after is not None:
            try:
                return min(self.max_backoff_s, max(0.0, float(retry_after)))
            except ValueError:
                pass  # an HTTP date: fall back to the backoff
        cap = min(self.max_backoff_s, self.backoff_s * (2**attempt))
        return random.uniform(0.0, cap)

    def after_error(
        self, error: httpx.TransportError, *, idempotent: bool, attempt: int
    ) -> float | None:
        """Seconds to wait before sending again after ``error``, or None: give up."""
        if not self.retry_error(error, idempotent=idempotent, attempt=attempt):
            return None
        return self.delay(attempt)

    def after_response(
        self, response: httpx.Response, *, idempotent: bool, attempt: int
    ) -> float | None:
        """Seconds to wait before sending again after ``response``, or None: it is the answer."""
        if not self.retry_status(response.status_code, idempotent=idempotent, attempt=attempt):
            return None
        return self.delay(attempt, response.headers.get("Retry-After"))

    def retry_error(self, error: httpx.TransportError, *, idempotent: bool, attempt: int) -> bool:
        if attempt >= self.retries:
            return False
        return isinstance(error, _NOT_SENT) or idempotent

    def retry_status(self, status: int, *, idempotent: bool, attempt: int) -> bool:
        return attempt < self.retries and idempotent and status in self.statuses


NO_RETRIES = RetryPolicy(retries=0)


def connection_failed(error: httpx.TransportError, method: str, url: str) -> ConnectionFailed:
    kind = type(error).__name__
    return ConnectionFailed(f"{method} {url}: {kind}: {error or 'no detail'}")
