"""The feedback service in-process (no broker): learn once per trade, record, watch drift."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from online_learning.errors import SessionExistsError, SessionNotFoundError
from online_learning.features import FEATURE_COLUMNS
from online_learning.feedback.service import FeedbackService
from online_learning.feedback.session_config import SessionConfig
from online_learning.feedback.sessions import InvalidFeatures
from tests.utils.trade_outcomes import outcome_stream

MODELS = {"bull_specialist", "bear_specialist"}


def _service(metrics, **kwargs) -> FeedbackService:
    return FeedbackService(store=metrics, known_model_ids=MODELS, **kwargs)


def _count(metrics, table: str) -> int:
    with metrics.engine.connect() as connection:
        return connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_outcomes_are_learned_once_and_their_metrics_move(metrics) -> None:
    service = _service(metrics)
    items = outcome_stream(300, symbol="AAA", model_id="bull_specialist", seed=1)

    results = service.submit(items[:200])
    assert [r.status for r in results] == ["accepted"] * 200
    [session] = service.list_sessions()
    assert (session.symbol, session.samples_seen, session.model_type) == (
        "AAA", 200, "logistic_regression"
    )  # fmt: skip
    first = session.realized_pnl

    # Re-delivered (REST retry, Kafka re-delivery): nothing changes; new ones are learned.
    again = service.submit([json.dumps(i).encode() for i in items[150:300]])
    assert [r.status for r in again] == ["duplicate"] * 50 + ["accepted"] * 100
    [session] = service.list_sessions()
    assert session.samples_seen == 300
    assert session.realized_pnl == pytest.approx(sum(i["pnl"] for i in items))
    assert session.realized_pnl != first
    assert _count(metrics, "processed_trades") == 300

    # A new service (a restart) on the same store knows what was learned.
    restarted = _service(metrics)
    assert [r.status for r in restarted.submit(items[:3])] == ["duplicate"] * 3
    assert restarted.list_sessions()[0].samples_seen == 300
    restarted.submit(outcome_stream(1, symbol="AAA", seed=1, first_index=300))
    assert restarted.list_sessions()[0].samples_seen == 301


def test_the_same_trade_twice_in_one_batch_is_learned_once(metrics) -> None:
    service = _service(metrics)
    [item] = outcome_stream(1)
    assert [r.status for r in service.submit([item, item])] == ["accepted", "duplicate"]
    assert service.list_sessions()[0].samples_seen == 1


def test_bad_outcomes_never_reach_a_model_and_are_counted(metrics) -> None:
    service = _service(metrics)
    good = outcome_stream(2, symbol="AAA")
    bad = [
        b"{not json",
        {**good[0], "trade_id": "x-1", "realized_return": float("nan")},
        {**good[0], "trade_id": "x-2", "model_id": "ghost_model"},
        {**good[0], "trade_id": "x-3", "features": {"ret_1": 0.1}},
        {**good[0], "trade_id": "x-4", "timestamp": "2999-01-01T00:00:00Z"},
        {k: v for k, v in good[0].items() if k != "symbol"} | {"trade_id": "x-5"},
    ]
    results = service.submit([good[0], *bad, good[1]])
    assert [(r.trade_id, r.status, r.reason) for r in results] == [
        (good[0]["trade_id"], "accepted", None),
        (None, "rejected", "malformed_json"),
        ("x-1", "rejected", "non_finite"),
        ("x-2", "rejected", "unknown_model"),
        ("x-3", "rejected", "wrong_features"),
        ("x-4", "rejected", "future_timestamp"),
        ("x-5", "rejected", "missing_field"),
        (good[1]["trade_id"], "accepted", None),
    ]
    assert all(r.detail for r in results if r.status == "rejected")
    assert service.list_sessions()[0].samples_seen == 2
    assert service.rejection_counts() == {
        ("rest", reason): 1
        for reason in (
            "malformed_json",
            "non_finite",
            "unknown_model",
            "wrong_features",
            "future_timestamp",
            "missing_field",
        )
    }
    assert _count(metrics, "processed_trades") == 2


def test_sessions_start_once_per_symbol_and_read_their_own_features(metrics) -> None:
    service = _service(metrics)
    config = SessionConfig("hoeffding_tree", {"grace_period": 20}, feature_names=("a", "b"))
    started = service.start_session("BBB", config)
    assert (started.symbol, started.model_type, started.samples_seen) == (
        "BBB",
        "hoeffding_tree",
        0,
    )
    with pytest.raises(SessionExistsError):
        service.start_session("BBB")
    with pytest.raises(SessionExistsError):  # also from another process on the same store
        _service(metrics).start_session("BBB")

    custom = outcome_stream(30, symbol="BBB", feature_names=("a", "b"))
    default = outcome_stream(5, symbol="BBB", seed=2)  # the platform's features: not this session's
    statuses = [r.status for r in service.submit(custom + default)]
    assert statuses == ["accepted"] * 30 + ["rejected"] * 5
    session_id = started.session_id
    assert service.session_metrics(session_id).samples_seen == 30
    snapshot, age = service.session_snapshot(session_id)
    assert (snapshot.samples_seen, age) == (30, 0.0)  # owned here: live, not a checkpoint
    reader_side, reader_age = _service(metrics).session_snapshot(session_id)
    assert reader_side.samples_seen == 30 and reader_age >= 0.0

    prediction = service.predict(session_id, {"a": 1.0, "b": -1.0})
    assert 0.0 <= prediction.p_up <= 1.0
    assert (prediction.session_id, prediction.samples_seen) == (session_id, 30)
    with pytest.raises(InvalidFeatures):
        service.predict(session_id, dict.fromkeys(FEATURE_COLUMNS, 0.0))
    with pytest.raises(SessionNotFoundError):
        service.get_session("s-does-not-exist")

    # The first outcome of a symbol without a session starts the default one.
    service.submit(outcome_stream(3, symbol="CCC"))
    by_symbol = {m.symbol: m for m in service.list_sessions()}
    assert by_symbol["CCC"].model_type == "logistic_regression"
    assert by_symbol["CCC"].samples_seen == 3


def test_a_reading_copy_follows_the_owner_after_it_learns(metrics) -> None:
    service = _service(metrics)
    items = outcome_stream(200, symbol="AAA", seed=3)
    service.submit(items[:100])
    [metrics_now] = service.list_sessions()
    copy = service.get_session(metrics_now.session_id)
    features = items[0]["features"]
    before = copy.predict_proba_one(features)
    service.submit(items[100:])
    assert copy.predict_proba_one(features) == before  # a reader's copy never changes
    assert service.get_session(metrics_now.session_id).samples_seen == 200
    # Another process (a serving replica) reads the owner's checkpoint.
    replica = _service(metrics)
    prediction = replica.predict(metrics_now.session_id, features)
    assert prediction.p_up == service.predict(metrics_now.session_id, features).p_up
    assert prediction.checkpoint_age_s >= 0 and prediction.samples_seen == 200


def test_drift_fires_after_a_known_change_and_not_before(metrics, record_property) -> None:
    change = 300
    events = []
    service = _service(metrics, on_drift=events.append)
    items = outcome_stream(700, symbol="AAA", model_id="bull_specialist", seed=11,
                           change_at=change)  # fmt: skip
    for start in range(0, len(items), 50):
        service.submit(items[start : start + 50])

    history = service.drift_history(model_id="bull_specialist")
    assert history, "no drift detected after the change"
    first = min(history, key=lambda r: r.n_outcomes)
    delay = first.n_outcomes - 1 - change
    record_property("detection_delay_outcomes", delay)
    print(f"drift detected {delay} outcomes after the change, by {first.detectors}")
    assert all(r.n_outcomes - 1 >= change for r in history), "a false alarm before the change"
    assert 0 <= delay < 300

    # The drift went out through the outbox as a model_drift event, and to the callback.
    payloads = [e.payload for e in metrics.pending_events() if e.topic == "model-drift"]
    assert {p["event_id"] for p in payloads} == {r.drift_id for r in history}
    event = next(p for p in payloads if p["event_id"] == first.drift_id)
    assert event["event_type"] == "model_drift" and event["schema_version"] == 1
    assert (event["model_id"], event["symbol"], event["reason"]) == (
        "bull_specialist",
        "AAA",
        "drift",
    )
    assert event["detectors"] == list(first.detectors) and event["n_outcomes"] == first.n_outcomes
    assert set(event["statistics"]["detectors"]) == {"adwin", "page_hinkley", "losing_trades"}
    assert [e.event_id for e in events] == [r.drift_id for r in reversed(history)]
    # One adaptation request; further drifts inside the cool-down are recorded, not requested.
    assert min(history, key=lambda r: r.n_outcomes).prefect_status == "pending"
    assert sum(r.adaptation_requested for r in history) == 1

    [status] = [s for s in service.drift_status() if s.model_id == "bull_specialist"]
    assert status.symbol == "AAA" and status.n_outcomes == 700
    assert status.last_reason == "drift" and status.adaptation_running  # the request waits
    assert status.outcomes_since_detection == 700 - max(r.n_outcomes for r in history)
    assert set(status.detectors) == {"adwin", "page_hinkley", "losing_trades"}
    assert all("drift_detected" in d for d in status.detectors.values())
    assert service.list_sessions()[0].last_drift_at is not None


def test_one_cool_down_per_model_across_symbols(metrics) -> None:
    service = _service(metrics, drift_cooldown=timedelta(hours=1))
    for symbol, seed in (("AAA", 11), ("BBB", 12)):
        items = outcome_stream(600, symbol=symbol, model_id="bear_specialist", seed=seed,
                               change_at=300)  # fmt: skip
        for start in range(0, 600, 100):
            service.submit(items[start : start + 100])
    history = service.drift_history(model_id="bear_specialist")
    assert {r.symbol for r in history} == {"AAA", "BBB"}
    assert sum(r.adaptation_requested for r in history) == 1  # a burst: one adaptation
    assert {r.prefect_status for r in history} <= {"pending", "suppressed"}

    # Outcomes that name no model are the online session's: recorded, no adaptation.
    items = outcome_stream(600, symbol="DDD", seed=13, change_at=300)
    service.submit(items)
    online = service.drift_history(model_id="online")
    assert online and {r.prefect_status for r in online} == {"skipped"}
