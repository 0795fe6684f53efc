"""The adaptive model manager: performance, drift state and regime changes start adaptations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from online_learning.feedback.drift_watch import PerformanceView, WatchSnapshot
from online_learning.feedback.manager import AdaptiveModelManager, ManagerThresholds
from online_learning.feedback.service import FeedbackService
from online_learning.metrics_store.drift_store import DriftStore
from online_learning.metrics_store.feedback_records import DriftRecord
from tests.utils.trade_outcomes import outcome_stream

T0 = datetime(2026, 1, 5, 21, 0, tzinfo=UTC)


def _snapshot(model="bull_specialist", symbol="AAA", *, perf=None, detectors=None,
              detected=None, features=None) -> WatchSnapshot:  # fmt: skip
    return WatchSnapshot(
        model_id=model, symbol=symbol, n_outcomes=200,
        performance=perf or PerformanceView(100, 0.001, 1.2, 0.55),
        detectors=detectors or {}, last_detection_at=detected,
        last_features=features, last_outcome_at=T0,
    )  # fmt: skip


def _features(trend: float) -> dict[str, float]:
    return {"trend_63": trend, "ret_21": trend * 0.01 * np.sqrt(21), "vol_21": 0.01}


def test_poor_realised_performance_requests_one_adaptation_per_cool_down(metrics) -> None:
    service = FeedbackService(store=metrics)
    # Outcomes whose pnl turns mildly negative: too little for a detector over 120 outcomes,
    # enough for the performance thresholds.
    items = outcome_stream(120, symbol="AAA", model_id="bull_specialist", seed=3,
                           mean_before=-0.004, vol=0.01)  # fmt: skip
    service.submit(items)
    manager = AdaptiveModelManager(service.watch_snapshots, DriftStore(metrics),
                                   cooldown=timedelta(hours=1))  # fmt: skip
    [request] = manager.check()
    assert (request.model_id, request.symbol, request.reason) == (
        "bull_specialist", "AAA", "performance"
    )  # fmt: skip
    assert request.prefect_status == "pending" and request.adaptation_requested
    assert request.statistics["performance"]["sharpe"] < -1.0
    assert request.statistics["trigger"]["source"] == "adaptive_manager"
    # The same event path as a detection: a model_drift event with the reason.
    [event] = [e for e in metrics.pending_events() if e.event_id == request.drift_id]
    assert event.topic == "model-drift" and event.payload["reason"] == "performance"

    assert manager.check() == []  # inside the cool-down: nothing, not even a row
    later = datetime.now(UTC) + timedelta(hours=2)
    assert [r.reason for r in manager.check(now=later)] == ["performance"]
    assert manager.requests == 2


def test_a_drift_the_cool_down_absorbed_is_requested_once_it_has_passed(metrics) -> None:
    drift = DriftStore(metrics)
    earlier = DriftRecord("d-0", "bear_specialist", "BBB", "drift", ("adwin",), {}, 300, T0)
    drift.record([earlier], cooldown=timedelta(hours=1), topic="model-drift")
    # AAA drifted 10 minutes later: its own request was absorbed by the cool-down.
    detected = T0 + timedelta(minutes=10)
    in_drift = {"adwin": {"drift_detected": True}, "page_hinkley": {"drift_detected": False}}
    snapshot = _snapshot("bear_specialist", detectors=in_drift, detected=detected)
    manager = AdaptiveModelManager(lambda: [snapshot], drift, cooldown=timedelta(hours=1))

    assert manager.check(now=T0 + timedelta(minutes=30)) == []  # still cooling down
    [request] = manager.check(now=T0 + timedelta(hours=2))
    assert (request.reason, request.detectors, request.symbol) == ("drift", ("adwin",), "AAA")
    # Once requested, the same detection does not ask again.
    assert manager.check(now=T0 + timedelta(hours=4)) == []


def test_a_confirmed_regime_change_adapts_the_new_regimes_specialist(metrics) -> None:
    trend = {"value": 2.0}
    manager = AdaptiveModelManager(
        lambda: [_snapshot(features=_features(trend["value"]))], DriftStore(metrics),
        thresholds=ManagerThresholds(confirmations=2), cooldown=timedelta(hours=1),
    )  # fmt: skip
    assert manager.check(now=T0) == []  # the first look only learns the regime (bull)
    trend["value"] = -2.0
    assert manager.check(now=T0 + timedelta(minutes=5)) == []  # one bear reading: wait
    [request] = manager.check(now=T0 + timedelta(minutes=10))
    assert (request.model_id, request.reason) == ("bear_specialist", "regime_change")
    assert request.statistics["trigger"]["from"] == "bull"
    assert request.statistics["trigger"]["to"] == "bear"
    assert manager.check(now=T0 + timedelta(minutes=15)) == []  # the regime holds: nothing new


def test_a_flicker_is_not_a_regime_change_and_online_sessions_are_not_adapted(metrics) -> None:
    readings = iter([2.0, -2.0, 2.0, -2.0, 2.0])
    current = {"value": 2.0}

    def snapshots():
        losing = PerformanceView(100, -0.01, -5.0, 0.2)
        return [_snapshot(features=_features(current["value"])),
                _snapshot("online", "BBB", perf=losing)]  # fmt: skip

    manager = AdaptiveModelManager(snapshots, DriftStore(metrics),
                                   thresholds=ManagerThresholds(confirmations=2))  # fmt: skip
    for i, value in enumerate(readings):
        current["value"] = value
        assert manager.check(now=T0 + timedelta(minutes=5 * i)) == []
