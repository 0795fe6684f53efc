"""A metrics store outage under a steady stream: the delay until learning resumes, lost, twice.

One feedback worker (``online-learning feedback-worker`` in a child process, default commit
interval) consumes a steady stream of outcomes from the embedded broker into a private
PostgreSQL server (:mod:`tests.utils.private_postgres`; the machine's shared server is never
stopped). After ``--before-s`` the server is stopped (``pg_ctl stop -m fast``: connections cut,
new ones refused) for ``--outage-s`` seconds and started again, while the stream goes on.
Measured (wall clock of this process, sampled every 0.1 s):

* **resume**: from the moment the server accepts connections again to the first outcome
  recorded after it (the worker's backoff, its recording of what it held, its first batch);
* **backlog**: from the same moment until everything sent before it is recorded;
* **lost**: outcomes sent but never recorded; **twice**: outcomes learned more than once
  (samples seen by the sessions beyond the distinct trade ids recorded); whether the worker
  **exited**; the outages and retries its ``/metrics`` counted.

Run: ``python -m benchmarks.store_outage --outage-s 20`` (and ``--outage-s 600`` for ten
minutes). Results go to ``benchmarks/results/store_outage_<outage>s.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _count(engine) -> int | None:
    import sqlalchemy as sa

    try:
        with engine.connect() as connection:
            query = sa.text("SELECT count(*) FROM processed_trades")
            return int(connection.execute(query).scalar_one())
    except Exception:  # the server is down: no sample
        return None


class Sampler:
    """Counts recorded outcomes every 0.1 s from a thread: ``(monotonic, count)`` pairs."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.1):
            value = _count(self.engine)
            if value is not None:
                self.samples.append((time.monotonic(), value))

    def first_after(self, moment: float, predicate) -> float | None:
        for at, value in self.samples:
            if at >= moment and predicate(value):
                return at
        return None

    def last_before(self, moment: float) -> int:
        before = [value for at, value in self.samples if at <= moment]
        return before[-1] if before else 0


def measure(
    *, outage_s: float, rate: float, before_s: float, after_s: float, commit_interval_s: float
) -> dict:
    from cli.broker import EmbeddedKafka
    from online_learning.events.kafka import ensure_topics
    from online_learning.feedback.session_store import SessionStore
    from online_learning.metrics_store import MetricsStore
    from tests.feedback.helpers import Deployment, WorkerProcess
    from tests.reliability.streams import SYMBOLS, SteadyStream, interleaved, scrape, value
    from tests.utils.private_postgres import PrivatePostgres
    from tests.utils.waiting import wait_for

    seconds = before_s + outage_s + after_s
    per_symbol = int(rate * seconds / len(SYMBOLS)) + 1
    items = interleaved(per_symbol)
    with (
        tempfile.TemporaryDirectory(prefix="ol-bench-outage-") as tmp,
        EmbeddedKafka() as broker,
        PrivatePostgres() as server,
    ):
        home = Path(tmp) / "home"
        home.mkdir()
        store = MetricsStore(server.url)
        store.migrate()
        deployment = Deployment(
            bootstrap=broker.bootstrap_servers, database_url=server.url, home=home
        )
        ensure_topics(deployment.bootstrap, [deployment.topic], partitions=4)
        ensure_topics(deployment.bootstrap, [deployment.dlq_topic])
        worker = WorkerProcess(
            deployment, "bench", "--commit-interval", str(commit_interval_s), "--metrics-port", "0"
        )
        sampler = Sampler(store.engine)
        sampler.thread.start()
        try:
            wait_for(
                lambda: (_count(store.engine) or 0) >= 0 and worker.last("metrics"),
                timeout_s=120,
                what="the worker started",
            )
            with SteadyStream(deployment.bootstrap, deployment.topic, items, rate) as stream:
                time.sleep(before_s)
                stopped_at = time.monotonic()
                server.stop("fast")
                time.sleep(outage_s)
                server.start()
                back_at = time.monotonic()
                sent_before_back = stream.sent
                exited_during = worker.process.poll() is not None
                stream.wait(seconds + 600)
            wait_for(
                lambda: (_count(store.engine) or 0) >= len(items),
                timeout_s=900,
                what="every outcome recorded",
            )
            metrics = scrape(worker.last("metrics")["url"])
            exited = worker.process.poll() is not None
        finally:
            sampler.stop.set()
            sampler.thread.join(5)
            code = worker.stop(timeout_s=120)
        recorded = _count(store.engine)
        samples = sum(c.samples_seen for c in SessionStore(store).list())
        store.dispose()
    recorded_before = sampler.last_before(back_at)
    resumed = sampler.first_after(back_at, lambda v: v > recorded_before)
    caught_up = sampler.first_after(back_at, lambda v: v >= sent_before_back)
    labels = {"component": "feedback_worker", "dependency": "metrics store"}
    return {
        "outage_s": round(back_at - stopped_at, 1),
        "stream_rate_per_s": rate,
        "sent": len(items),
        "sent_before_store_back": sent_before_back,
        "recorded": recorded,
        "lost": len(items) - (recorded or 0),
        "learned_twice": samples - (recorded or 0),
        "worker_exited": exited or exited_during,
        "worker_exit_code_on_sigterm": code,
        "resume_s": None if resumed is None else round(resumed - back_at, 2),
        "backlog_s": None if caught_up is None else round(caught_up - back_at, 2),
        "outages_counted": value(metrics, "online_learning_dependency_outages_total", **labels),
        "retries_counted": value(metrics, "online_learning_dependency_retries_total", **labels),
        "commit_interval_s": commit_interval_s,
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage-s", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=50.0, help="Outcomes per second.")
    parser.add_argument("--before-s", type=float, default=15.0)
    parser.add_argument("--after-s", type=float, default=30.0)
    parser.add_argument("--commit-interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    result = measure(
        outage_s=args.outage_s,
        rate=args.rate,
        before_s=args.before_s,
        after_s=args.after_s,
        commit_interval_s=args.commit_interval,
    )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"store_outage_{args.outage_s:.0f}s.json"
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(
        f"\n| outage | resume after the store is back | backlog recorded | lost | twice | "
        f"worker exited |\n|---|---|---|---|---|---|\n| {result['outage_s']:.0f} s | "
        f"{result['resume_s']} s | {result['backlog_s']} s | {result['lost']} | "
        f"{result['learned_twice']} | {result['worker_exited']} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
