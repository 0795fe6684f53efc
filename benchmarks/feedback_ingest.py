"""Outcomes per second from ``trade-outcomes`` to learned-and-recorded, against bare River.

The baseline is a bare ``learn_one`` loop of the same River model (the default session: a
scaled logistic regression) over the same outcomes, already parsed. The worker is one
:class:`feedback.worker.FeedbackWorker` on a real tansu broker and a SQLite metrics store:
the outcomes wait in the topic, and the clock runs from the first batch the worker receives
until the last recording (checkpoints, trade ids, offsets) is written. The in-process path
(``FeedbackService.submit`` in batches of 500, what the REST API calls without a broker) is
measured the same way. Each run is compared with bare loops measured just before and after
it; the median ratio is reported.

Run alone: ``python -m benchmarks.feedback_ingest [--outcomes N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from online_learning.feedback.session_config import SessionConfig
from online_learning.feedback.trade_outcome import parse_trade_outcome

SYMBOLS = ("AAA", "BBB", "CCC", "DDD")


def outcomes(n: int, *, seed: int = 0, prefix: str = "b") -> list[bytes]:
    """``n`` seeded outcomes (JSON bytes) spread over four symbols, no drift."""
    from tests.utils.trade_outcomes import outcome_stream

    per = -(-n // len(SYMBOLS))
    items = []
    for i, symbol in enumerate(SYMBOLS):
        for item in outcome_stream(per, symbol=symbol, seed=seed + i):
            item["trade_id"] = f"{prefix}-{item['trade_id']}"
            items.append(item)
    return [json.dumps(item).encode() for item in items[:n]]


def bare_river(values: list[bytes]) -> tuple[float, float]:
    """Outcomes per second (wall, CPU) of ``learn_one`` with a fresh default model."""
    parsed = [parse_trade_outcome(v, feature_names=None, known_model_ids=None) for v in values]
    rows = [(o.features, o.realized_return > 0) for o in parsed]
    model = SessionConfig().build_model()
    began, cpu = time.perf_counter(), time.process_time()
    for x, y in rows:
        model.learn_one(x, y)
    return len(rows) / (time.perf_counter() - began), len(rows) / (time.process_time() - cpu)


def in_process(values: list[bytes], folder: Path) -> tuple[float, float]:
    """Outcomes per second (wall, CPU) of ``FeedbackService.submit`` (batches of 500),
    learned and recorded; the first four outcomes (sessions created) are not timed."""
    from online_learning.feedback.service import FeedbackService
    from online_learning.metrics_store import MetricsStore

    store = MetricsStore(f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}")
    store.migrate()
    service = FeedbackService(store=store)
    service.submit(values[:4])  # sessions created, connections open: not timed
    began, cpu = time.perf_counter(), time.process_time()
    for start in range(4, len(values), 500):
        service.submit(values[start : start + 500])
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    store.dispose()
    return (len(values) - 4) / elapsed, (len(values) - 4) / cpu


def worker(values: list[bytes], bootstrap: str, folder: Path) -> tuple[float, float]:
    """Outcomes per second (wall, CPU) from the first batch a fresh worker receives until
    all outcomes are recorded.

    The outcomes are in the topic before the worker joins its group; joining (seconds, once
    per process) is not counted.
    """
    from feedback.worker import FeedbackWorker
    from online_learning.events.kafka import ensure_topics
    from online_learning.events.producers import KafkaSender
    from online_learning.metrics_store import MetricsStore

    topic = f"bench-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [topic], partitions=len(SYMBOLS))
    ensure_topics(bootstrap, [f"{topic}-dlq"])
    sender = KafkaSender(bootstrap, topic)
    sender.send_messages([(json.loads(v)["symbol"], v, None) for v in values])
    sender.close()
    store = MetricsStore(f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}")
    store.migrate()
    feedback = FeedbackWorker(
        bootstrap_servers=bootstrap, store=store, topic=topic, dlq_topic=f"{topic}-dlq",
        group=f"bench-{uuid.uuid4().hex[:8]}", commit_interval_s=1.0,
    )  # fmt: skip
    cpu = time.process_time()  # from joining the group: its CPU cost is a few milliseconds
    feedback.subscribe()
    while feedback.stats.learned < len(values):
        feedback.poll_once(0.2)
    feedback.record()
    elapsed, cpu = time.monotonic() - feedback.stats.first_batch_at, time.process_time() - cpu
    feedback.close()
    store.dispose()
    return len(values) / elapsed, len(values) / cpu


def measure(
    n: int = 20_000, repeats: int = 3, advance: Callable[[], None] = lambda: None
) -> dict[str, object]:
    """Median rates over ``repeats`` runs of each path, interleaved, and their ratios."""
    from cli.broker import EmbeddedKafka

    runs: dict[str, list[tuple[float, float]]] = {"bare_river": [], "in_process": [], "worker": []}
    ratios: dict[str, list[float]] = {"worker": [], "in_process": []}
    cpu_ratios: dict[str, list[float]] = {"worker": [], "in_process": []}
    with EmbeddedKafka() as broker, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for repeat in range(repeats):
            values = outcomes(n, seed=100 * repeat, prefix=f"r{repeat}")
            # The machine is shared: each path is compared with the bare loop measured just
            # before and just after it, and the ratios' median is reported.
            bare = [bare_river(values)]
            runs["worker"].append(worker(values, broker.bootstrap_servers, folder))
            bare.append(bare_river(values))
            runs["in_process"].append(in_process(values, folder))
            bare.append(bare_river(values))
            runs["bare_river"] += bare
            for path, around in (("worker", bare[:2]), ("in_process", bare[1:])):
                wall, cpu = runs[path][-1]
                ratios[path].append(wall / statistics.mean(b[0] for b in around))
                cpu_ratios[path].append(cpu / statistics.mean(b[1] for b in around))
            advance()
    median = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
    return {
        "outcomes": n,
        "repeats": repeats,
        "per_second_runs": {k: [round(r[0]) for r in v] for k, v in runs.items()},
        "per_second": {k: round(r) for k, r in median.items()},
        "ratio_worker_vs_bare": round(statistics.median(ratios["worker"]), 3),
        "ratio_in_process_vs_bare": round(statistics.median(ratios["in_process"]), 3),
        "ratio_runs": {k: [round(r, 3) for r in v] for k, v in ratios.items()},
        # Outcomes per CPU second of this process (the worker's librdkafka threads included,
        # the broker's process not): less sensitive to what else the machine runs.
        "cpu_ratio_worker_vs_bare": round(statistics.median(cpu_ratios["worker"]), 3),
        "cpu_ratio_in_process_vs_bare": round(statistics.median(cpu_ratios["in_process"]), 3),
        "target_ratio": 0.25,
        "load_average": round(os.getloadavg()[0], 2),
    }


def print_summary(result: dict[str, object]) -> None:
    """Two lines, for ``benchmarks.run``."""
    rates = result["per_second"]
    print(
        f"feedback ingest, {result['outcomes']} outcomes x {result['repeats']}: bare River "
        f"{rates['bare_river']}/s, worker {rates['worker']}/s (ratio "
        f"{result['ratio_worker_vs_bare']}), in-process {rates['in_process']}/s (ratio "
        f"{result['ratio_in_process_vs_bare']}); target {result['target_ratio']}; per CPU "
        f"second: worker {result['cpu_ratio_worker_vs_bare']}, in-process "
        f"{result['cpu_ratio_in_process_vs_bare']} (load average {result['load_average']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outcomes", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.outcomes, args.repeats), indent=2))


if __name__ == "__main__":
    main()
