"""The API's documentation page, served with everything it loads.

``GET /api/v1/docs`` is Swagger UI over the app's OpenAPI document; its script and stylesheet
are vendored from the npm registry (``make vendor``, version and licence in
``static/swagger-ui/``) and served by the app at ``/api/v1/docs/static/``, so the page works on a
server without internet (FastAPI's default loads them from a CDN). ``GET /docs`` leads there.
``GET /api/v1/asyncapi.json`` describes the WebSocket stream, which OpenAPI cannot
(:mod:`serving.streaming.asyncapi`).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from serving.settings import API_PREFIX
from serving.streaming.asyncapi import ASYNCAPI_PATH, asyncapi_document

__all__ = ["DOCS_PATH", "router"]

DOCS_PATH = f"{API_PREFIX}/docs"
#: Swagger UI would fetch a validity badge from validator.swagger.io: no request leaves.
_PARAMETERS = {"validatorUrl": None, "deepLinking": True, "persistAuthorization": False}

router = APIRouter(tags=["docs"], include_in_schema=False)


def _static_dir() -> Path:
    return Path(str(resources.files("serving.api_docs") / "static"))


@cache
def _static_files() -> StaticFiles:
    return StaticFiles(directory=_static_dir())


@router.get(DOCS_PATH)
def docs(request: Request) -> Response:
    """Swagger UI, its assets and the OpenAPI document from this server (behind a proxy, from
    its ``root_path``)."""
    root = request.scope.get("root_path", "").rstrip("/")
    assets = f"{root}{DOCS_PATH}/static/swagger-ui"
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title}: documentation",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{root}/dashboard/static/favicon.svg",
        swagger_ui_parameters=_PARAMETERS,
    )


@router.get(f"{DOCS_PATH}/static/{{path:path}}")
async def docs_static(path: str, request: Request) -> Response:
    """A vendored asset of the page (404 for anything else, traversal included)."""
    if not path:
        raise HTTPException(status_code=404, detail="Not Found")
    return await _static_files().get_response(path, request.scope)


@router.get("/docs")
def docs_shortcut(request: Request) -> Response:
    """Where people look first: the page is under the API's prefix."""
    root = request.scope.get("root_path", "").rstrip("/")
    return RedirectResponse(f"{root}{DOCS_PATH}", status_code=307)


@router.get(ASYNCAPI_PATH)
def asyncapi(request: Request) -> Response:
    """The stream's AsyncAPI document, its server the one this request reached."""
    root = request.scope.get("root_path", "").rstrip("/")
    server = {
        "host": request.url.netloc,
        "protocol": "wss" if request.url.scheme == "https" else "ws",
        "pathname": root or "/",
    }
    return JSONResponse({**asyncapi_document(), "servers": {"this": server}})
