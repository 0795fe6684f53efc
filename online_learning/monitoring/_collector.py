"""Per-model update state, the collector that exposes it, and the parser that restores it.

The state is plain Python owned by :class:`~online_learning.monitoring.metrics.UpdateMetrics`;
the collector turns a snapshot of it into Prometheus metric families at scrape time, and
:func:`parse_exposition` turns a written exposition back into state so that a batch run can
continue the counters of the previous one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

OUTCOMES = ("promoted", "rolled_back", "failed", "deferred")
"""Values of the ``outcome`` label; ``failed`` is an update that raised."""

# From a 0.1 s smoke run to 2 h; 3600 is a bound so "slower than 60 min" is a bucket query.
DURATION_BUCKETS = (
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0,
    1800.0, 2700.0, 3600.0, 5400.0, 7200.0,
)  # fmt: skip

NAN = math.nan
UPDATES = "online_learning_updates"
DURATION = "online_learning_update_duration_seconds"
ROLLBACK_RATE = "online_learning_rollback_rate"

# Gauges stored as they are: metric name -> (state attribute, help).
GAUGES = {
    "online_learning_consecutive_failed_updates": (
        "consecutive_failed",
        "Updates in a row that were rolled back or failed; 0 after a promotion.",
    ),
    "online_learning_sharpe_pre": (
        "sharpe_pre",
        "Validation Sharpe of the champion in the last update; NaN when unknown.",
    ),
    "online_learning_sharpe_post": (
        "sharpe_post",
        "Validation Sharpe of the candidate in the last update; NaN when unknown.",
    ),
    "online_learning_degradation_percent": (
        "degradation",
        "Sharpe degradation of the candidate in the last update, positive when worse "
        "(100 * (pre - post) / max(|pre|, sharpe_floor)); NaN when unknown.",
    ),
    "online_learning_fisher_mean": (
        "fisher_mean",
        "Mean of the finite values of the last reported EWC Fisher; NaN when unknown.",
    ),
    "online_learning_fisher_max": (
        "fisher_max",
        "Max of the finite values of the last reported EWC Fisher; NaN when unknown.",
    ),
    "online_learning_fisher_nonfinite_values": (
        "fisher_nonfinite",
        "Number of NaN or infinite values in the last reported EWC Fisher; NaN when unknown.",
    ),
    "online_learning_last_update_timestamp_seconds": (
        "last_update",
        "Unix time at which the last update of the model finished; NaN before the first.",
    ),
    "online_learning_update_started_timestamp_seconds": (
        "started",
        "Unix time at which the running update of the model started; 0 when idle.",
    ),
}

METRIC_NAMES = (DURATION, UPDATES, ROLLBACK_RATE, *GAUGES)
"""Every metric family :class:`UpdateCollector` exposes (counters without ``_total``)."""


@dataclass
class ModelState:
    """What the metrics of one model are computed from."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    duration_sum: float = 0.0
    consecutive_failed: int = 0
    sharpe_pre: float = NAN
    sharpe_post: float = NAN
    degradation: float = NAN
    fisher_mean: float = NAN
    fisher_max: float = NAN
    fisher_nonfinite: float = NAN
    last_update: float = NAN
    started: float = 0.0
    observations: int = field(default=0, compare=False)  # in this process; drives track()

    def add_duration(self, seconds: float) -> None:
        index = next(
            (i for i, bound in enumerate(DURATION_BUCKETS) if seconds <= bound),
            len(DURATION_BUCKETS),
        )
        self.buckets[index] += 1
        self.duration_sum += seconds

    @property
    def rollback_rate(self) -> float:
        # A deferred update decided nothing: it is neither a rollback nor a decision.
        total = sum(n for outcome, n in self.counts.items() if outcome != "deferred")
        return self.counts["rolled_back"] / total if total else NAN

    def copy(self) -> ModelState:
        return ModelState(
            **{f.name: getattr(self, f.name) for f in fields(self)}
            | {"counts": dict(self.counts), "buckets": list(self.buckets)}
        )


class UpdateCollector:
    """Exposes a snapshot of per-model states; ``snapshot`` must return copies taken under
    the owner's lock so that a scrape never sees half an update."""

    def __init__(self, snapshot: Callable[[], dict[str, ModelState]]) -> None:
        self.snapshot = snapshot

    def describe(self) -> Iterable[Metric]:
        # Lets CollectorRegistry refuse a second UpdateMetrics on the same registry.
        return _families({})

    def collect(self) -> Iterable[Metric]:
        return _families(self.snapshot())


def _families(states: dict[str, ModelState]) -> Iterator[Metric]:
    duration = HistogramMetricFamily(
        DURATION,
        "Wall time of incremental updates, whatever their outcome.",
        labels=["model_id"],
    )
    updates = CounterMetricFamily(
        UPDATES,
        "Finished incremental updates by outcome (promoted, rolled_back, failed, deferred).",
        labels=["model_id", "outcome"],
    )
    rollback = GaugeMetricFamily(
        ROLLBACK_RATE,
        "rolled_back / decided or failed updates since the counters started; NaN before any.",
        labels=["model_id"],
    )
    gauges = {
        name: GaugeMetricFamily(name, doc, labels=["model_id"]) for name, (_, doc) in GAUGES.items()
    }
    for model_id, state in sorted(states.items()):
        cumulative, running = [], 0
        for bound, count in zip((*DURATION_BUCKETS, math.inf), state.buckets, strict=True):
            running += count
            cumulative.append((floatToGoString(bound), running))
        duration.add_metric([model_id], cumulative, state.duration_sum)
        for outcome in OUTCOMES:
            updates.add_metric([model_id, outcome], float(state.counts[outcome]))
        rollback.add_metric([model_id], state.rollback_rate)
        for name, (attribute, _) in GAUGES.items():
            gauges[name].add_metric([model_id], float(getattr(state, attribute)))
    yield duration
    yield updates
    yield rollback
    yield from gauges.values()


def _count(value: float, what: str) -> int:
    if not (math.isfinite(value) and value >= 0 and value == int(value)):
        raise ValueError(f"{what} must be a non-negative integer, got {value}")
    return int(value)


def parse_exposition(text: str) -> dict[str, ModelState]:
    """Per-model states from an exposition written by :class:`UpdateCollector`.

    Families other than ours are ignored. Raises ``ValueError`` when the histogram buckets
    differ from :data:`DURATION_BUCKETS` or a counter is not a non-negative integer.
    """
    states: dict[str, ModelState] = {}
    attributes = {name: attribute for name, (attribute, _) in GAUGES.items()}
    expected_bounds = (*DURATION_BUCKETS, math.inf)
    for family in text_string_to_metric_families(text):
        if family.name not in METRIC_NAMES or family.name == ROLLBACK_RATE:
            continue  # the rollback rate is derived from the counters
        cumulative: dict[str, dict[float, float]] = {}
        for sample in family.samples:
            model_id = sample.labels.get("model_id")
            if not model_id:
                continue
            state = states.setdefault(model_id, ModelState())
            if family.name == UPDATES and sample.name == UPDATES + "_total":
                outcome = sample.labels.get("outcome")
                if outcome in state.counts:
                    state.counts[outcome] = _count(sample.value, f"{UPDATES}_total")
            elif sample.name == DURATION + "_bucket":
                cumulative.setdefault(model_id, {})[float(sample.labels["le"])] = sample.value
            elif sample.name == DURATION + "_sum":
                state.duration_sum = sample.value
            elif family.name in attributes and sample.name == family.name:
                value = sample.value
                if family.name == "online_learning_consecutive_failed_updates":
                    value = _count(value, family.name)
                setattr(states[model_id], attributes[family.name], value)
        for model_id, by_bound in cumulative.items():
            if tuple(sorted(by_bound)) != expected_bounds:
                raise ValueError(
                    f"{DURATION} of {model_id!r} has buckets {sorted(by_bound)}, "
                    f"this version uses {list(expected_bounds)}; start from a fresh file"
                )
            previous = 0
            for i, bound in enumerate(expected_bounds):
                total = _count(by_bound[bound], f"{DURATION}_bucket")
                if total < previous:
                    raise ValueError(f"{DURATION} buckets of {model_id!r} are not cumulative")
                states[model_id].buckets[i] = total - previous
                previous = total
    return states
