"""A real FastAPI app with the stream router and hub, served by uvicorn on a loopback port in
a thread of the test process, and WebSocket clients of it (the ``websockets`` library)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from serving.auth import ApiKeys
from serving.streaming import StreamHub, router
from tests.utils.api_keys import AGENT, KEYS, bearer
from tests.utils.live_server import LiveServer


def build_app(hub: StreamHub, keys: str = KEYS) -> FastAPI:
    """The stream router and hub as the API wires them (lifespan starts and stops the hub),
    plus ``GET /ping`` to show the loop stays responsive."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.hub = hub
        app.state.api_keys = ApiKeys.parse(keys)
        await hub.start()
        yield
        await hub.stop()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)

    @app.get("/ping")
    async def ping() -> dict:
        return {"pong": True}

    return app


def serving(**hub_options: Any) -> LiveServer:
    """A :class:`LiveServer` (``with serving(...) as server:``) of :func:`build_app` around a
    ``StreamHub(**hub_options)``, named ``replica-1`` unless told otherwise; its ``url`` is
    the stream route's, ``ws://127.0.0.1:<port>/api/v1/streaming``."""
    hub_options.setdefault("replica_id", "replica-1")
    app = build_app(StreamHub(**hub_options))
    return LiveServer(app=app, scheme="ws", path="/api/v1/streaming", log_level="info")


async def open_stream(url: str, *, key: str | None = AGENT, how: str = "header", **kwargs):
    """A client connection, presenting ``key`` as a header, a subprotocol or a query param."""
    kwargs.setdefault("compression", None)
    kwargs.setdefault("open_timeout", 10)
    if key is not None:
        if how == "header":
            kwargs["additional_headers"] = bearer(key)
        elif how == "subprotocol":
            kwargs["subprotocols"] = ["bearer", f"bearer.{key}"]
        elif how == "query":
            url = f"{url}{'&' if '?' in url else '?'}token={key}"
        else:
            raise ValueError(how)
    return await connect(url, **kwargs)


async def frames(ws: ClientConnection, n: int, timeout: float = 10.0) -> list[dict]:
    """The next ``n`` frames, decoded."""
    out = []
    async with asyncio.timeout(timeout):
        for _ in range(n):
            out.append(json.loads(await ws.recv()))
    return out


async def no_frame(ws: ClientConnection, wait: float = 0.3) -> bool:
    """True if nothing arrives within ``wait`` seconds."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(wait):
            await ws.recv()
            return False
    return True


def small_buffer_socket(port: int, rcvbuf: int = 4096) -> socket.socket:
    """A connected TCP socket whose receive buffer is tiny: a client that stops reading
    stalls the server's writes after a few frames instead of several megabytes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock
