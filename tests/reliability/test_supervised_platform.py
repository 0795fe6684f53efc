"""``online-learning up`` supervises its children: the API killed with SIGKILL comes back on the
same port with the same key; a feedback worker whose loop dies is replaced, and the new one
learns what was left exactly once. Each death and restart is said."""

from __future__ import annotations

import os
import signal
import uuid

import httpx

from cli.api_process import API_CHILD, api_process
from feedback.demo import WORKER_CHILD, feedback_demo
from online_learning.feedback.session_store import SessionStore
from online_learning.metrics_store import MetricsStore
from online_learning.settings import Settings
from online_learning.supervision import Supervisor
from tests.feedback.helpers import count, produce
from tests.reliability.streams import SYMBOLS, interleaved
from tests.utils.registries import register_specialists
from tests.utils.waiting import wait_for


def test_a_feedback_worker_that_dies_is_replaced_and_nothing_is_learned_twice(broker, home):
    topic = f"trade-outcomes-{uuid.uuid4().hex[:8]}"
    config = Settings(
        home=home, kafka_bootstrap_servers=broker.bootstrap_servers, trade_outcomes_topic=topic,
        trade_outcomes_dlq_topic=f"{topic}-dlq", model_drift_topic=f"{topic}-drift",
        feedback_group=f"g-{uuid.uuid4().hex[:8]}", feedback_commit_interval_s=0.2,
    )  # fmt: skip
    store = MetricsStore(config.metrics_database_url)
    store.migrate()
    items = interleaved(50)
    said: list[str] = []
    supervisor = Supervisor(say=said.append, first_delay_s=0.5, check_every_s=0.1)
    with supervisor, feedback_demo(config, store, broker.bootstrap_servers, say=said.append,
                                   prefect_api_url=None, market=False, any_model=True,
                                   supervisor=supervisor) as first:  # fmt: skip
        produce(broker.bootstrap_servers, topic, items[:150])
        wait_for(lambda: count(store.engine, "processed_trades") >= 150, timeout_s=90,
                 what="the first worker learning")  # fmt: skip
        # A fault nobody foresaw: the loop raises (the worker records and closes on the way out).
        poll_once = first.worker.poll_once
        calls = []

        def fail_once(timeout_s: float = 0.5) -> int:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("an unforeseen fault in the loop")
            return poll_once(timeout_s)

        first.worker.poll_once = fail_once
        supervisor.wait_restarted(WORKER_CHILD, timeout_s=60)
        produce(broker.bootstrap_servers, topic, items[150:])
        wait_for(lambda: count(store.engine, "processed_trades") >= len(items), timeout_s=90,
                 what="the replacement worker learning the rest")  # fmt: skip
    samples = {c.symbol: c.samples_seen for c in SessionStore(store).list()}
    assert samples == dict.fromkeys(SYMBOLS, 50)  # each outcome once, across both workers
    assert count(store.engine, "processed_trades") == len(items)
    assert said.count(
        f"{WORKER_CHILD} raised RuntimeError: an unforeseen fault in the loop; restarting it "
        "in 0.5 s (restart 1)"
    ) == 1, said  # fmt: skip
    assert f"{WORKER_CHILD} restarted (restart 1)" in said
    store.dispose()


def test_the_api_killed_with_sigkill_comes_back_on_its_port(broker, home, registry, monkeypatch):
    register_specialists(registry)
    monkeypatch.delenv("ONLINE_LEARNING_API_KEYS", raising=False)
    said: list[str] = []
    supervisor = Supervisor(say=said.append, first_delay_s=0.5, check_every_s=0.1)
    with supervisor, api_process(
        home=home, bootstrap_servers=broker.bootstrap_servers, prefect_api_url=None, port=0,
        supervisor=supervisor,
    ) as api:  # fmt: skip
        first = api.process.pid
        os.killpg(first, signal.SIGKILL)
        supervisor.wait_restarted(API_CHILD, timeout_s=30)
        ready = wait_for(lambda: _ready(api.api_url), timeout_s=180, what="the API ready again")
        headers = {"Authorization": f"Bearer {api.key}"}
        me = httpx.get(f"{api.api_url}/auth/me", headers=headers, timeout=10)
    assert ready and me.status_code == 200  # same port, same key
    assert said[0] == f"{API_CHILD} was killed by SIGKILL; restarting it in 0.5 s (restart 1)"
    assert f"{API_CHILD} restarted (restart 1)" in said


def _ready(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
