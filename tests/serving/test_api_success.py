"""``GET /api/v1/metrics/summary`` and the success gauges of ``/metrics``, on trades an agent
reported through the client SDK: every figure is recomputed here by hand from what the agent
was served and traded."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from online_learning_client import Prediction, SignalCombiner, build_outcome
from tests.utils.api_keys import AGENT, FEEDER, OPS, bearer
from tests.utils.registries import FEATURES
from tests.utils.waiting import wait_for

SYMBOL = "AAA"


@pytest.fixture
def trading(champions, registry, make_client):
    """The app serving the three specialists (the bull one tagged as trained through
    2026-01-02) with an online session of AAA on their features that has learned a trade."""
    registry.client.set_model_version_tag(
        "bull_specialist", champions["bull_specialist"], "train_end", "2026-01-02"
    )
    with make_client() as client:
        assert client.get("/api/v1/ready").status_code == 200
        started = client.post("/api/v1/sessions/start", headers=bearer(OPS),
                              json={"symbol": SYMBOL, "feature_names": FEATURES})  # fmt: skip
        assert started.status_code == 201, started.text
        yield client


def _predict(client, features) -> Prediction:
    answer = client.post("/api/v1/predictions", headers=bearer(AGENT),
                         json={"symbol": SYMBOL, "features": features})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return Prediction.model_validate(answer.json())


def _trade(client, rng, combiner, stamp: datetime):
    prediction = _predict(client, {name: float(rng.normal()) for name in FEATURES})
    signal = combiner.combine(prediction, rule_signal=float(rng.uniform(-1, 1)))
    realized = float(rng.normal(0.0, 0.01))
    outcome = build_outcome(signal, realized_return=realized, timestamp=stamp)
    posted = client.post("/api/v1/feedback/outcomes", json=outcome, headers=bearer(FEEDER))
    assert posted.json()["results"][0]["status"] == "accepted", posted.text
    return prediction, signal, realized


def _scores(pairs):
    hits = sum((p > 0.5) == (r > 0) for p, r in pairs) / len(pairs)
    loss = sum(-math.log(p if r > 0 else 1 - p) for p, r in pairs) / len(pairs)
    return hits, loss


def test_the_summary_scores_what_an_agent_traded(trading):
    client, rng = trading, np.random.default_rng(7)
    combiner = SignalCombiner(min_confidence=0.5)  # the ML view always counts
    start = datetime.now(UTC) - timedelta(hours=1)
    first = _trade(client, rng, combiner, start)
    wait_for(lambda: _predict(client, {n: 0.0 for n in FEATURES}).session, timeout_s=10,
             what="the online session in the predictions")  # fmt: skip
    trades = [first] + [_trade(client, rng, combiner, start + timedelta(minutes=i + 1))
                        for i in range(40)]  # fmt: skip

    answer = client.get("/api/v1/metrics/summary", headers=bearer(AGENT))
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    headline = summary["headline"]
    assert summary["trades"] == 41

    # Business impact: what the blend earned minus what the rule alone would have.
    added = sum((s.position - s.rule_signal) * r for _, s, r in trades)
    assert headline["impact_trades"] == 41
    assert headline["ml_added_pnl"] == pytest.approx(added, abs=1e-12)
    assert headline["ml_added_low"] <= headline["ml_added_pnl"] <= headline["ml_added_high"]
    assert headline["ml_added_low"] < headline["ml_added_high"]
    curve = summary["impact_curve"]
    assert curve[-1]["trades"] == 41
    assert curve[-1]["blended_pnl"] == pytest.approx(sum(s.position * r for _, s, r in trades))
    assert curve[-1]["rules_pnl"] == pytest.approx(sum(s.rule_signal * r for _, s, r in trades))
    assert [p["trades"] for p in curve] == list(range(1, 42))  # 41 points: every trade

    # Online vs batch, on the trades whose prediction had both.
    both = [(p, r) for p, _, r in trades if {c.kind for c in p.components} == {"batch", "online"}]
    assert len(both) >= 40 and headline["compared_trades"] == len(both)

    def batch_p(p):
        batch = [c for c in p.components if c.kind == "batch"]
        weight = sum(c.weight for c in batch)
        if weight == 0:
            return sum(c.p_up for c in batch) / len(batch)
        return sum(c.p_up * c.weight for c in batch) / weight

    online_p = [(next(c.p_up for c in p.components if c.kind == "online"), r) for p, r in both]
    hit, loss = _scores(online_p)
    assert headline["online_hit_rate"] == pytest.approx(hit)
    assert headline["online_log_loss"] == pytest.approx(loss)
    hit, loss = _scores([(batch_p(p), r) for p, r in both])
    assert headline["batch_hit_rate"] == pytest.approx(hit)
    assert headline["batch_log_loss"] == pytest.approx(loss)
    served = {(r["symbol"], r["kind"], r["component"]): r for r in summary["accuracy"]}
    assert served["*", "served", "*"]["pnl"] == pytest.approx(
        sum((2 * p.p_up - 1) * r for p, r in both)
    )
    assert served[SYMBOL, "online", "*"] == {**served["*", "online", "*"], "symbol": SYMBOL}
    for name in ("bull_specialist", "bear_specialist", "sideways_specialist"):
        own = [(next(c.p_up for c in p.components if c.name == name), r) for p, r in both]
        hit, loss = _scores(own)
        row = served["*", "batch", name]
        assert (row["hit_rate"], row["log_loss"]) == (pytest.approx(hit), pytest.approx(loss))

    # Freshness: the champions' tags and this replica's load.
    now = datetime.fromisoformat(summary["generated_at"])
    ages = {c["model_id"]: c for c in summary["freshness"]["champions"]}
    assert set(ages) == {"bull_specialist", "bear_specialist", "sideways_specialist"}
    bull = ages["bull_specialist"]
    assert bull["trained_through"] == "2026-01-02"
    assert bull["data_age_days"] == pytest.approx(
        (now - datetime(2026, 1, 2, tzinfo=UTC)).total_seconds() / 86400
    )
    assert ages["bear_specialist"]["data_age_days"] is None  # registered without the tag
    for age in ages.values():
        promoted = datetime.fromisoformat(age["promoted_at"])
        assert age["promotion_age_days"] == pytest.approx((now - promoted).total_seconds() / 86400)
        assert 0 <= age["serving_lag_s"] < 120
    assert headline["mean_data_age_days"] == bull["data_age_days"]
    [session] = summary["freshness"]["sessions"]
    assert session["symbol"] == SYMBOL and session["samples_seen"] == 41
    assert headline["max_checkpoint_age_s"] == session["checkpoint_age_s"] >= 0
    assert summary["episodes"] == []  # no drift: nothing to adapt to


def test_the_success_gauges_follow_the_summary(trading, champions):
    client, rng = trading, np.random.default_rng(3)
    combiner = SignalCombiner(min_confidence=0.5)
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(5):
        _trade(client, rng, combiner, start + timedelta(minutes=i))
    summary = client.get("/api/v1/metrics/summary", headers=bearer(AGENT)).json()

    text = client.get("/api/v1/metrics").text
    samples = {}
    for line in text.splitlines():
        if line.startswith("online_learning_") and "{" in line:
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    added = samples['online_learning_ml_added_pnl{symbol="*"}']
    assert added == pytest.approx(summary["headline"]["ml_added_pnl"])
    version = champions["bull_specialist"]
    trained = samples[
        "online_learning_champion_trained_through_timestamp_seconds"
        f'{{model_id="bull_specialist",version="{version}"}}'
    ]
    assert trained == datetime(2026, 1, 2, tzinfo=UTC).timestamp()
    for model_id, version in champions.items():
        labels = f'{{model_id="{model_id}",version="{version}"}}'
        promoted = samples[f"online_learning_champion_promoted_timestamp_seconds{labels}"]
        loaded = samples[f"online_learning_champion_loaded_timestamp_seconds{labels}"]
        assert promoted <= loaded
    assert f'online_learning_session_checkpoint_timestamp_seconds{{symbol="{SYMBOL}"}}' in samples


def test_summary_requests_are_checked(trading):
    client, rng = trading, np.random.default_rng(5)
    now = datetime.now(UTC)
    for stamp in (now - timedelta(days=2), now - timedelta(hours=1)):
        _trade(client, rng, SignalCombiner(), stamp)
    assert client.get("/api/v1/metrics/summary").status_code == 401
    assert client.get("/api/v1/metrics/summary", headers=bearer(FEEDER)).status_code == 403
    for bad in ("0", "-1", "400", "nan", "week"):
        answer = client.get(f"/api/v1/metrics/summary?window_days={bad}", headers=bearer(AGENT))
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["detail"][0]["loc"] == ["query", "window_days"]
    day = client.get("/api/v1/metrics/summary?window_days=1", headers=bearer(AGENT))
    assert day.status_code == 200 and day.json()["trades"] == 1
    month = client.get("/api/v1/metrics/summary", headers=bearer(AGENT))
    assert month.json()["trades"] == 2


def test_the_replica_keeps_a_few_windows_only(trading):
    success = trading.app.state.success
    for days in range(1, 30):
        answer = trading.get(f"/api/v1/metrics/summary?window_days={days}", headers=bearer(AGENT))
        assert answer.status_code == 200
    assert len(success._cache) == 8 and set(success._cache) == set(range(22, 30))
