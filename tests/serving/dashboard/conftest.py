"""Browser fixtures: Debian's chromium through Playwright, the real app on a loopback uvicorn.

``live_app`` serves :func:`serving.app.create_app` (real MLflow registry and metrics store in the
test's home, the in-process feedback service, the stream hub) from a uvicorn server in a
thread, so a test can also stop it and start it again on the same port. ``dashboard`` opens
a fresh browser context on it that records every request the page makes: a request to any
other origin is blocked, and fails the test.

Screenshots go to ``$ONLINE_LEARNING_TEST_ARTIFACTS/dashboard`` (default
``test-artifacts/dashboard`` in the repository); their paths are printed at the end of the run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from online_learning.processes import free_port
from tests.utils.api_keys import KEYS, OPS
from tests.utils.live_server import LiveServer

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[3]
_SCREENSHOTS: list[Path] = []


def artifacts_dir() -> Path:
    base = os.environ.get("ONLINE_LEARNING_TEST_ARTIFACTS")
    path = (Path(base) if base else ROOT / "test-artifacts") / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


def pytest_terminal_summary(terminalreporter) -> None:
    if _SCREENSHOTS:
        terminalreporter.section("dashboard screenshots")
        for path in _SCREENSHOTS:
            terminalreporter.write_line(str(path))


@pytest.fixture
def dashboard_settings(home):
    from serving.settings import ServingSettings

    return ServingSettings(api_keys=SecretStr(KEYS), registry_poll_s=0.5)


@pytest.fixture
def small_champions(registry) -> dict[str, str]:
    """The three specialists as small seeded networks on the platform's ten features."""
    from tests.utils.registries import register_specialists

    return register_specialists(registry)


@pytest.fixture
def live_app(small_champions, dashboard_settings) -> Iterator[LiveServer]:
    """The app serving the small champions (ready before the test starts)."""
    app = LiveServer(dashboard_settings, timeout_graceful_shutdown=5).start()
    try:
        app.wait_ready()
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium driven by Playwright (never `playwright install`): a browser that
    cannot start fails the test with the reason, it never skips.

    Module-scoped: Playwright's sync API keeps an asyncio loop running in the main thread
    while it is started, and tests of other modules that call ``asyncio.run`` must not see it.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the dashboard tests need Debian's chromium "
            "(`make test-tools` installs it: apt-get install chromium)",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"Playwright for Python is missing ({exc}): `make install`", pytrace=False)
    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(executable_path=CHROMIUM, headless=True)
    except Exception as exc:  # any launch failure: say why, loudly
        manager.stop()
        pytest.fail(f"chromium at {CHROMIUM} did not start under Playwright: {exc}", pytrace=False)
    try:
        yield browser
    finally:
        browser.close()
        manager.stop()


@dataclass
class Dashboard:
    """A page on the dashboard, with every request it made."""

    page: object
    origin: str
    test_name: str
    requests: list[str] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def open(self, key: str | None = OPS, *, hash: str = "") -> None:
        self.page.goto(f"{self.origin}/dashboard{hash}")
        if key is None:
            return
        self.page.fill("[data-testid=key-input]", key)
        self.page.click("[data-testid=key-submit]")

    def wait_open(self) -> None:
        self.page.wait_for_selector("#app:not([hidden])", timeout=30_000)

    def open_watching(self, *symbols: str, key: str = OPS) -> None:
        """Open the page with ``key`` and watch ``symbols`` until their streams are live."""
        self.open(key)
        self.wait_open()
        for symbol in symbols:
            self.watch(symbol)
        for symbol in symbols:
            self.wait_live(symbol)

    def watch(self, symbol: str) -> None:
        self.page.fill("[data-testid=symbol-input]", symbol)
        self.page.click("[data-testid=symbol-add]")
        self.page.wait_for_selector(f'article[data-symbol="{symbol}"]')

    def wait_live(self, symbol: str, timeout_s: float = 30) -> None:
        self.page.wait_for_selector(
            f'article[data-symbol="{symbol}"][data-state="live"]', timeout=timeout_s * 1000
        )

    def card(self, symbol: str, name: str) -> str | None:
        return self.page.get_attribute(f'article[data-symbol="{symbol}"]', f"data-{name}")

    def wait_card(self, symbol: str, field: str, value, timeout_s: float = 30) -> None:
        """Wait until the card's ``data-<field>`` (camelCase here) equals ``value``."""
        self.wait_js(
            '([s, f, v]) => document.querySelector(`article[data-symbol="${s}"]`)'
            "?.dataset[f] === v",
            arg=[symbol, field, str(value)],
            timeout_s=timeout_s,
        )

    def wait_js(self, expression: str, arg=None, timeout_s: float = 30) -> object:
        return self.page.wait_for_function(expression, arg=arg, timeout=timeout_s * 1000)

    def screenshot(self, name: str) -> Path:
        path = artifacts_dir() / f"{self.test_name}-{name}.png"
        # The page draws only the cards in view: show it whole, let it draw, then take it.
        page = self.page
        size = page.viewport_size
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
        page.wait_for_timeout(500)
        page.screenshot(path=str(path), full_page=True)
        page.set_viewport_size(size)
        _SCREENSHOTS.append(path)
        print(f"screenshot: {path}")
        return path

    def foreign(self) -> list[str]:
        """Requests and streams to anything but the app's origin (blocked ones included)."""
        app = urlsplit(self.origin)
        out = list(self.blocked)
        for url in self.requests + self.websockets:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob"):
                continue
            if (parts.hostname, parts.port) != (app.hostname, app.port):
                out.append(url)
        return out


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


@pytest.fixture
def dashboard_for(chromium, request):
    """``dashboard_for(origin)`` -> a :class:`Dashboard` in a fresh browser context."""
    contexts = []
    pages: list[Dashboard] = []

    def make(origin: str) -> Dashboard:
        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        page = context.new_page()
        dash = Dashboard(page=page, origin=origin, test_name=request.node.name)

        def route(route):
            url = route.request.url
            if urlsplit(url).scheme in ("data", "blob") or _origin(url) == _origin(origin):
                route.continue_()
            else:
                dash.blocked.append(url)
                route.abort()

        context.route("**/*", route)
        page.on("request", lambda r: dash.requests.append(r.url))
        page.on("websocket", lambda ws: dash.websockets.append(ws.url))
        page.on("console", lambda m: dash.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: dash.console.append(f"pageerror: {e}"))
        pages.append(dash)
        return dash

    yield make
    for dash in pages:
        if dash.foreign():
            pytest.fail(f"the page reached another host: {dash.foreign()}", pytrace=False)
        errors = [c for c in dash.console if c.startswith("pageerror") or "Security Policy" in c]
        if errors:
            pytest.fail(f"the page raised errors: {errors}", pytrace=False)
    for context in contexts:
        context.close()


@pytest.fixture
def dashboard(live_app, dashboard_for) -> Dashboard:
    return dashboard_for(live_app.url)


class DroppableProxy:
    """A TCP proxy in front of the app: :meth:`drop` cuts every connection through it (the
    network going away under an open WebSocket) and refuses new ones until :meth:`restore`.
    The app itself keeps running, so what it serves meanwhile waits in its replay buffer."""

    def __init__(self, target_port: int) -> None:
        import asyncio

        self.target_port = target_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="proxy", daemon=True)
        self._thread.start()
        self._server = None
        self._writers: set = set()
        self.restore()

    def _call(self, coro):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    async def _pipe(self, reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader, writer) -> None:
        import asyncio

        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}

    async def _start(self) -> None:
        import asyncio

        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _drop(self) -> None:
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()  # RST: nobody says goodbye
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None

    def restore(self) -> None:
        self._call(self._start())

    def drop(self) -> None:
        self._call(self._drop())

    def close(self) -> None:
        if self._server is not None:
            self.drop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture
def proxy(live_app) -> Iterator[DroppableProxy]:
    p = DroppableProxy(live_app.port)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def update_app(prefect_api, registry, home, dashboard_settings, monkeypatch):
    """The app over specialists trained on the synthetic market (so an update has data to
    learn from), with the deployments of prefect.yaml served against the session's Prefect
    server by a child process: an update job runs as it does under ``online-learning up``."""
    from flows.serve import serving
    from tests.flows.helpers import bootstrap_specialists

    specialists = bootstrap_specialists(registry)
    # As in tests/flows/test_served.py: the child must not inherit another test's registry.
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    with serving(prefect_api, log_path=home / "serve.log", poll_seconds=1):
        app = LiveServer(dashboard_settings, timeout_graceful_shutdown=5).start()
        try:
            app.wait_ready()
            yield app, specialists
        finally:
            app.stop()
