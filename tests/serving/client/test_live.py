"""The SDK against the real app on a loopback uvicorn: predictions, outcomes, errors, retries."""

from __future__ import annotations

import threading
import time

import pytest

from online_learning.prediction import features_from_bars
from online_learning_client import (
    AuthenticationError,
    Client,
    Conflict,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RetryPolicy,
    ValidationError,
)
from online_learning_client.signals import SignalCombiner, build_outcome
from tests.serving.client.helpers import bars_of
from tests.utils.api_keys import AGENT, OPS, TRADER, UNKNOWN
from tests.utils.live_server import LiveServer


def test_predict_from_bars_is_the_prediction_of_the_platforms_features(live, market_prices):
    """Bars in, the platform's features computed server-side: the same p_up as sending
    the features that the training code computes from those bars (no train/serve skew)."""
    bars = bars_of(market_prices, "SIM0")
    with Client(live.url, TRADER) as client:
        champions = client.ready().champions
        from_bars = client.predict("SIM0", bars=bars)
        from_features = client.predict("SIM0", features=features_from_bars(bars))
    assert from_bars.p_up == pytest.approx(from_features.p_up, abs=1e-9)
    assert from_bars.position == pytest.approx(2 * from_bars.p_up - 1)
    assert from_bars.confidence == pytest.approx(max(from_bars.p_up, 1 - from_bars.p_up))
    assert from_bars.prediction_id != from_features.prediction_id
    # Provenance: every batch component is a champion at its served version.
    batch = {c.name: c.version for c in from_bars.components if c.kind == "batch"}
    assert batch and all(champions[name] == version for name, version in batch.items())
    assert sum(c.weight for c in from_bars.components) == pytest.approx(1.0)
    # The features a trade outcome must carry: echoed by the server for the bars request,
    # kept by the SDK for the features request.
    assert from_bars.features == pytest.approx(features_from_bars(bars))
    assert from_features.features == pytest.approx(features_from_bars(bars))


def test_too_few_bars_say_how_many_are_needed(live, market_prices):
    with Client(live.url, TRADER) as client, pytest.raises(ValidationError) as info:
        client.predict("SIM0", bars=bars_of(market_prices, "SIM0", n=10))
    assert info.value.status == 422
    assert "64" in info.value.message


def test_predict_many_splits_batches_and_keeps_the_order(live, market_prices):
    rows = [
        (symbol, features_from_bars(bars_of(market_prices, symbol, end=end)))
        for end in range(80, 100)
        for symbol in ("SIM0", "SIM1", "SIM2")
    ]
    with Client(live.url, TRADER, max_batch=25) as client:
        batched = client.predict_many(rows)  # 60 rows: three requests
        singles = [client.predict(s, features=f) for s, f in rows[:5]]
    assert [p.symbol for p in batched] == [s for s, _ in rows]
    assert len({p.prediction_id for p in batched}) == len(rows)
    for one, many in zip(singles, batched, strict=False):
        assert many.p_up == pytest.approx(one.p_up, abs=1e-6)  # one forward or a batched one


def test_outcomes_accepted_then_duplicate_and_rejected_in_order(live, market_prices):
    bars = bars_of(market_prices, "SIM1")
    with Client(live.url, TRADER) as client:
        prediction = client.predict("SIM1", features=features_from_bars(bars))
        signal = SignalCombiner(min_confidence=0.5).combine(prediction, rule_signal=0.3)
        outcome = build_outcome(signal, realized_return=0.004)
        broken = {k: v for k, v in build_outcome(prediction, realized_return=0.01,
                  trade_id="t-broken").items() if k != "realized_return"}  # fmt: skip
        first = client.post_outcomes(outcome)
        results = client.post_outcomes([outcome, broken])
        sessions = {s.symbol: s for s in client.sessions()}
    assert [(r.trade_id, r.status) for r in first] == [(outcome["trade_id"], "accepted")]
    assert [r.status for r in results] == ["duplicate", "rejected"]
    assert results[1].reason == "missing_field" and "realized_return" in results[1].detail
    assert not results[1].ok and results[0].ok
    # Learned once: the symbol's online session saw one outcome, whatever was posted twice.
    assert sessions["SIM1"].samples_seen == 1
    assert sessions["SIM1"].realized_pnl == pytest.approx(signal.position * 0.004)


def test_each_class_of_http_error_is_its_exception(live, platform_settings, market_prices):
    features = features_from_bars(bars_of(market_prices, "SIM2"))
    with Client(live.url, api_key="") as anonymous, pytest.raises(AuthenticationError) as e401:
        anonymous.models()
    assert e401.value.status == 401
    stranger = Client(live.url, UNKNOWN)
    with stranger, pytest.raises(AuthenticationError):
        stranger.predict("SIM2", features=features)
    with Client(live.url, AGENT) as reader:
        with pytest.raises(PermissionDenied) as e403:
            reader.post_outcomes(build_outcome(reader.predict("SIM2", features=features),
                                               realized_return=0.0))  # fmt: skip
        assert e403.value.status == 403
        with pytest.raises(ValidationError) as e422:
            reader.predict("SIM2", features={**features, "not_a_feature": 1.0})
        assert e422.value.status == 422 and e422.value.message
    with Client(live.url, OPS) as ops:
        with pytest.raises(NotFound) as e404:
            ops.model_history("no_such_model")
        assert e404.value.status == 404 and "no_such_model" in e404.value.message
        with pytest.raises(NotFound):
            ops.session_metrics("no-such-session")
        ops.start_session("SIM2")
        with pytest.raises(Conflict) as e409:
            ops.start_session("SIM2")
        assert e409.value.status == 409 and "SIM2" in e409.value.message


def test_an_oversized_batch_is_payload_too_large(platform_settings, feature_champions):
    server = LiveServer(platform_settings.model_copy(update={"max_batch": 5})).start()
    try:
        with Client(server.url, TRADER, max_batch=10) as client:
            rows = [("SIM0", {"ret_1": 0.0})] * 8
            with pytest.raises(PayloadTooLarge) as info:
                client.predict_many(rows)
        assert info.value.status == 413
    finally:
        server.stop()


def test_calls_survive_a_server_restart_through_retries(live):
    """While the server restarts, connections are refused (nothing was sent): a read and a
    prediction both wait it out under the retry policy instead of failing."""
    retry = RetryPolicy(retries=12, backoff_s=0.5, max_backoff_s=1.0)
    with Client(live.url, TRADER, retry=retry) as client:
        assert {m.model_id for m in client.models()} == {
            "bull_specialist", "bear_specialist", "sideways_specialist"
        }  # fmt: skip
        live.stop()
        restarted = threading.Timer(1.0, live.start)
        restarted.start()
        began = time.monotonic()
        models = client.models()  # refused at first, then answered by the new process
        restarted.join()
    assert len(models) == 3
    assert time.monotonic() - began >= 0.9  # it did wait for the restart


def test_a_failing_call_is_not_retried_when_it_is_not_idempotent(live):
    """A 409 is an answer, not a failure: start_session is sent once (a second session
    would be a second side effect) and its error surfaces at once."""
    with Client(live.url, OPS, retry=RetryPolicy(retries=5, backoff_s=1.0)) as client:
        client.start_session("SIM0")
        began = time.monotonic()
        with pytest.raises(Conflict):
            client.start_session("SIM0")
    assert time.monotonic() - began < 0.9
