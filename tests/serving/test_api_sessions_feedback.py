"""Sessions, trade outcomes and drift over HTTP, in-process (no broker): an accepted outcome
is learned and durable before the answer."""

from __future__ import annotations

from online_learning.features import FEATURE_COLUMNS
from tests.utils.api_keys import AGENT, FEEDER, OPS, bearer
from tests.utils.trade_outcomes import outcome_stream

FEATURES = {name: 0.01 * (i + 1) for i, name in enumerate(FEATURE_COLUMNS)}


def _start(client, **body):
    return client.post("/api/v1/sessions/start", json=body, headers=bearer(OPS))


def test_a_session_starts_once_and_reports_its_metrics(client):
    started = _start(
        client, symbol="AAA", model_type="hoeffding_tree", hyperparameters={"grace_period": 50}
    )
    assert started.status_code == 201, started.text
    session = started.json()
    assert session["symbol"] == "AAA" and session["model_type"] == "hoeffding_tree"
    assert session["samples_seen"] == 0 and session["checkpoint_age_s"] == 0.0

    again = _start(client, symbol="AAA")
    assert again.status_code == 409
    assert session["session_id"] in again.json()["detail"]

    listed = client.get("/api/v1/sessions", headers=bearer(AGENT)).json()
    assert [s["session_id"] for s in listed] == [session["session_id"]]
    metrics = client.get(f"/api/v1/sessions/{session['session_id']}/metrics", headers=bearer(AGENT))
    assert metrics.status_code == 200
    assert metrics.json()["session_id"] == session["session_id"]


def test_invalid_session_requests_are_422_with_the_reason(client):
    bad_params = _start(client, symbol="AAA", hyperparameters={"depth": 3})
    assert bad_params.status_code == 422
    assert "unknown parameters for logistic_regression: depth" in bad_params.json()["detail"]
    bad_type = _start(client, symbol="AAA", model_type="svm")
    assert bad_type.status_code == 422
    assert bad_type.json()["detail"][0]["loc"] == ["model_type"]
    bad_symbol = _start(client, symbol="A A")
    assert bad_symbol.status_code == 422
    unknown_field = _start(client, symbol="AAA", colour="red")
    assert unknown_field.status_code == 422
    assert unknown_field.json()["detail"][0]["type"] == "extra_forbidden"


def test_unknown_sessions_are_404(client):
    for response in (
        client.get("/api/v1/sessions/s-nope/metrics", headers=bearer(AGENT)),
        client.post(
            "/api/v1/sessions/s-nope/predict", json={"features": FEATURES}, headers=bearer(AGENT)
        ),
    ):
        assert response.status_code == 404
        assert response.json()["detail"] == "no active session 's-nope'"


def test_outcomes_are_accepted_once_learned_and_change_the_session(client):
    session = _start(client, symbol="AAA").json()
    outcomes = outcome_stream(40, symbol="AAA")
    before = client.post(
        f"/api/v1/sessions/{session['session_id']}/predict",
        json={"features": outcomes[0]["features"]},
        headers=bearer(AGENT),
    )
    assert before.status_code == 200 and before.json()["samples_seen"] == 0

    posted = client.post("/api/v1/feedback/outcomes", json=outcomes, headers=bearer(FEEDER))
    assert posted.status_code == 200, posted.text
    assert [r["status"] for r in posted.json()["results"]] == ["accepted"] * 40

    again = client.post(
        "/api/v1/feedback/outcomes", json=[*outcomes[:2], outcomes[5]], headers=bearer(FEEDER)
    )
    assert [r["status"] for r in again.json()["results"]] == ["duplicate"] * 3

    metrics = client.get(
        f"/api/v1/sessions/{session['session_id']}/metrics", headers=bearer(AGENT)
    ).json()
    assert metrics["samples_seen"] == 40
    assert metrics["realized_pnl"] == sum(o["pnl"] for o in outcomes)
    after = client.post(
        f"/api/v1/sessions/{session['session_id']}/predict",
        json={"features": outcomes[0]["features"]},
        headers=bearer(AGENT),
    )
    assert after.json()["samples_seen"] == 40
    assert after.json()["p_up"] != before.json()["p_up"]
    assert after.json()["position"] == 2 * after.json()["p_up"] - 1


def test_one_outcome_or_a_list_each_with_its_own_verdict(client):
    good = outcome_stream(1, symbol="BBB")[0]
    single = client.post("/api/v1/feedback/outcomes", json=good, headers=bearer(FEEDER))
    assert single.json() == {
        "results": [
            {"trade_id": good["trade_id"], "status": "accepted", "reason": None, "detail": None}
        ]
    }
    nan = {**outcome_stream(1, symbol="BBB", first_index=1)[0], "realized_return": "NaN"}
    future = {
        **outcome_stream(1, symbol="BBB", first_index=2)[0],
        "timestamp": "2999-01-01T00:00:00Z",
    }
    unknown_model = {**outcome_stream(1, symbol="BBB", first_index=3)[0], "model_id": "nope"}
    mixed = client.post(
        "/api/v1/feedback/outcomes",
        json=[{"trade_id": "t-x"}, 7, nan, future, unknown_model],
        headers=bearer(FEEDER),
    ).json()["results"]
    assert [(r["status"], r["reason"]) for r in mixed] == [
        ("rejected", "missing_field"),
        ("rejected", "not_an_object"),
        ("rejected", "invalid_field"),
        ("rejected", "future_timestamp"),
        ("rejected", "unknown_model"),
    ]
    assert all(r["detail"] for r in mixed)


def test_oversize_and_malformed_outcome_bodies(client):
    many = outcome_stream(1001, symbol="CCC")
    too_many = client.post("/api/v1/feedback/outcomes", json=many, headers=bearer(FEEDER))
    assert too_many.status_code == 413
    assert too_many.json()["detail"] == "1001 outcomes in one request; at most 1000"
    not_json = client.post(
        "/api/v1/feedback/outcomes",
        content=b"{",
        headers={**bearer(FEEDER), "content-type": "application/json"},
    )
    assert not_json.status_code == 422
    scalar = client.post("/api/v1/feedback/outcomes", json=3, headers=bearer(FEEDER))
    assert scalar.status_code == 422


def test_a_body_over_the_byte_limit_is_413_before_it_is_read(make_client):
    with make_client(max_body_bytes=4096) as client:
        response = client.post(
            "/api/v1/feedback/outcomes",
            content=b"[" + b" " * 5000 + b"]",
            headers={**bearer(FEEDER), "content-type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json() == {"detail": "request body over 4096 bytes"}


def test_drift_fires_on_posted_outcomes_and_shows_in_status_and_history(client, champions):
    outcomes = outcome_stream(500, symbol="DDD", model_id="bull_specialist", change_at=250)
    for i in range(0, 500, 100):
        posted = client.post(
            "/api/v1/feedback/outcomes", json=outcomes[i : i + 100], headers=bearer(FEEDER)
        )
        assert {r["status"] for r in posted.json()["results"]} == {"accepted"}
    status = client.get("/api/v1/drift/status", headers=bearer(AGENT)).json()
    watch = next(s for s in status if (s["model_id"], s["symbol"]) == ("bull_specialist", "DDD"))
    assert watch["n_outcomes"] == 500
    assert watch["last_detection_at"] is not None and watch["last_reason"] == "drift"
    history = client.get(
        "/api/v1/drift/history?model_id=bull_specialist&symbol=DDD", headers=bearer(AGENT)
    ).json()
    assert history and all(h["model_id"] == "bull_specialist" for h in history)
    assert history[0]["n_outcomes"] > 250  # after the change, never before it
    other = client.get("/api/v1/drift/history?symbol=ZZZ", headers=bearer(AGENT)).json()
    assert other == []
