"""The API documentation page in Debian's chromium: it renders every operation with requests to
the app's own origin only (the fixture fails the test on any other, and on a page error)."""

from __future__ import annotations

import httpx


def test_the_api_documentation_renders_offline(live_app, dashboard_for):
    docs = dashboard_for(live_app.url)
    docs.page.goto(f"{live_app.url}/docs")
    assert docs.page.url == f"{live_app.url}/api/v1/docs"
    docs.page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    shown = docs.page.locator(".opblock-summary-path").all_inner_texts()
    document = httpx.get(f"{live_app.url}/api/v1/openapi.json").json()
    operations = [p for p, methods in document["paths"].items() for _ in methods]
    assert sorted(shown) == sorted(operations)  # one block per operation of the document
    assert "/api/v1/predictions" in shown
    docs.screenshot("api-docs")
