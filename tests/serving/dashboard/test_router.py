"""The dashboard router: the page and its assets from the package, under a strict CSP."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import serving.dashboard
from serving.dashboard import CONTENT_SECURITY_POLICY, router

STATIC = Path(serving.dashboard.__file__).parent / "static"
IMPORT = re.compile(r"""(?:^|\n)\s*import\s[^;]*?from\s+["']([^"']+)["']""")


@pytest.fixture
def client():
    app = FastAPI()
    app.include_router(router)
    with TestClient(app) as c:
        yield c


def directives(policy: str) -> dict[str, list[str]]:
    parts = (d.strip().split() for d in policy.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


def test_the_page_is_served_with_a_policy_that_allows_its_own_origin_only(client):
    response = client.get("/dashboard")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["connect-src"] == ["'self'", "ws:", "wss:"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"
    body = response.text
    assert "{{ROOT}}" not in body
    assert '<script type="module" src="/dashboard/static/js/main.js">' in body
    assert "<script>" not in body and " style=" not in body  # nothing inline for the CSP to block


def test_urls_follow_the_root_path_behind_a_proxy():
    app = FastAPI()
    app.include_router(router)
    with TestClient(app, root_path="/ol") as c:
        body = c.get("/dashboard").text
    assert '<meta name="api-root" content="/ol">' in body
    assert 'src="/ol/dashboard/static/js/main.js"' in body


def test_a_trailing_slash_redirects_to_the_page(client):
    response = client.get("/dashboard/", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/dashboard"


def test_every_asset_the_page_and_its_modules_name_is_served_with_the_policy(client):
    body = client.get("/dashboard").text
    wanted = set(re.findall(r'(?:src|href)="(/dashboard/static/[^"]+)"', body))
    assert "/dashboard/static/js/main.js" in wanted
    # Follow the ES module graph from main.js: a broken import would leave a blank page.
    queue, seen = ["/dashboard/static/js/main.js"], set()
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code == 200, url
        assert "javascript" in response.headers["content-type"], url
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        base = url.rsplit("/", 1)[0]
        for target in IMPORT.findall(response.text):
            assert target.startswith("./") or target.startswith("../"), (url, target)
            parts = (base + "/" + target).split("/")
            resolved: list[str] = []
            for part in parts:
                if part == "..":
                    resolved.pop()
                elif part != ".":
                    resolved.append(part)
            queue.append("/".join(resolved))
    assert "/dashboard/static/vendor/uplot/uPlot.esm.js" in seen
    for url in wanted - seen:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    css = client.get("/dashboard/static/dashboard.css")
    assert css.headers["content-type"].startswith("text/css")


def test_the_vendored_chart_library_is_pinned_with_its_licence(client):
    version = client.get("/dashboard/static/vendor/uplot/VERSION").text
    assert version.startswith("uplot 1.6.32\n") and "integrity sha512-" in version
    assert "MIT License" in client.get("/dashboard/static/vendor/uplot/LICENSE").text


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/static/",
        "/dashboard/static/index.html",  # the page only exists at /dashboard, with its root
        "/dashboard/static/js",
        "/dashboard/static/nope.js",
        "/dashboard/static/../router.py",
        "/dashboard/static/%2e%2e/router.py",
        "/dashboard/static/js/%2e%2e/%2e%2e/router.py",
    ],
)
def test_anything_else_is_not_found(client, path):
    response = client.get(path)
    assert response.status_code == 404, path
    assert "def dashboard" not in response.text


def test_our_own_assets_name_no_other_host():
    own = [p for p in STATIC.rglob("*") if p.is_file() and "vendor" not in p.parts]
    assert {p.suffix for p in own} >= {".html", ".js", ".css"}
    for path in own:
        # An XML namespace is a name, not a request.
        text = path.read_text(encoding="utf-8").replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert not re.search(r"(?:https?:|wss?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path
