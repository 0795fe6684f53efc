"""Keep stream keys out of the logs.

Browsers cannot set headers on a WebSocket, so the key may come as ``?token=<key>``; uvicorn
logs every WebSocket handshake with its query string (``"WebSocket /api/v1/streaming/AAA?
token=..." [accepted]``) on ``uvicorn.error`` and HTTP requests on ``uvicorn.access``.
:func:`install_token_redaction` adds a filter to both that rewrites ``token=<anything>`` to
``token=<redacted>`` in every record before any handler formats it.
"""

from __future__ import annotations

import logging
import re

__all__ = ["TokenRedactingFilter", "install_token_redaction", "redact"]

_TOKEN = re.compile(r"(?i)((?:^|[?&;\s])(?:token|access_token|api_key)=)[^&\s\"']*")
LOGGERS = ("uvicorn.error", "uvicorn.access", "uvicorn")


def redact(text: str) -> str:
    """``.../AAA?since=3&token=abc`` -> ``.../AAA?since=3&token=<redacted>``."""
    return _TOKEN.sub(r"\1<redacted>", text)


class TokenRedactingFilter(logging.Filter):
    """Rewrites the message and string arguments of a record (see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = redact(record.msg)
        if record.args:
            if isinstance(record.args, tuple):
                record.args = tuple(
                    redact(a) if isinstance(a, str) and "=" in a else a for a in record.args
                )
            elif isinstance(record.args, dict):
                record.args = {
                    k: redact(v) if isinstance(v, str) and "=" in v else v
                    for k, v in record.args.items()
                }
        return True


def install_token_redaction(names: tuple[str, ...] = LOGGERS) -> None:
    """Add one :class:`TokenRedactingFilter` to each logger in ``names`` (idempotent)."""
    for name in names:
        target = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in target.filters):
            target.addFilter(TokenRedactingFilter())
