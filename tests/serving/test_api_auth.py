"""Every protected endpoint refuses a request without a key (401), with a wrong key (401)
and with a key that lacks its scope (403), each with a message; /health, /ready and
/metrics are open."""

from __future__ import annotations

import re

import pytest

from tests.utils.api_keys import AGENT, FEEDER, OPS, UNKNOWN, bearer

SID = "s-0000"
JOB = "00000000-0000-0000-0000-000000000000"
#: (method, path, body, the scope it needs)
PROTECTED = [
    ("GET", "/api/v1/auth/me", None, None),
    ("POST", "/api/v1/predictions", {"symbol": "AAA", "features": {"f1": 0.1}}, "predict"),
    ("GET", "/api/v1/models", None, "predict"),
    ("GET", "/api/v1/models/bull_specialist/history", None, "predict"),
    ("GET", "/api/v1/models/bull_specialist/performance", None, "predict"),
    ("POST", "/api/v1/models/online-update", {"model_id": "bull_specialist"}, "admin"),
    ("GET", f"/api/v1/jobs/{JOB}", None, "admin"),
    ("POST", "/api/v1/sessions/start", {"symbol": "AAA"}, "admin"),
    ("GET", "/api/v1/sessions", None, "predict"),
    ("GET", f"/api/v1/sessions/{SID}/metrics", None, "predict"),
    ("POST", f"/api/v1/sessions/{SID}/predict", {"features": {"f1": 0.1}}, "predict"),
    ("POST", "/api/v1/feedback/outcomes", [], "feedback"),
    ("GET", "/api/v1/drift/status", None, "predict"),
    ("GET", "/api/v1/drift/history", None, "predict"),
    ("GET", "/api/v1/metrics/summary", None, "predict"),
]
#: A key of each scope; admin has every scope.
WITHOUT = {"predict": FEEDER, "feedback": AGENT, "admin": AGENT}


@pytest.mark.parametrize(("method", "path", "body", "scope"), PROTECTED)
def test_protected_endpoints_need_a_valid_key_with_the_scope(client, method, path, body, scope):
    missing = client.request(method, path, json=body)
    assert missing.status_code == 401, missing.text
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "missing API key" in missing.json()["detail"]

    wrong = client.request(method, path, json=body, headers=bearer(UNKNOWN))
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "invalid API key"
    basic = client.request(method, path, json=body, headers={"Authorization": f"Basic {OPS}"})
    assert basic.status_code == 401

    if scope is not None:
        denied = client.request(method, path, json=body, headers=bearer(WITHOUT[scope]))
        assert denied.status_code == 403
        assert denied.json()["detail"] == f"this API key lacks the {scope!r} scope"
    # The admin key passes the gate (whatever the endpoint then answers, never 401/403).
    allowed = client.request(method, path, json=body, headers=bearer(OPS))
    assert allowed.status_code not in (401, 403), allowed.text


def _template(path: str, templates: list[str]) -> str:
    [match] = [t for t in templates if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", t), path)]
    return match


def test_the_api_document_names_the_scope_each_operation_needs(client):
    """What the test above enforces is what the OpenAPI document declares, operation by
    operation; the operations it does not list are the open ones."""
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    declared = {
        (m.upper(), p): op.get("security") for p, ops in paths.items() for m, op in ops.items()
    }
    expected = {
        (method, _template(path, list(paths))): [{"HTTPBearer": [scope] if scope else []}]
        for method, path, _, scope in PROTECTED
    }
    open_ = {("GET", "/api/v1/health"), ("GET", "/api/v1/ready"), ("GET", "/api/v1/metrics")}
    assert declared == expected | dict.fromkeys(open_)


def test_me_names_the_key_by_fingerprint_and_scopes_never_by_itself(client):
    me = client.get("/api/v1/auth/me", headers=bearer(FEEDER))
    assert me.status_code == 200
    assert me.json()["scopes"] == ["feedback"]
    assert len(me.json()["fingerprint"]) == 8
    assert FEEDER not in me.text
    assert client.get("/api/v1/auth/me", headers=bearer(OPS)).json()["scopes"] == ["admin"]


def test_health_ready_and_metrics_are_open(client):
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    assert client.get("/api/v1/ready").status_code in (200, 503)
    assert client.get("/api/v1/metrics").status_code == 200


def test_a_key_never_reaches_the_metrics(client):
    client.get("/api/v1/auth/me", headers=bearer(AGENT))
    client.get(f"/api/v1/sessions/{AGENT}/metrics", headers=bearer(AGENT))
    text = client.get("/api/v1/metrics").text
    assert AGENT not in text
    assert 'route="/api/v1/sessions/{session_id}/metrics"' in text


def test_paths_that_match_no_route_share_one_series(client):
    for i in range(3):
        assert client.get(f"/api/v1/no-such-thing-{i}").status_code == 404
    text = client.get("/api/v1/metrics").text
    assert 'route="unmatched",status="404"} 3.0' in text
    assert "no-such-thing" not in text
