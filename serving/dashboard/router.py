"""Serve the dashboard page and its static assets from the package, under a strict CSP.

``GET /dashboard`` answers the page; ``GET /dashboard/static/<path>`` the ES modules, the
stylesheet and the vendored uPlot. Every answer carries a Content-Security-Policy that lets the
page load and connect to its own origin only (``ws:``/``wss:`` for the streams, which older
browsers do not count as ``'self'``), so a page that tried to reach another host would be
stopped by the browser, not just by our discipline.
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

__all__ = ["CONTENT_SECURITY_POLICY", "router"]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self' ws: wss:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # The page never puts the key in a URL, but it need not tell anyone where it was either.
    "Referrer-Policy": "no-referrer",
    # Revalidate on every load (ETag): an upgraded package never runs with stale modules.
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["dashboard"], include_in_schema=False)


def _static_dir() -> Path:
    # A regular (or editable) install unpacks package data into the file system.
    return Path(str(resources.files("serving.dashboard") / "static"))


@cache
def _static_files() -> StaticFiles:
    return StaticFiles(directory=_static_dir())


@cache
def _page_template() -> str:
    return (_static_dir() / "index.html").read_text(encoding="utf-8")


def _secure(response: Response) -> Response:
    response.headers.update(_SECURITY_HEADERS)
    return response


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request) -> Response:
    """The page. Asset and API URLs are rooted at the app's ``root_path`` (behind a proxy)."""
    root = html.escape(request.scope.get("root_path", "").rstrip("/"), quote=True)
    return _secure(HTMLResponse(_page_template().replace("{{ROOT}}", root)))


@router.get("/dashboard/")
def dashboard_slash(request: Request) -> Response:
    root = request.scope.get("root_path", "").rstrip("/")
    return _secure(RedirectResponse(f"{root}/dashboard", status_code=308))


@router.get("/dashboard/static/{path:path}")
async def dashboard_static(path: str, request: Request) -> Response:
    """A file of the page's static folder (404 for anything else, traversal included)."""
    if not path or path == "index.html":  # the page is served, with its root, at /dashboard
        raise HTTPException(status_code=404, detail="Not Found")
    response = await _static_files().get_response(path, request.scope)
    return _secure(response)
