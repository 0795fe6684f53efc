"""An app under uvicorn on a loopback port, served from a thread of the test process.

The one in-process server of the tests (the SDK's, the dashboard's, the stream's, schemathesis');
a test that needs the API as a process of its own uses :func:`cli.api_process.api_process`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Callable
from typing import Any

from online_learning.processes import free_port
from tests.utils.api_keys import OPS, bearer
from tests.utils.waiting import wait_for


class LiveServer:
    """uvicorn serving an app on ``127.0.0.1:<port>`` from its own thread and event loop.

    ``LiveServer(settings)`` serves the platform, :func:`serving.app.create_app` of
    ``settings``, built afresh at every :meth:`start`: a stop and a start are a restarted
    replica on the same port (new stream numbering; the ``settings`` of that moment, which a
    test may replace in between). ``LiveServer(app=app)`` serves ``app`` as it is.

    The thread runs in a copy of the starting thread's context: settings made current there
    (the ``prefect_api`` fixture's Prefect API lives in a context variable) are the server's,
    as the environment of a process would be. ``config`` goes to :class:`uvicorn.Config`;
    ``url`` is ``<scheme>://127.0.0.1:<port><path>``.
    """

    def __init__(
        self,
        settings: Any = None,
        *,
        app: Any = None,
        port: int | None = None,
        scheme: str = "http",
        path: str = "",
        **config: Any,
    ) -> None:
        if (settings is None) == (app is None):
            raise TypeError("LiveServer serves the platform's settings or an app: one of them")
        self.settings = settings
        self.app = app
        self.port = port or free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}{path}"
        self.config = {"log_level": "warning", "lifespan": "on", **config}
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self, timeout_s: float = 120) -> LiveServer:
        import uvicorn

        if self.settings is not None:
            from serving.app import create_app

            self.app = create_app(self.settings)
        server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, **self.config)
        )
        self._server = server
        self._thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(server.run,),
            name=f"uvicorn-{self.port}",
            daemon=True,
        )
        self._thread.start()

        def started() -> bool:
            if not server.started and not self._thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {self.port} (see the log)")
            return server.started

        wait_for(started, timeout_s=timeout_s, what=f"uvicorn on port {self.port}", every_s=0.02)
        return self

    def stop(self, timeout_s: float = 60) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), f"uvicorn on port {self.port} did not stop"
        self._server = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the platform's API (LiveServer(settings)) ----------------------------------------------
    def api(self, key: str = OPS):
        """An ``httpx.Client`` on ``/api/v1`` presenting ``key``."""
        import httpx

        return httpx.Client(base_url=f"{self.url}/api/v1", headers=bearer(key), timeout=60)

    def wait_ready(self, timeout_s: float = 60) -> dict:
        """``GET /api/v1/ready`` once it answers 200 (the champions loaded); its body."""
        import httpx

        last: list[httpx.Response] = []

        def ready() -> dict | None:
            last[:] = [httpx.get(f"{self.url}/api/v1/ready", timeout=10)]
            return last[0].json() if last[0].status_code == 200 else None

        return wait_for(
            ready,
            timeout_s=timeout_s,
            what="the app to be ready",
            details=lambda: f"{last[0].status_code} {last[0].text}",
        )

    # -- work on the server's event loop -----------------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._server.servers[0].get_loop()

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
