"""A steady stream of outcomes from a producer thread, and reads of a worker's /metrics."""

from __future__ import annotations

import threading
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from online_learning.events.producers import KafkaSender
from tests.utils.trade_outcomes import outcome_stream

SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")


def interleaved(per_symbol: int, *, seed: int = 0, symbols=SYMBOLS) -> list[dict]:
    """``per_symbol`` outcomes of each symbol, in the order a market would send them."""
    streams = [outcome_stream(per_symbol, symbol=s, seed=seed + i) for i, s in enumerate(symbols)]
    return [item for row in zip(*streams, strict=True) for item in row]


class SteadyStream:
    """Sends ``items`` to ``topic`` at ``per_second`` from a thread, whatever happens to the
    consumers; :attr:`sent` counts what the broker acknowledged."""

    def __init__(self, bootstrap: str, topic: str, items: list[dict], per_second: float) -> None:
        import json

        self.messages = [(i["symbol"], json.dumps(i).encode(), None) for i in items]
        self.sender = KafkaSender(bootstrap, topic)
        self.interval = 1.0 / per_second
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        for i, message in enumerate(self.messages):
            delay = started + i * self.interval - time.monotonic()
            if self.stop.wait(max(delay, 0.0)):
                break
            self.sender.send_messages([message])
            self.sent += 1

    def __enter__(self) -> SteadyStream:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)
        self.sender.close()

    def wait(self, timeout_s: float) -> None:
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), f"only {self.sent} of {len(self.messages)} sent"


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """``{(sample name, sorted labels): value}`` of a Prometheus endpoint."""
    text = httpx.get(url, timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float | None:
    """The value of the one sample of ``name`` whose labels include ``labels``."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls)]
    return found[0] if len(found) == 1 else None
