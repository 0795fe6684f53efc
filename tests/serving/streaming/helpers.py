"""A real FastAPI app with the stream router and hub, served by uvicorn on a loopback port in
a thread of the test process, and WebSocket clients of it (the ``websockets`` library)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from cli.broker import free_port
from serving.auth import ApiKeys
from serving.streaming import StreamHub, router
from tests.utils.api_keys import AGENT, KEYS, bearer


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


def serving(**hub_options: Any) -> ServerThread:
    """A :class:`ServerThread` (``with serving(...) as server:``) of :func:`build_app` around a
    ``StreamHub(**hub_options)``, named ``replica-1`` unless told otherwise."""
    hub_options.setdefault("replica_id", "replica-1")
    return ServerThread(build_app(StreamHub(**hub_options)))


class ServerThread:
    """uvicorn serving ``app`` on ``127.0.0.1:<port>`` from its own thread and event loop."""

    def __init__(self, app: FastAPI, port: int | None = None, **config: Any) -> None:
        self.app = app
        self.port = port or free_port()
        self.config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="info", lifespan="on", **config
        )
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/streaming"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.app.state.hub._loop

    def start(self, timeout: float = 60.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def submit(self, fn: Callable, *args: Any) -> concurrent.futures.Future:
        """Run ``fn(*args)`` on the server's loop; its result or exception in a future."""
        future: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future

    def call(self, fn: Callable, *args: Any) -> Any:
        """Run ``fn(*args)`` on the server's loop and return its result."""
        return self.submit(fn, *args).result(10)

    async def acall(self, fn: Callable, *args: Any) -> Any:
        """As :meth:`call`, awaited: the caller's own loop keeps running meanwhile."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


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
