"""POST /predictions through the real app: champions from the MLflow registry, the online
session from the feedback service, provenance, validation and the batch limit."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter

from online_learning.features import FEATURE_COLUMNS
from online_learning.prediction import Prediction
from tests.serving.conftest import SPECIALISTS
from tests.utils.api_keys import AGENT, FEEDER, OPS, bearer
from tests.utils.trade_outcomes import outcome_stream
from tests.utils.waiting import wait_for

F = {"f1": 0.5, "f2": -0.25, "f3": 1.0}


def _predict(client, body, key=AGENT):
    return client.post("/api/v1/predictions", json=body, headers=bearer(key))


def test_a_prediction_names_its_components_versions_and_weights(served, champions):
    response = _predict(served, {"symbol": "AAA", "features": F})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["symbol"] == "AAA" and body["strategy"] == "ensemble"
    assert 0.0 <= body["p_up"] <= 1.0
    assert body["position"] == pytest.approx(2 * body["p_up"] - 1)
    assert body["direction"] == ("up" if body["p_up"] > 0.5 else "down")
    assert body["confidence"] == pytest.approx(max(body["p_up"], 1 - body["p_up"]))
    batch = [c for c in body["components"] if c["kind"] == "batch"]
    assert {c["name"]: c["version"] for c in batch} == champions
    assert sum(c["weight"] for c in body["components"]) == pytest.approx(1.0)
    assert body["p_up"] == pytest.approx(sum(c["weight"] * c["p_up"] for c in batch))
    assert body["session"] is None
    assert body["features"] == F
    assert body["prediction_id"] and body["served_at"].endswith(("Z", "+00:00"))
    other = _predict(served, {"symbol": "AAA", "features": F}).json()
    assert other["prediction_id"] != body["prediction_id"]
    assert other["p_up"] == body["p_up"]  # same champions, same features


def test_the_documented_answer_is_the_declaration_and_what_is_served(served):
    """The OpenAPI answer of POST /predictions is the library's declaration of a prediction,
    and a served prediction, alone or in a batch, has exactly the fields it documents."""
    doc = served.get("/api/v1/openapi.json").json()
    answer = doc["paths"]["/api/v1/predictions"]["post"]["responses"]["200"]["content"]
    refs = [v["$ref"].rsplit("/", 1)[-1] for v in answer["application/json"]["schema"]["anyOf"]]
    assert refs == ["Prediction", "PredictionBatchPublic"]
    schemas = doc["components"]["schemas"]
    declared = schemas["Prediction"]
    own = TypeAdapter(Prediction).json_schema(mode="serialization")
    assert declared["properties"].keys() == own["properties"].keys()
    assert set(declared["required"]) == set(declared["properties"])  # every field goes out
    single = _predict(served, {"symbol": "AAA", "features": F}).json()
    batch = _predict(served, {"requests": [{"symbol": "AAA", "features": F}]}).json()
    for body in (single, *batch["predictions"]):
        assert set(body) == set(declared["properties"])
        for component in body["components"]:
            assert set(component) == set(schemas["Component"]["properties"])


def test_the_online_session_joins_once_it_has_learned(served):
    started = served.post(
        "/api/v1/sessions/start",
        headers=bearer(OPS),
        json={"symbol": "OOO", "feature_names": ["f1", "f2", "f3"]},
    )
    assert started.status_code == 201
    outcomes = outcome_stream(30, symbol="OOO", feature_names=("f1", "f2", "f3"))
    posted = served.post("/api/v1/feedback/outcomes", json=outcomes, headers=bearer(FEEDER))
    assert {r["status"] for r in posted.json()["results"]} == {"accepted"}

    def joined() -> dict | None:  # the service caches a symbol's session for a second
        body = _predict(served, {"symbol": "OOO", "features": F}).json()
        return body if body["session"] is not None else None

    body = wait_for(joined, timeout_s=10, what="the online session in the prediction")
    online = [c for c in body["components"] if c["kind"] == "online"]
    assert len(online) == 1, body
    assert body["session"]["session_id"] == started.json()["session_id"]
    assert body["session"]["samples_seen"] == 30
    assert body["session"]["checkpoint_age_s"] >= 0
    assert sum(c["weight"] for c in body["components"]) == pytest.approx(1.0)
    # Another symbol has no session: batch only.
    assert _predict(served, {"symbol": "PPP", "features": F}).json()["session"] is None


def test_champion_challenger_is_a_strategy_a_request_may_ask_for(served):
    body = _predict(served, {"symbol": "AAA", "features": F, "strategy": "champion_challenger"})
    assert body.status_code == 200
    assert body.json()["strategy"] == "champion_challenger"
    bad = _predict(served, {"symbol": "AAA", "features": F, "strategy": "best"})
    assert bad.status_code == 422


def test_a_batch_answers_in_order_and_more_than_1000_is_413(served):
    requests = [{"symbol": f"S{i}", "features": {**F, "f1": i / 10}} for i in range(5)]
    response = _predict(served, {"requests": requests})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert [p["symbol"] for p in predictions] == [f"S{i}" for i in range(5)]
    assert [p["features"] for p in predictions] == [r["features"] for r in requests]
    single = _predict(served, requests[3]).json()
    assert predictions[3]["p_up"] == pytest.approx(single["p_up"])

    too_many = _predict(served, {"requests": [requests[0]] * 1001})
    assert too_many.status_code == 413
    assert too_many.json()["detail"] == "1001 requests in one batch; at most 1000"
    empty = _predict(served, {"requests": []})
    assert empty.status_code == 422


def test_features_must_be_exactly_the_models_and_finite(served):
    missing = _predict(served, {"symbol": "AAA", "features": {"f1": 1.0, "f2": 2.0}})
    assert missing.status_code == 422
    assert "missing ['f3']" in missing.json()["detail"]
    unknown = _predict(served, {"symbol": "AAA", "features": {**F, "f9": 1.0}})
    assert unknown.status_code == 422 and "unknown ['f9']" in unknown.json()["detail"]
    nan = served.post(
        "/api/v1/predictions",
        headers={**bearer(AGENT), "content-type": "application/json"},
        content=b'{"symbol": "AAA", "features": {"f1": NaN, "f2": 0, "f3": 0}}',
    )
    assert nan.status_code == 422
    assert nan.json()["detail"][0]["loc"] == ["features", "f1"]
    text = _predict(served, {"symbol": "AAA", "features": {**F, "f1": "high"}})
    assert text.status_code == 422
    bad_row = _predict(
        served,
        {"requests": [{"symbol": "A", "features": F}, {"symbol": "B", "features": {"f1": 1.0}}]},
    )
    assert bad_row.status_code == 422
    assert bad_row.json()["detail"].startswith("requests[1]")
    symbol = _predict(served, {"symbol": "has space", "features": F})
    assert symbol.status_code == 422


def test_before_any_champion_predictions_are_503_then_the_poll_loads_them(client, registry):
    from tests.utils.registries import register

    response = _predict(client, {"symbol": "AAA", "features": F})
    assert response.status_code == 503
    assert "no champions" in response.json()["detail"]
    assert client.get("/api/v1/ready").status_code == 503
    versions = {m: register(registry, m, seed) for seed, m in enumerate(SPECIALISTS, start=1)}
    # Ready once a champion is loaded (the poll may catch the registrations half done); the
    # next polls add the others.
    wait_for(
        lambda: client.get("/api/v1/ready").json().get("champions") == versions,
        timeout_s=15,
        what="the registry poll to load the champions",
    )
    assert _predict(client, {"symbol": "AAA", "features": F}).status_code == 200


def test_predictions_are_counted_per_component_and_route(served, champions):
    for _ in range(3):
        _predict(served, {"symbol": "AAA", "features": F})
    _predict(served, {"symbol": "AAA", "features": {}})
    text = served.get("/api/v1/metrics").text
    for model_id in SPECIALISTS:
        line = (
            f'online_learning_predictions_total{{component="{model_id}",kind="batch",'
            f'strategy="ensemble"}} 3.0'
        )
        assert line in text
    assert (
        'online_learning_http_requests_total{method="POST",route="/api/v1/predictions",'
        'status="200"} 3.0'
    ) in text
    assert (
        'online_learning_http_requests_total{method="POST",route="/api/v1/predictions",'
        'status="422"} 1.0'
    ) in text
    assert "online_learning_http_request_duration_seconds_bucket" in text


# -- the platform's features: bars in, the training code's features out ------------------------
def _bars(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2025-01-02", periods=n)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.01, n)))
    return [
        {"date": d.date().isoformat(), "close": float(c), "volume": 1e6}
        for d, c in zip(dates, close, strict=True)
    ]


def test_bars_give_the_same_prediction_as_their_features(platform_champions, client):
    from online_learning.prediction import BARS_NEEDED, features_from_bars

    assert client.get("/api/v1/ready").status_code == 200
    bars = _bars(BARS_NEEDED + 5)
    by_bars = _predict(client, {"symbol": "AAA", "bars": bars})
    assert by_bars.status_code == 200, by_bars.text
    features = features_from_bars(bars)
    assert set(features) == set(FEATURE_COLUMNS) and all(map(math.isfinite, features.values()))
    assert by_bars.json()["features"] == pytest.approx(features)
    by_features = _predict(client, {"symbol": "AAA", "features": features}).json()
    assert by_bars.json()["p_up"] == pytest.approx(by_features["p_up"], abs=1e-12)

    too_few = _predict(client, {"symbol": "AAA", "bars": bars[: BARS_NEEDED - 1]})
    assert too_few.status_code == 422
    assert f"at least {BARS_NEEDED} daily bars" in too_few.json()["detail"]
    shuffled = [bars[1], bars[0], *bars[2:]]
    out_of_order = _predict(client, {"symbol": "AAA", "bars": shuffled})
    assert out_of_order.status_code == 422
    assert "bars[1]" in out_of_order.json()["detail"]
    in_batch = _predict(
        client, {"requests": [{"symbol": "A", "bars": bars}, {"symbol": "B", "bars": bars[:3]}]}
    )
    assert in_batch.status_code == 422
    assert in_batch.json()["detail"].startswith("requests[1]")


# -- micro-batching -----------------------------------------------------------------------
def test_concurrent_single_requests_share_one_forward(served):
    from serving.batcher import MicroBatcher

    service = served.app.state.service
    batcher = MicroBatcher(service)
    rows = [(f"S{i}", {**F, "f2": i / 7}) for i in range(20)]
    rows.insert(7, ("BAD", {"f1": 1.0}))  # fails alone, not its neighbours

    async def run():
        return await asyncio.gather(
            *(batcher.predict(s, f) for s, f in rows), return_exceptions=True
        )

    results = asyncio.run(run())
    assert batcher.batches == 1 + len(rows)  # one batch, then each row alone after the failure
    from online_learning.prediction import InvalidFeatures

    assert isinstance(results[7], InvalidFeatures)
    good = [r for i, r in enumerate(results) if i != 7]
    expected = service.predict_many([r for i, r in enumerate(rows) if i != 7])
    assert [p.p_up for p in good] == pytest.approx([p.p_up for p in expected])

    clean = MicroBatcher(service)

    async def run_clean():
        return await asyncio.gather(*(clean.predict(s, f) for s, f in rows if s != "BAD"))

    asyncio.run(run_clean())
    assert (clean.batches, clean.rows) == (1, 20)


def test_an_outcome_of_a_champion_challenger_prediction_settles_its_shadow_row(served):
    served.post(
        "/api/v1/sessions/start",
        headers=bearer(OPS),
        json={"symbol": "CCH", "feature_names": ["f1", "f2", "f3"]},
    )
    learned = outcome_stream(30, symbol="CCH", feature_names=("f1", "f2", "f3"))
    served.post("/api/v1/feedback/outcomes", json=learned, headers=bearer(FEEDER))

    def joined() -> dict | None:  # once the session cache saw the learning
        body = _predict(
            served, {"symbol": "CCH", "features": F, "strategy": "champion_challenger"}
        ).json()
        return body if body["session"] is not None else None

    body = wait_for(joined, timeout_s=10, what="the online session in the prediction")
    assert body["session"] is not None, body
    shadow = served.app.state.service.shadow
    shadow.flush()
    assert shadow.summary(symbol="CCH").n_outcomes == 0
    outcome = {
        **outcome_stream(1, symbol="CCH", feature_names=("f1", "f2", "f3"), first_index=99)[0],
        "prediction_id": body["prediction_id"],
        "features": body["features"],
    }
    posted = served.post("/api/v1/feedback/outcomes", json=outcome, headers=bearer(FEEDER))
    assert posted.json()["results"][0]["status"] == "accepted"
    summary = shadow.summary(symbol="CCH")
    assert summary.n_outcomes == 1
    served_side = [c for c in body["components"] if c["weight"] > 0]
    assert served_side and summary.served_pnl == pytest.approx(
        body["position"] * outcome["realized_return"]
    )


def test_a_batch_may_mix_strategies_and_keeps_its_order(served):
    requests = [
        {"symbol": "M0", "features": F, "strategy": "champion_challenger"},
        {"symbol": "M1", "features": F},
        {"symbol": "M2", "features": F, "strategy": "champion_challenger"},
    ]
    predictions = _predict(served, {"requests": requests}).json()["predictions"]
    assert [(p["symbol"], p["strategy"]) for p in predictions] == [
        ("M0", "champion_challenger"),
        ("M1", "ensemble"),
        ("M2", "champion_challenger"),
    ]
