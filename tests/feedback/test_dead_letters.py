"""Invalid outcomes never reach a model: counted, and in the DLQ with their bytes and reason."""

from __future__ import annotations

import json

from online_learning.events.kafka import ensure_topics
from online_learning.feedback.session_store import SessionStore
from online_learning.feedback.trade_outcome import INVALID_REASONS
from online_learning.metrics_store.drift_store import DriftStore
from tests.feedback.helpers import WorkerProcess, count, produce
from tests.utils.topics import read_topic
from tests.utils.trade_outcomes import outcome_stream
from tests.utils.waiting import wait_for


def _bad_messages() -> list[tuple[str, bytes, str]]:
    good = outcome_stream(1, symbol="AAA", seed=5)[0]

    def variant(**changes) -> bytes:
        item = {**good, **changes}
        return json.dumps({k: v for k, v in item.items() if v is not ...}).encode()

    return [
        ("AAA", b"\x00\x01 not json", "malformed_json"),
        ("AAA", b"[1, 2]", "not_an_object"),
        ("AAA", variant(trade_id="b-1", schema_version=7), "unsupported_schema_version"),
        ("AAA", variant(trade_id="b-2", realized_return=...), "missing_field"),
        ("AAA", variant(trade_id="b-3", position="long"), "invalid_field"),
        ("AAA", variant(trade_id="b-4", pnl=float("inf")), "non_finite"),
        ("AAA", variant(trade_id="b-5", features={"ret_1": 0.1}), "wrong_features"),
        ("AAA", variant(trade_id="b-6", timestamp="2999-01-01T00:00:00Z"), "future_timestamp"),
        ("AAA", variant(trade_id="b-7", model_id="ghost_specialist"), "unknown_model"),
    ]


def test_each_kind_of_bad_outcome_is_rejected_with_its_reason_into_the_dlq(deployment, store):
    ensure_topics(deployment.bootstrap, [deployment.topic], partitions=2)
    ensure_topics(deployment.bootstrap, [deployment.dlq_topic])
    bad = _bad_messages()
    assert {reason for *_, reason in bad} == set(INVALID_REASONS)
    good = outcome_stream(20, symbol="AAA", seed=6)  # no model id: the online session's
    produce(deployment.bootstrap, deployment.topic, [(k, v) for k, v, _ in bad] + good)

    # Without --any-model, model ids are checked against the (empty) registry.
    worker = WorkerProcess(deployment, "strict", "--commit-interval", "0.2", any_model=False)
    try:
        wait_for(lambda: count(store.engine, "processed_trades") >= 20, timeout_s=90,
                 what="the good outcomes learned")  # fmt: skip
        dead = read_topic(deployment.bootstrap, deployment.dlq_topic, expected=len(bad))
    finally:
        assert worker.stop() == 0, worker.tail()

    assert count(store.engine, "processed_trades") == 20
    assert [c.samples_seen for c in SessionStore(store).list()] == [20]
    by_reason = {}
    for message in dead:
        headers = {k: v.decode() for k, v in message.headers()}
        by_reason[headers["reason"]] = (message, headers)
    assert set(by_reason) == set(INVALID_REASONS)
    for key, value, reason in bad:
        message, headers = by_reason[reason]
        assert message.value() == value  # the original bytes
        assert message.key().decode() == key
        assert headers["detail"]
        assert headers["source_topic"] == deployment.topic
        assert int(headers["source_offset"]) >= 0
    assert DriftStore(store).rejection_counts() == {("kafka", r): 1 for r in INVALID_REASONS}
