"""GET /models, /models/{id}/history and /models/{id}/performance against the real MLflow
registry and the SQLite metrics store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from online_learning.metrics_store import MetricsStore, PerformanceRow
from online_learning.metrics_store.records import UpdateRecord
from online_learning.settings import get_settings
from online_learning.update_result import UpdateResult
from tests.utils.api_keys import AGENT, bearer

T0 = datetime(2026, 1, 5, 18, 0, tzinfo=UTC)


@pytest.fixture
def store(home):
    with MetricsStore.from_settings(get_settings()) as store:
        store.migrate()
        yield store


def _record(model_id, i, decision, *, version="2", previous="1", duration_s=60.0):
    return UpdateRecord(
        job_id=f"job-{i}/{model_id}/x",
        model_id=model_id,
        decision=decision,
        reason="passed" if decision == "promoted" else "sharpe_degradation",
        sharpe_pre=1.0,
        sharpe_post=1.2 if decision == "promoted" else float("nan"),
        degradation_pct=-20.0,
        duration_s=duration_s,
        started_at=T0 + timedelta(days=i),
        finished_at=T0 + timedelta(days=i, minutes=1),
        version=version,
        previous_version=previous,
        window_start="2024-01-02",
        window_end="2024-03-28",
    )


def test_models_list_champions_regimes_features_and_the_last_update(served, champions, store):
    store.record_update(_record("bull_specialist", 0, "rolled_back", version="1"))
    store.record_update(_record("bull_specialist", 1, "promoted", version="1"))
    response = served.get("/api/v1/models", headers=bearer(AGENT))
    assert response.status_code == 200
    rows = {row["model_id"]: row for row in response.json()}
    assert set(rows) == set(champions)
    bull = rows["bull_specialist"]
    assert bull["champion_version"] == champions["bull_specialist"]
    assert bull["regime"] == "bull"
    assert bull["feature_names"] == ["f1", "f2", "f3"]
    assert bull["last_update"] == {
        "decision": "promoted",
        "version": "1",
        "at": (T0 + timedelta(days=1, minutes=1)).isoformat(),
    }
    assert rows["bear_specialist"]["last_update"] is None


def test_history_is_newest_first_with_null_for_nan_and_honours_the_limit(served, store):
    for i, decision in enumerate(["promoted", "rolled_back", "deferred"]):
        store.record_update(_record("bear_specialist", i, decision))
    history = served.get("/api/v1/models/bear_specialist/history", headers=bearer(AGENT)).json()
    assert [h["decision"] for h in history] == ["deferred", "rolled_back", "promoted"]
    assert history[1]["sharpe_post"] is None  # NaN in the store
    assert history[2]["sharpe_post"] == 1.2
    # The update's result as declared (its model is the path's), and when it was recorded.
    assert set(history[0]) == {*UpdateResult.names(), "job_id", "recorded_at"} - {"model_id"}
    assert history[0]["window_end"] == "2024-03-28"
    limited = served.get("/api/v1/models/bear_specialist/history?limit=1", headers=bearer(AGENT))
    assert len(limited.json()) == 1
    bad = served.get("/api/v1/models/bear_specialist/history?limit=0", headers=bearer(AGENT))
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "limit"]


def test_performance_days_rolling_sharpe_and_summary(served, store):
    rng = np.random.default_rng(3)
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(60)]
    returns = rng.normal(0.001, 0.01, size=(60, 2))
    store.record_daily_performance(
        [
            PerformanceRow("sideways_specialist", symbol, day, 1.0, r, r)
            for day, row in zip(days, returns, strict=True)
            for symbol, r in zip(("AAA", "BBB"), row, strict=True)
        ]
    )
    response = served.get(
        "/api/v1/models/sideways_specialist/performance?days=20", headers=bearer(AGENT)
    )
    assert response.status_code == 200
    body = response.json()
    assert [d["date"] for d in body["days"]] == [d.isoformat() for d in days[-20:]]
    daily = returns.mean(axis=1)
    assert body["days"][-1]["strategy_return"] == pytest.approx(daily[-1])
    window = daily[-30:]
    expected = window.mean() / window.std(ddof=1) * np.sqrt(252)
    assert body["days"][-1]["rolling_sharpe_30d"] == pytest.approx(expected, rel=1e-6)
    assert body["summary"]["n_days"] == 20
    assert body["summary"] == pytest.approx(
        store.performance_summary("sideways_specialist", days=20)
    )


def test_performance_without_days_is_empty_with_null_statistics(served):
    body = served.get("/api/v1/models/bull_specialist/performance", headers=bearer(AGENT)).json()
    assert body["days"] == []
    assert body["summary"] == {"sharpe": None, "hit_rate": None, "max_drawdown": None, "n_days": 0}


@pytest.mark.parametrize("what", ["history", "performance"])
def test_unknown_models_are_404_with_a_message(served, what):
    response = served.get(f"/api/v1/models/nope_specialist/{what}", headers=bearer(AGENT))
    assert response.status_code == 404
    assert response.json()["detail"] == "no model 'nope_specialist' in the registry"
    bad = served.get(f"/api/v1/models/not a model!/{what}", headers=bearer(AGENT))
    assert bad.status_code == 422


def test_the_update_metrics_of_the_store_are_exposed_with_the_apis(client, store):
    store.record_update(_record("bull_specialist", 0, "promoted"))
    store.record_update(_record("bull_specialist", 1, "rolled_back"))
    store.record_update(_record("bear_specialist", 2, "failed"))
    text = client.get("/api/v1/metrics").text
    for line in (
        'online_learning_updates_total{model_id="bull_specialist",outcome="promoted"} 1.0',
        'online_learning_updates_total{model_id="bull_specialist",outcome="rolled_back"} 1.0',
        'online_learning_updates_total{model_id="bear_specialist",outcome="failed"} 1.0',
        'online_learning_consecutive_failed_updates{model_id="bull_specialist"} 1.0',
        'online_learning_rollback_rate{model_id="bull_specialist"} 0.5',
    ):
        assert line in text, line
    assert "online_learning_http_requests_total" in text
    assert "online_learning_stream_subscribers" in text  # the streams' metrics, same scrape
