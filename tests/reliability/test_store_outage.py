"""A metrics store outage is a bad day, not the end: the worker pauses, waits and resumes.

The store is a private PostgreSQL server stopped and started for real under a steady stream
of outcomes; the worker (``online-learning feedback-worker`` in a child process) must not
exit, must learn every outcome exactly once, and must say what it went through in its log and
its ``/metrics``. The time until learning resumes is measured in
``benchmarks/store_outage.py`` (20 s and 10 minutes), not asserted here.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from online_learning.events.kafka import ensure_topics
from online_learning.feedback.session_store import SessionStore
from online_learning.metrics_store import MetricsStore
from tests.feedback.helpers import Deployment, WorkerProcess
from tests.reliability.streams import SYMBOLS, SteadyStream, interleaved, scrape, value
from tests.utils.waiting import wait_for

OUTAGE_S = 6.0
TIMEOUT_S = 120


def _learned(store: MetricsStore) -> int:
    """Trade ids recorded, or -1 while the store does not answer."""
    try:
        with store.engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT count(*) FROM processed_trades"))
                       .scalar_one())  # fmt: skip
    except Exception:
        return -1


def _deployment(broker, server, home) -> tuple[Deployment, MetricsStore]:
    store = MetricsStore(server.url)
    store.migrate()
    deployment = Deployment(bootstrap=broker.bootstrap_servers, database_url=server.url, home=home)
    ensure_topics(deployment.bootstrap, [deployment.topic], partitions=4)
    ensure_topics(deployment.bootstrap, [deployment.dlq_topic])
    return deployment, store


def _metrics(worker: WorkerProcess) -> dict:
    url = wait_for(lambda: (worker.last("metrics") or {}).get("url"), timeout_s=60,
                   what="the worker's metrics URL")  # fmt: skip
    return scrape(url)


def _exactly_once(store: MetricsStore, total: int) -> None:
    assert _learned(store) == total
    samples = {c.symbol: c.samples_seen for c in SessionStore(store).list()}
    assert samples == dict.fromkeys(SYMBOLS, total // len(SYMBOLS))  # none lost, none twice


def test_the_worker_waits_for_the_store_then_rides_out_its_outage(broker, private_postgres, home):
    deployment, store = _deployment(broker, private_postgres, home)
    items = interleaved(150)  # 900 outcomes at 60 a second: 15 s of stream
    # Start-up while the store is down: the worker waits instead of exiting.
    private_postgres.stop()
    worker = WorkerProcess(deployment, "rider", "--commit-interval", "0.2", "--metrics-port", "0")
    try:
        wait_for(
            lambda: value(_metrics(worker), "online_learning_component_state",
                          component="feedback_worker", state="waiting") == 1,
            timeout_s=60, what="the worker waiting for the store",
        )  # fmt: skip
        time.sleep(2)
        assert worker.process.poll() is None, worker.tail()
        private_postgres.start()
        with SteadyStream(deployment.bootstrap, deployment.topic, items, per_second=60) as stream:
            wait_for(lambda: _learned(store) >= 100, timeout_s=TIMEOUT_S,
                     what="learning before the outage")  # fmt: skip
            epochs = _epochs(store)
            private_postgres.stop()
            wait_for(
                lambda: value(_metrics(worker), "online_learning_dependency_up",
                              component="feedback_worker", dependency="metrics store") == 0,
                timeout_s=30, what="the outage in /metrics",
            )  # fmt: skip
            paused = _metrics(worker)
            assert value(paused, "online_learning_component_state", component="feedback_worker",
                         state="paused") == 1  # fmt: skip
            time.sleep(OUTAGE_S)
            assert worker.process.poll() is None, worker.tail()  # no exit during the outage
            private_postgres.start()
            stream.wait(TIMEOUT_S)
        wait_for(lambda: _learned(store) == len(items), timeout_s=TIMEOUT_S,
                 what="every outcome learned after the outage")  # fmt: skip
        after = _metrics(worker)
        assert worker.process.poll() is None, worker.tail()
    finally:
        assert worker.stop() == 0, worker.tail()
    _exactly_once(store, len(items))
    assert _epochs(store) == epochs  # it kept its partitions: no rebalance, no new claim
    labels = {"component": "feedback_worker", "dependency": "metrics store"}
    assert value(after, "online_learning_dependency_up", **labels) == 1
    assert value(after, "online_learning_dependency_outages_total", **labels) == 2  # both
    assert value(after, "online_learning_dependency_last_outage_seconds", **labels) >= OUTAGE_S
    assert value(after, "online_learning_component_state", component="feedback_worker",
                 state="running") == 1  # fmt: skip
    log = worker.tail()
    assert "waiting (for the metrics store)" in log, log
    assert "metrics store unavailable" in log and "metrics store back after" in log, log
    store.dispose()


def _epochs(store: MetricsStore) -> dict[int, int]:
    with store.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT partition, owner_epoch FROM input_positions"))
        return {int(p): int(e) for p, e in rows}
