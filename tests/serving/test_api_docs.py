"""The API documentation page: Swagger UI with its assets from the app itself (no CDN), and
``/docs`` leading to it."""

from __future__ import annotations

import re


def test_docs_lead_to_a_page_whose_every_asset_is_served_by_the_app(client):
    shortcut = client.get("/docs", follow_redirects=False)
    assert shortcut.status_code == 307
    assert shortcut.headers["location"] == "/api/v1/docs"

    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", page.text)
    loaded = [a or b for a, b in urls]
    assert "/api/v1/openapi.json" in loaded
    assert loaded and all(u.startswith("/") for u in loaded), loaded  # nothing from elsewhere
    assert "cdn." not in page.text and '"validatorUrl": null' in page.text

    for url in loaded:
        asset = client.get(url)
        assert asset.status_code == 200, url
    script = client.get("/api/v1/docs/static/swagger-ui/swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"]
    version = client.get("/api/v1/docs/static/swagger-ui/VERSION").text
    assert version.startswith("swagger-ui-dist 5.") and "Apache-2.0" in version

    for missing in ("", "nope.js", "../__init__.py", "..%2F__init__.py"):
        assert client.get(f"/api/v1/docs/static/{missing}").status_code == 404, missing
