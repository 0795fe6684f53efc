"""One exception per class of failure, each carrying the HTTP status and the server's message.

=========================  ======  ====================================================
exception                  status  meaning
=========================  ======  ====================================================
``AuthenticationError``    401     no key, or one the server does not know; a stream
                                   refused at its handshake (401/403) or closed with 1008
``PermissionDenied``       403     the key lacks the scope (predict, feedback, admin)
``NotFound``               404     unknown model, session or job
``Conflict``               409     e.g. an update of that model is queued or running
``PayloadTooLarge``        413     a batch above the server's limit
``ValidationError``        422     bad input (also raised before sending, status None);
                                   ``errors`` holds FastAPI's list when it sent one
``ServerError``            5xx     the server failed or is unavailable
``ConnectionFailed``       none    no HTTP answer at all: refused, reset, timed out
=========================  ======  ====================================================

Idempotent calls (reads, and outcomes, deduplicated on ``trade_id``) are retried on 5xx,
resets and timeouts; every call is retried when the connection was refused before anything
was sent (:class:`online_learning_client.RetryPolicy`). Only the last failure is raised.

All derive from :class:`ApiError`; other statuses (400, 429, ...) raise :class:`ApiError` itself.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "AuthenticationError",
    "Conflict",
    "ConnectionFailed",
    "JobTimeout",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ServerError",
    "ValidationError",
    "error_for_status",
]


class ApiError(Exception):
    """A request the platform refused or could not answer.

    Attributes
    ----------
    status : int or None
        The HTTP status (None when no response arrived).
    message : str
        The server's ``detail`` (or a description of the transport failure).
    body : object
        The decoded JSON body, when there was one.
    """

    def __init__(self, status: int | None, message: str, *, body: Any = None) -> None:
        self.status = status
        self.message = message
        self.body = body
        super().__init__(f"HTTP {status}: {message}" if status is not None else message)


class AuthenticationError(ApiError):
    """401: no API key, or one the server does not know (or a stream closed with 1008)."""


class PermissionDenied(ApiError):
    """403: the key is valid but lacks the scope this call needs."""


class NotFound(ApiError):
    """404: unknown model, session, job or route."""


class Conflict(ApiError):
    """409: the resource is busy, e.g. an update of that model is queued or running."""


class PayloadTooLarge(ApiError):
    """413: a batch larger than the server accepts."""


class ValidationError(ApiError):
    """422: invalid input. ``errors`` is FastAPI's list of ``{"loc", "msg", ...}`` if any."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        detail = self.body.get("detail") if isinstance(self.body, dict) else None
        return detail if isinstance(detail, list) else []


class ServerError(ApiError):
    """5xx: the server failed or is unavailable."""


class ConnectionFailed(ApiError):
    """No HTTP response: connection refused or reset, or a timeout."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class JobTimeout(TimeoutError):
    """:meth:`wait_for_job` gave up; ``job`` is the last state it saw."""

    def __init__(self, job: Any, timeout: float) -> None:
        self.job = job
        self.timeout = timeout
        super().__init__(
            f"job {job.job_id} still {job.status!r} after {timeout:g} s (it keeps running)"
        )


_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationError,
}


def _message(status: int, body: Any, text: str) -> str:
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(detail, list) and detail:
        # FastAPI's 422: "body.features.ret_1: Input should be a valid number; ..."
        parts = []
        for item in detail[:5]:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", ()))
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
            else:
                parts.append(str(item))
        more = f" (+{len(detail) - 5} more)" if len(detail) > 5 else ""
        return "; ".join(parts) + more
    return text.strip()[:500] or f"HTTP {status}"


def error_for_status(status: int, body: Any, text: str = "") -> ApiError:
    """The exception for an error response (status >= 400) and its decoded body."""
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    return cls(status, _message(status, body, text), body=body)
