"""Shared by the SDK's live tests: a real uvicorn server of the app, market bars."""

from __future__ import annotations

from online_learning.processes import free_port


class LiveServer:
    """``serving.app.create_app`` under uvicorn in a thread; :meth:`restart` builds a new app
    (a new replica: new stream numbering) on the same port, as a restarted process would."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = None
        self._thread = None

    def start(self) -> LiveServer:
        import contextvars
        import threading
        import time

        import uvicorn

        from serving.app import create_app

        config = uvicorn.Config(
            create_app(self.settings), host="127.0.0.1", port=self.port, log_level="warning",
            lifespan="on",
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        # In this thread's context: Prefect's settings (the test's PREFECT_API_URL) live in a
        # context variable, which a plain new thread would not see.
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._server.run,), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 120
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the API did not start (see the log above)")
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not start in 120 s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(60)
            assert not self._thread.is_alive(), "the API did not stop"
            self._server = None

    def restart(self) -> None:
        self.stop()
        self.start()


def bars_of(prices, symbol: str, n: int = 80, end: int | None = None) -> list[dict]:
    rows = prices[prices.symbol == symbol].iloc[: end if end is not None else None].tail(n)
    return [{"date": d.strftime("%Y-%m-%d"), "close": float(c)}
            for d, c in zip(rows["date"], rows["close"], strict=True)]  # fmt: skip
