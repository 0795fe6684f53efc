"""Feedback workers on a real broker and PostgreSQL: learned once, split, killed, restarted."""

from __future__ import annotations

from collections import Counter

import pytest

from online_learning.events.kafka import ensure_topics
from online_learning.feedback.session_store import SessionStore
from tests.feedback.helpers import WorkerProcess, count, produce
from tests.utils.trade_outcomes import outcome_stream
from tests.utils.waiting import wait_for

SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")
TIMEOUT_S = 90


def _outcomes(per_symbol: int, *, first_index: int = 0, seed: int = 0) -> list[dict]:
    items = []
    for i, symbol in enumerate(SYMBOLS):
        items += outcome_stream(per_symbol, symbol=symbol, seed=seed + i, first_index=first_index)
    return items


def _samples(store) -> dict[str, int]:
    return {c.symbol: c.samples_seen for c in SessionStore(store).list()}


def _learned(store, n: int):
    return lambda: count(store.engine, "processed_trades") >= n


@pytest.fixture
def topics(deployment):
    ensure_topics(deployment.bootstrap, [deployment.topic], partitions=4)
    ensure_topics(deployment.bootstrap, [deployment.dlq_topic])
    return deployment


def test_outcomes_from_a_producer_are_learned_and_a_redelivery_changes_nothing(topics, store):
    items = _outcomes(50)
    produce(topics.bootstrap, topics.topic, items)
    worker = WorkerProcess(topics, "solo", "--commit-interval", "0.2")
    try:
        wait_for(_learned(store, len(items)), timeout_s=TIMEOUT_S, what="every outcome learned")
        assert _samples(store) == dict.fromkeys(SYMBOLS, 50)
        pnl = {c.symbol: c.metrics["realized_pnl"] for c in SessionStore(store).list()}

        produce(topics.bootstrap, topics.topic, items[:60])  # the same trades again
        wait_for(lambda: (worker.last() or {}).get("duplicates", 0) >= 60,
                 timeout_s=TIMEOUT_S, what="the re-delivered outcomes")  # fmt: skip
    finally:
        assert worker.stop() == 0, worker.tail()

    assert _samples(store) == dict.fromkeys(SYMBOLS, 50)
    assert {c.symbol: c.metrics["realized_pnl"] for c in SessionStore(store).list()} == pnl
    assert count(store.engine, "processed_trades") == len(items)
    for checkpoint in SessionStore(store).list():
        assert checkpoint.metrics["rolling_accuracy"] is not None
        [(key, position)] = checkpoint.input_positions.items()
        assert key.startswith(f"{topics.topic}/") and position > 0
    # Every partition's recorded position is the end of what was produced to it.
    positions = SessionStore(store).positions(topics.group, topics.topic)
    assert sum(positions.values()) == len(items) + 60


def test_two_workers_split_the_partitions_and_hand_symbols_over(topics, store):
    first_half = _outcomes(40)
    produce(topics.bootstrap, topics.topic, first_half)
    a = WorkerProcess(topics, "worker-a", "--commit-interval", "0.2")
    b = None
    try:
        wait_for(_learned(store, len(first_half)), timeout_s=TIMEOUT_S, what="worker a learning")
        b = WorkerProcess(topics, "worker-b", "--commit-interval", "0.2")
        # A rebalance gives b some partitions; a checkpoints what it hands over.
        wait_for(lambda: a.last("batch") is not None and b.process.poll() is None
                 and _owners(store, topics) == {"worker-a", "worker-b"},
                 timeout_s=TIMEOUT_S, what="both workers owning partitions")  # fmt: skip
        second_half = _outcomes(40, first_index=40)
        produce(topics.bootstrap, topics.topic, second_half)
        total = len(first_half) + len(second_half)
        wait_for(_learned(store, total), timeout_s=TIMEOUT_S, what="every outcome learned")
    finally:
        codes = [w.stop() for w in (a, b) if w is not None]
    assert codes == [0, 0], a.tail() + (b.tail() if b else "")

    # Each outcome learned exactly once, and the symbols b took over continued from a's
    # checkpoint (80 samples each, not 40).
    assert count(store.engine, "processed_trades") == total
    assert _samples(store) == dict.fromkeys(SYMBOLS, 80)
    learned_by = Counter()
    for worker in (a, b):
        learned_by[worker.name] = max((e.get("learned", 0) for e in worker.events), default=0)
    assert learned_by["worker-a"] > 0 and learned_by["worker-b"] > 0
    assert learned_by["worker-a"] + learned_by["worker-b"] == total


def _owners(store, topics) -> set[str]:
    import sqlalchemy as sa

    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT owner FROM input_positions WHERE consumer_group = :g"),
            {"g": topics.group},
        ).all()
    return {row[0] for row in rows}


def test_sigkill_between_learning_and_committing_loses_nothing_learns_nothing_twice(topics, store):
    first = _outcomes(30)
    produce(topics.bootstrap, topics.topic, first)
    # A long interval between recordings: most of the time, learned outcomes are unrecorded.
    worker = WorkerProcess(topics, "doomed", "--commit-interval", "4")
    wait_for(_learned(store, len(first)), timeout_s=TIMEOUT_S, what="a first recording")
    second = _outcomes(30, first_index=30)
    produce(topics.bootstrap, topics.topic, second)
    wait_for(lambda: (worker.last() or {}).get("learned", 0) > len(first)
             and worker.last()["uncommitted"] > 0,
             timeout_s=TIMEOUT_S, what="outcomes learned but not yet recorded")  # fmt: skip
    learned_before_kill = worker.last()["learned"]
    worker.kill()

    recorded = count(store.engine, "processed_trades")
    assert recorded < learned_before_kill  # the kill did fall between learning and recording
    assert sum(_samples(store).values()) == recorded

    restarted = WorkerProcess(topics, "restarted", "--commit-interval", "0.2")
    try:
        total = len(first) + len(second)
        wait_for(_learned(store, total), timeout_s=TIMEOUT_S, what="the restarted worker")
    finally:
        assert restarted.stop() == 0, restarted.tail()
    assert count(store.engine, "processed_trades") == total
    assert _samples(store) == dict.fromkeys(SYMBOLS, 60)
    expected_pnl = Counter()
    for item in first + second:
        expected_pnl[item["symbol"]] += item["pnl"]
    for checkpoint in SessionStore(store).list():
        assert checkpoint.metrics["realized_pnl"] == pytest.approx(expected_pnl[checkpoint.symbol])
