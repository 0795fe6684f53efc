"""Incremental update vs full retrain of one specialist, on a real MLflow store.

Both end on the same day. The update is ``OnlineLearner.incremental_update`` with the default
configuration (60-day window, 10 epochs); the retrain is ``train_and_register`` on the two
years before that day (40 epochs), which is what bootstrapping or a manual retrain runs. Runs
are interleaved so that a change in the machine's load hits both alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from benchmarks._store import TimedRegistry
from online_learning.data import DataSource
from online_learning.update.bootstrap import train_and_register
from online_learning.update.config import IncrementalUpdateConfig
from online_learning.update.learner import OnlineLearner

MODEL_ID = "bull_specialist"
HISTORY_YEARS = 2
RETRAIN_EPOCHS = 40
AS_OF_INDEX = 1000  # trading day of the synthetic market both runs end on


@dataclass(frozen=True)
class UpdateRun:
    wall_s: float
    decision: str
    n_train: int
    timings: dict[str, float]
    registry_calls: dict[str, float] = field(default_factory=dict)

    @property
    def registry_s(self) -> float:
        return self.timings.get("registry", 0.0)


@dataclass(frozen=True)
class RetrainRun:
    wall_s: float
    n_train: int
    registry_calls: dict[str, float]

    @property
    def registry_s(self) -> float:
        return sum(self.registry_calls.values())


@dataclass(frozen=True)
class Scenario:
    as_of: date
    start: date


def scenario(market: DataSource) -> Scenario:
    days = sorted(market.fetch()["date"].unique())
    as_of = pd.Timestamp(days[AS_OF_INDEX])
    return Scenario(as_of.date(), (as_of - pd.DateOffset(years=HISTORY_YEARS)).date())


def retrain(registry: TimedRegistry, market: DataSource, where: Scenario) -> RetrainRun:
    registry.take()
    begin = time.perf_counter()
    result = train_and_register(
        registry=registry,
        source=market,
        model_id=MODEL_ID,
        start=where.start,
        end=where.as_of,
        epochs=RETRAIN_EPOCHS,
    )
    return RetrainRun(time.perf_counter() - begin, result.n_train, registry.take())


def update(registry: TimedRegistry, market: DataSource, where: Scenario) -> UpdateRun:
    learner = OnlineLearner(registry, market)
    registry.take()
    begin = time.perf_counter()
    outcome = learner.incremental_update(
        IncrementalUpdateConfig(model_id=MODEL_ID, as_of=where.as_of)
    )
    wall = time.perf_counter() - begin
    return UpdateRun(
        wall, outcome.decision, outcome.n_train, dict(outcome.timings), registry.take()
    )


def measure(
    registry: TimedRegistry,
    market: DataSource,
    *,
    updates: int,
    retrains: int,
    advance: Callable[[], None] = lambda: None,
) -> tuple[list[UpdateRun], list[RetrainRun]]:
    """Warm up (bootstrap the champion, one update), then interleave the measured runs."""
    where = scenario(market)
    retrain(registry, market, where)  # also creates the MLflow schema: not measured
    update(registry, market, where)
    advance()
    # Spread the retrains evenly among the updates.
    order = sorted(
        [(i / updates, "update") for i in range(updates)]
        + [((j + 0.5) / retrains, "retrain") for j in range(retrains)]
    )
    update_runs: list[UpdateRun] = []
    retrain_runs: list[RetrainRun] = []
    for _, kind in order:
        if kind == "update":
            update_runs.append(update(registry, market, where))
        else:
            retrain_runs.append(retrain(registry, market, where))
        advance()
    return update_runs, retrain_runs


def summarize(update_runs: list[UpdateRun], retrain_runs: list[RetrainRun]) -> dict[str, object]:
    """Medians and the retrain/update ratios, with and without registry I/O."""
    med = statistics.median
    update_total = med(r.wall_s for r in update_runs)
    update_compute = med(r.wall_s - r.registry_s for r in update_runs)
    retrain_total = med(r.wall_s for r in retrain_runs)
    retrain_compute = med(r.wall_s - r.registry_s for r in retrain_runs)
    return {
        "model_id": MODEL_ID,
        "update": {
            "repeats": len(update_runs),
            "n_train": med(r.n_train for r in update_runs),
            "decisions": {
                d: sum(r.decision == d for r in update_runs) for d in ("promoted", "rolled_back")
            },
            "median_s": update_total,
            "median_without_registry_s": update_compute,
            "median_registry_s": med(r.registry_s for r in update_runs),
        },
        "retrain": {
            "repeats": len(retrain_runs),
            "n_train": med(r.n_train for r in retrain_runs),
            "epochs": RETRAIN_EPOCHS,
            "history_years": HISTORY_YEARS,
            "median_s": retrain_total,
            "median_without_registry_s": retrain_compute,
            "median_registry_s": med(r.registry_s for r in retrain_runs),
        },
        "ratio_retrain_over_update": retrain_total / update_total,
        "ratio_without_registry": retrain_compute / update_compute,
    }
