"""The checkpoint store: readers reload newer checkpoints, commits are all or nothing, fenced."""

from __future__ import annotations

import time

import pytest

from online_learning.errors import FencedError
from online_learning.feedback.reader import SessionReader
from online_learning.feedback.session_store import (
    FeedbackCommit,
    PartitionFence,
    ProcessedTrade,
    SessionStore,
)
from online_learning.feedback.sessions import OnlineSession
from online_learning.feedback.trade_outcome import parse_trade_outcome
from online_learning.metrics_store.errors import StoreError
from tests.utils.trade_outcomes import outcome_stream


def _learned(session: OnlineSession, n: int, seed: int) -> None:
    for item in outcome_stream(n, symbol=session.symbol, seed=seed):
        session.learn(parse_trade_outcome(item, feature_names=None, known_model_ids=None))


def test_a_reader_reloads_when_a_newer_checkpoint_appears(metrics) -> None:
    store = SessionStore(metrics)
    owner = OnlineSession("AAA")
    store.create_session(owner.session_id, "AAA", owner.config, owner.created_at)
    _learned(owner, 50, seed=1)
    store.save(owner.checkpoint({"trade-outcomes/0": 50}))
    reader = SessionReader(store, refresh_s=0.0)
    row = outcome_stream(1, seed=9)[0]["features"]

    first, age = reader.latest("AAA")
    assert first.samples_seen == 50 and 0 <= age < 60
    assert first.predict_proba_one(row) == owner.predict_proba_one(row)
    assert reader.latest("AAA")[0] is first  # unchanged checkpoint: the cached copy

    _learned(owner, 50, seed=2)
    store.save(owner.checkpoint({"trade-outcomes/0": 100}))
    second, _ = reader.latest("AAA")
    assert second is not first and second.samples_seen == 100
    assert second.predict_proba_one(row) == owner.predict_proba_one(row)
    assert store.latest("AAA").input_positions == {"trade-outcomes/0": 100}
    time.sleep(0.05)
    assert reader.latest("AAA")[1] > 0.0  # the age grows with the checkpoint's
    assert reader.latest("ZZZ") is None
    [listed] = store.list()
    assert listed.state == b"" and listed.metrics["samples_seen"] == 100


def test_a_cached_copy_is_used_until_refresh(metrics) -> None:
    store = SessionStore(metrics)
    owner = OnlineSession("AAA")
    store.create_session(owner.session_id, "AAA", owner.config, owner.created_at)
    store.save(owner.checkpoint())
    reader = SessionReader(store, refresh_s=3600)
    cached, _ = reader.latest("AAA")
    _learned(owner, 10, seed=1)
    store.save(owner.checkpoint())
    assert reader.latest("AAA")[0] is cached  # within refresh_s: no query
    reader.clear()
    assert reader.latest("AAA")[0].samples_seen == 10


def test_a_commit_writes_all_or_nothing(metrics) -> None:
    store = SessionStore(metrics)
    session = OnlineSession("AAA")
    store.create_session(session.session_id, "AAA", session.config, session.created_at)
    _learned(session, 5, seed=1)
    trade = ProcessedTrade("t-1", "AAA", None, session.session_id, "kafka")
    store.commit(FeedbackCommit(checkpoints=[session.checkpoint()], trades=[trade]))
    _learned(session, 5, seed=2)
    # The same trade id again: the transaction fails and the newer checkpoint is not written.
    with pytest.raises(StoreError):
        store.commit(FeedbackCommit(checkpoints=[session.checkpoint()], trades=[trade]))
    assert store.latest("AAA").samples_seen == 5
    assert store.processed_trade_ids(["t-1", "t-2"]) == {"t-1"}


def test_a_worker_that_lost_its_partition_cannot_write(metrics) -> None:
    store = SessionStore(metrics)
    group, topic = "online-learning-feedback", "trade-outcomes"
    assert store.claim_partitions(group, topic, [0, 1], "worker-a") == {0: (1, None), 1: (1, None)}
    session = OnlineSession("AAA")
    store.create_session(session.session_id, "AAA", session.config, session.created_at)
    old_fence = PartitionFence(group, topic, {0: 1, 1: 1})
    store.commit(FeedbackCommit(checkpoints=[session.checkpoint()], positions={0: 7},
                                fence=old_fence))  # fmt: skip
    assert store.positions(group, topic) == {0: 7}

    # Worker b takes partition 0 over (a rebalance); a's later writes are refused whole.
    assert store.claim_partitions(group, topic, [0], "worker-b") == {0: (2, 7)}
    _learned(session, 5, seed=1)
    with pytest.raises(FencedError, match="new owner"):
        store.commit(FeedbackCommit(checkpoints=[session.checkpoint()], positions={0: 12},
                                    fence=old_fence))  # fmt: skip
    assert store.positions(group, topic) == {0: 7}
    assert store.latest("AAA").samples_seen == 0
    store.commit(FeedbackCommit(positions={0: 12}, fence=PartitionFence(group, topic, {0: 2})))
    assert store.positions(group, topic) == {0: 12}
