"""Request header limits: a request with too many header fields or too many header bytes
answers 431 before any route or dependency sees it.

uvicorn's httptools parser has no limit of its own (h11's applies to the h11 parser only): a
client could send a megabyte of headers or a thousand fields and be served. The limits here
are those of common proxies (nginx: 8 KiB a line, 32 KiB in all; Apache: 100 fields); the
WebSocket handshake is refused the same way (closed before it is accepted).
"""

from __future__ import annotations

__all__ = ["HeaderLimitMiddleware"]


class HeaderLimitMiddleware:
    """Pure ASGI middleware refusing requests over ``max_count`` header fields or
    ``max_bytes`` bytes of header names and values (431 Request Header Fields Too Large)."""

    def __init__(self, app, *, max_count: int, max_bytes: int) -> None:
        self.app = app
        self.max_count = max_count
        self.max_bytes = max_bytes

    def _problem(self, headers) -> str | None:
        if len(headers) > self.max_count:
            return f"{len(headers)} request header fields; at most {self.max_count}"
        size = sum(len(name) + len(value) for name, value in headers)
        if size > self.max_bytes:
            return f"{size} bytes of request headers; at most {self.max_bytes}"
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        problem = self._problem(scope["headers"])
        if problem is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": problem[:120]})
            return
        body = b'{"detail":"' + problem.encode() + b'"}'
        await send(
            {
                "type": "http.response.start",
                "status": 431,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
