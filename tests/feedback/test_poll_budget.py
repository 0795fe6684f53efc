"""Learning a batch never outlasts the consumer's poll interval: the rest is read again."""

from __future__ import annotations

import threading

from online_learning.events.kafka import ensure_topics
from online_learning.feedback.session_config import SessionConfig
from online_learning.feedback.session_store import SessionStore
from tests.feedback.helpers import count, produce
from tests.utils.trade_outcomes import outcome_stream
from tests.utils.waiting import wait_for


def test_a_slow_batch_is_cut_at_its_budget_and_every_outcome_is_learned_once(deployment, store):
    from feedback.worker import FeedbackWorker

    ensure_topics(deployment.bootstrap, [deployment.topic], partitions=1)
    ensure_topics(deployment.bootstrap, [deployment.dlq_topic])
    items = outcome_stream(1500, symbol="AAA", seed=8)
    produce(deployment.bootstrap, deployment.topic, items)
    # A forest learns one outcome in about half a millisecond: 1500 take far longer than
    # the 0.1 s budget, so each consume is cut and sought back several times.
    slow = SessionConfig("adaptive_random_forest", {"n_models": 10, "seed": 1})
    worker = FeedbackWorker(
        bootstrap_servers=deployment.bootstrap, store=store, topic=deployment.topic,
        dlq_topic=deployment.dlq_topic, group=deployment.group, commit_interval_s=0.5,
        batch_size=1500, max_poll_interval_ms=6000, batch_budget_s=0.1, default_config=slow,
    )  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: count(store.engine, "processed_trades") >= 1500, timeout_s=120,
                 what="every outcome learned")  # fmt: skip
    finally:
        stop.set()
        thread.join(timeout=60)

    assert worker.stats.budget_cuts >= 2
    assert worker.stats.rebalances == 1  # never thrown out of the group
    assert worker.stats.learned == 1500 and worker.stats.duplicates == 0
    assert worker.batch_size < 1500  # it asks for less after a slow batch
    [checkpoint] = SessionStore(store).list()
    assert checkpoint.samples_seen == 1500
    assert SessionStore(store).positions(deployment.group, deployment.topic) == {0: 1500}
