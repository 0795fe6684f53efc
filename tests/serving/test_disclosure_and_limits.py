"""Nothing disclosed, nothing unbounded: a store outage answers 503 naming the component (not
its URL), the campaign's poison outcome answers its own verdict (not 503), oversized header
sets answer 431 on the real server, and the input rules are stated in the OpenAPI document."""

from __future__ import annotations

import contextvars
import json
import math
import threading
import time
import uuid

import httpx
import pytest

from online_learning.features import FEATURE_COLUMNS
from online_learning.processes import free_port
from tests.utils.api_keys import FEEDER, OPS, bearer
from tests.utils.private_postgres import PrivatePostgres


def _outcome(**changes) -> dict:
    item = {
        "trade_id": f"t-{uuid.uuid4().hex}", "symbol": "AAA",
        "timestamp": "2025-01-02T21:00:00Z",
        "features": dict.fromkeys(FEATURE_COLUMNS, 0.1), "realized_return": 0.01,
    }  # fmt: skip
    item.update(changes)
    return item


def test_the_poison_outcome_gets_its_verdict_and_a_store_outage_names_only_the_store(
    make_client,
):
    with PrivatePostgres() as server, make_client(database_url=server.url) as client:
        post = lambda body: client.post(  # noqa: E731
            "/api/v1/feedback/outcomes", json=body, headers=bearer(FEEDER)
        )
        # The campaign's outcome: once a 503 retried forever, and a batch refused whole.
        poisoned = post([_outcome(trade_id="t-nul\x00x"), _outcome(prediction_id="p-\x00"),
                         _outcome()])  # fmt: skip
        assert poisoned.status_code == 200
        verdicts = poisoned.json()["results"]
        assert [(r["status"], r["reason"]) for r in verdicts] == [
            ("rejected", "invalid_field"), ("rejected", "invalid_field"), ("accepted", None),
        ]  # fmt: skip
        assert verdicts[0]["detail"].startswith("trade_id holds the control character U+0000")
        assert verdicts[1]["detail"].startswith("prediction_id holds the control character")
        # Posted alone: 422 naming the field, so that the client does not retry it.
        alone = post(_outcome(trade_id="t-nul\x00x"))
        assert alone.status_code == 422
        [issue] = alone.json()["detail"]
        assert issue["loc"] == ["trade_id"] and issue["type"] == "invalid_field"
        assert "U+0000" in issue["msg"]
        nan = client.post(
            "/api/v1/feedback/outcomes", content=json.dumps(_outcome(realized_return=math.nan)),
            headers={**bearer(FEEDER), "content-type": "application/json"},
        )  # fmt: skip
        assert nan.status_code == 422
        assert nan.json()["detail"][0] == {
            "loc": ["realized_return"], "msg": "realized_return must be finite, got nan",
            "type": "non_finite",
        }  # fmt: skip

        server.stop()
        down = post(_outcome())
    assert down.status_code == 503
    assert down.headers["retry-after"] == "5"
    assert down.json() == {"detail": "the metrics store is unavailable; retry later"}
    for secret in (str(server.port), "127.0.0.1", "postgres", "psycopg"):
        assert secret not in down.text


@pytest.fixture
def live_url(serving_settings):
    """The app under uvicorn with httptools (as ``serve`` runs it) on a loopback port."""
    import uvicorn

    from serving.app import create_app

    port = free_port()
    config = uvicorn.Config(create_app(serving_settings), host="127.0.0.1", port=port,
                            loop="uvloop", http="httptools", log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=contextvars.copy_context().run, args=(server.run,),
                              daemon=True)  # fmt: skip
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/api/v1"
    server.should_exit = True
    thread.join(30)


def test_request_header_limits_on_the_real_server(live_url):
    health = f"{live_url}/health"
    assert httpx.get(health, headers={"x-ok": "1"}).status_code == 200
    huge = httpx.get(health, headers={"x-big": "a" * 1_000_000})  # the campaign's 1 MB header
    assert huge.status_code == 431
    assert "bytes of request headers; at most 32768" in huge.json()["detail"]
    many = httpx.get(health, headers=[(f"x-h{i}", "1") for i in range(1000)])
    assert many.status_code == 431
    assert "request header fields; at most 100" in many.json()["detail"]
    # The limit is counted by /metrics like any answer.
    metrics = httpx.get(f"{live_url}/metrics").text
    assert 'status="431"' in metrics


def test_the_implicit_input_rules_are_stated_in_the_schema(client):
    document = client.get("/api/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert schemas["OnlineUpdateRequest"]["not"] == {
        "required": ["data_window", "data_window_days"]
    }
    assert schemas["Bar"]["properties"]["close"]["exclusiveMinimum"] == 0
    names = schemas["SessionStartRequest"]["properties"]["feature_names"]["anyOf"][0]
    assert names["uniqueItems"] is True and names["minItems"] == 1
    assert schemas["SessionPredictRequest"]["properties"]["features"]["minProperties"] == 1
    assert schemas["FeaturesRequest"]["properties"]["features"]["minProperties"] == 1

    # And each answers 422 saying what is wrong.
    repeated = client.post("/api/v1/sessions/start", headers=bearer(OPS),
                           json={"symbol": "AAA", "feature_names": ["a", "a"]})  # fmt: skip
    assert repeated.status_code == 422
    assert repeated.json()["detail"][0]["loc"] == ["feature_names"]
    both = client.post(
        "/api/v1/models/online-update", headers=bearer(OPS),
        json={"model_id": "bull_specialist", "data_window_days": 60,
              "data_window": {"start": "2024-01-01", "end": "2024-03-01"}},
    )  # fmt: skip
    assert both.status_code == 422 and "not both" in both.json()["detail"]
    bar = {"date": "2024-01-02", "close": 0.0}
    zero = client.post("/api/v1/predictions", headers=bearer(OPS),
                       json={"symbol": "AAA", "bars": [bar]})  # fmt: skip
    assert zero.status_code == 422
    assert zero.json()["detail"][0]["loc"][-1] == "close"
