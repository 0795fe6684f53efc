"""What the SDK sends and how it reads errors, before any server is involved."""

from __future__ import annotations

import math

import httpx
import pytest

from online_learning.feedback.simulator import SimulatedMarket
from online_learning_client import (
    ApiError,
    AuthenticationError,
    Client,
    Conflict,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RetryPolicy,
    ServerError,
    ValidationError,
)
from online_learning_client import _calls as calls
from online_learning_client.errors import error_for_status


def test_bars_from_a_dataframe_become_iso_dates_and_numbers():
    prices = SimulatedMarket(1, seed=0, schedule=[("bull", 30)]).prices()
    body = calls.prediction_body("SIM0", bars=prices[["date", "close"]].tail(70))
    assert len(body["bars"]) == 70
    first = body["bars"][0]
    assert set(first) == {"date", "close"} and len(first["date"]) == 10  # YYYY-MM-DD
    assert isinstance(first["close"], float)
    # Columns the API does not take (here `symbol`, `regime`) are left out.
    full = calls.bars_body(prices.tail(3))
    assert all(set(bar) == {"date", "close"} for bar in full)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": {"ret_1": math.nan}}, "finite"),
        ({"features": {"ret_1": "x"}}, "number"),
        ({"features": {}}, "non-empty"),
        ({"features": {"ret_1": 0.1}, "bars": [{"date": "2026-01-02", "close": 1.0}]}, "exactly"),
        ({}, "exactly"),
        ({"bars": [{"date": "2026-01-02"}]}, "'date' and 'close'"),
        ({"bars": [{"date": "2026-01-02", "close": math.inf}]}, "finite"),
        ({"bars": "AAA"}, "non-empty list"),
    ],
)
def test_invalid_input_fails_before_sending(kwargs, message):
    with pytest.raises(ValidationError, match=message) as info:
        calls.predict("AAA", **kwargs)
    assert info.value.status is None  # refused locally, not by the server


def test_batches_are_split_at_the_servers_limit_in_order():
    items = [("AAA", {"ret_1": float(i)}) for i in range(2500)]
    split = calls.predict_many(items)
    assert [len(c.json["requests"]) for c in split] == [1000, 1000, 500]
    assert split[2].json["requests"][-1]["features"]["ret_1"] == 2499.0
    mixed = calls.predict_many([{"symbol": "BBB", "features": {"x": 1}}, ("CCC", {"x": 2})])
    assert [r["symbol"] for r in mixed[0].json["requests"]] == ["BBB", "CCC"]
    with pytest.raises(ValidationError, match="pair"):
        calls.predict_many(["AAA"])


def test_a_model_id_asks_that_model_alone_and_is_checked_before_sending():
    body = calls.predict("AAA", bars=[{"date": "2026-01-02", "close": 1.0}], model_id="team_gru")
    assert body.json["model_id"] == "team_gru"
    assert "model_id" not in calls.predict("AAA", features={"x": 1.0}).json  # the ensemble
    batch = calls.predict_many([{"symbol": "BBB", "features": {"x": 1}, "model_id": "m"}])
    assert batch[0].json["requests"][0]["model_id"] == "m"
    with pytest.raises(ValidationError, match="model_id must be a non-empty string"):
        calls.predict("AAA", features={"x": 1.0}, model_id="")


def test_only_reads_and_outcomes_are_idempotent():
    assert calls.get("/models").idempotent
    assert all(c.idempotent for c in calls.post_outcomes([{"trade_id": "t"}]))
    assert not calls.predict("AAA", features={"x": 1.0}).idempotent
    assert not calls.start_update("bull_specialist").idempotent
    assert not calls.start_session("AAA").idempotent


def test_update_request_body():
    call = calls.start_update(
        "bull_specialist", data_window=("2026-01-01", "2026-03-01"), learning_rate=1e-3,
        stability_check=False,
    )  # fmt: skip
    assert call.json == {
        "model_id": "bull_specialist", "learning_rate": 1e-3, "stability_check": False,
        "data_window": {"start": "2026-01-01", "end": "2026-03-01"},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (403, PermissionDenied),
        (404, NotFound),
        (409, Conflict),
        (413, PayloadTooLarge),
        (422, ValidationError),
        (500, ServerError),
        (503, ServerError),
        (400, ApiError),
    ],
)
def test_each_status_class_has_its_exception(status, cls):
    error = error_for_status(status, {"detail": "what went wrong"})
    assert type(error) is cls
    assert (error.status, error.message) == (status, "what went wrong")


def test_fastapi_validation_lists_are_summarised():
    body = {"detail": [{"loc": ["body", "features", "ret_1"], "msg": "Input should be finite"}]}
    error = error_for_status(422, body)
    assert error.message == "body.features.ret_1: Input should be finite"
    assert error.errors == body["detail"]


def test_retry_rules():
    policy = RetryPolicy(retries=2)
    refused, reset = httpx.ConnectError("refused"), httpx.ReadError("reset")
    assert policy.retry_error(refused, idempotent=False, attempt=0)  # never reached the server
    assert not policy.retry_error(reset, idempotent=False, attempt=0)  # it may have
    assert policy.retry_error(reset, idempotent=True, attempt=1)
    assert not policy.retry_error(reset, idempotent=True, attempt=2)  # retries spent
    assert policy.retry_status(503, idempotent=True, attempt=0)
    assert not policy.retry_status(503, idempotent=False, attempt=0)
    assert not policy.retry_status(422, idempotent=True, attempt=0)
    assert policy.delay(0, retry_after="2") == 2.0
    assert 0 <= policy.delay(10) <= policy.max_backoff_s


def test_the_key_stays_out_of_repr_and_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("ONLINE_LEARNING_API_KEY", raising=False)
    monkeypatch.setenv("ONLINE_LEARNING_HOME", str(tmp_path))
    (tmp_path / "api-key").write_text("dev-from-the-home-folder-0123\n")
    with Client("http://127.0.0.1:1/api/v1/") as client:
        assert client.base_url == "http://127.0.0.1:1"
        assert client.headers["Authorization"] == "Bearer dev-from-the-home-folder-0123"
        assert "dev-from" not in repr(client)
    monkeypatch.setenv("ONLINE_LEARNING_API_KEY", "agent-key-from-env-0123")
    with Client() as client:
        assert client.headers["Authorization"] == "Bearer agent-key-from-env-0123"


def test_a_refused_connection_is_retried_then_reported():
    from online_learning_client import ConnectionFailed

    # Port 1 on loopback: nothing listens, every attempt is refused (nothing was sent).
    client = Client("http://127.0.0.1:1", "k" * 20, retry=RetryPolicy(retries=2, backoff_s=0))
    with client, pytest.raises(ConnectionFailed, match="ConnectError"):
        client.predict("AAA", features={"ret_1": 0.1})
