"""kill -9 of the feedback worker, again and again, under a stream: every outcome learned
exactly once, every invalid one dead-lettered (at least once, as documented), every
checkpoint loadable."""

from __future__ import annotations

import json
import random
import time

from online_learning.events.kafka import ensure_topics
from online_learning.feedback.session_store import SessionStore
from online_learning.feedback.sessions import OnlineSession
from tests.feedback.helpers import WorkerProcess, count
from tests.reliability.streams import SYMBOLS, SteadyStream, interleaved
from tests.utils.topics import read_topic
from tests.utils.waiting import wait_for

KILLS = 3
TIMEOUT_S = 120


def test_kill_9_in_a_loop_learns_every_outcome_exactly_once(deployment, store):
    ensure_topics(deployment.bootstrap, [deployment.topic], partitions=4)
    ensure_topics(deployment.bootstrap, [deployment.dlq_topic])
    good = interleaved(200)  # 1,200 outcomes
    invalid = [{**item, "trade_id": f"bad-{i}", "realized_return": "NaN?"}
               for i, item in enumerate(interleaved(4, seed=50))]  # fmt: skip
    items = list(good)
    for i, bad in enumerate(invalid):  # spread through the stream
        items.insert((i + 1) * len(good) // (len(invalid) + 1), bad)
    rng = random.Random(21)
    kills = []
    with SteadyStream(deployment.bootstrap, deployment.topic, items, per_second=100) as stream:
        for n in range(KILLS):
            # A long interval between recordings: a kill mostly falls between learning and
            # recording; the time to the kill varies so that it lands at different moments.
            worker = WorkerProcess(deployment, f"doomed-{n}", "--commit-interval", "2")
            wait_for(lambda w=worker: (w.last() or {}).get("learned", 0) > 0, timeout_s=TIMEOUT_S,
                     what=f"worker {n} learning")  # fmt: skip
            time.sleep(rng.uniform(0.5, 3.0))
            kills.append((worker.last() or {}).get("learned", 0))
            worker.kill()
        survivor = WorkerProcess(deployment, "survivor", "--commit-interval", "0.2")
        try:
            stream.wait(TIMEOUT_S)
            wait_for(lambda: count(store.engine, "processed_trades") >= len(good),
                     timeout_s=TIMEOUT_S, what="every outcome learned")  # fmt: skip
            letters = read_topic(deployment.bootstrap, deployment.dlq_topic,
                                 expected=2 * len(invalid), timeout_s=5)  # fmt: skip
        finally:
            assert survivor.stop() == 0, survivor.tail()
    assert len(kills) == KILLS and any(kills), kills
    assert count(store.engine, "processed_trades") == len(good)
    checkpoints = SessionStore(store).list()
    assert {c.symbol: c.samples_seen for c in checkpoints} == dict.fromkeys(SYMBOLS, 200)
    for checkpoint in checkpoints:  # each one loads and has learned its 200 outcomes
        session = OnlineSession.from_checkpoint(SessionStore(store).get(checkpoint.session_id))
        assert session.samples_seen == 200
    dead = {json.loads(m.value())["trade_id"] for m in letters}
    assert dead == {bad["trade_id"] for bad in invalid}  # each at least once
