"""Running many (environment, seed) replays, in a process pool, and assembling ``results.json``.

A job is one environment and one seed; it builds its environment itself (a synthetic market
is cheap to simulate, a file is read once per job), so jobs pickle as plain specs. Every job
pins PyTorch to one thread, so ``workers`` processes use ``workers`` cores and the results do
not depend on how many there are.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from online_learning.backtest.config import BacktestConfig
from online_learning.backtest.environments import (
    DEFAULT_DRIFT_SPEED,
    SYNTHETIC_ENVIRONMENTS,
    Environment,
    data_environment,
    synthetic_environment,
)
from online_learning.backtest.faults import FaultPlan
from online_learning.backtest.harness import RunResult, run_backtest
from online_learning.backtest.metrics import environment_summary, fault_summary, timeline
from online_learning.backtest.report import SCHEMA_VERSION
from online_learning.backtest.success import success_summary

__all__ = ["EnvironmentSpec", "Suite", "run_jobs", "run_suite", "synthetic_specs"]

#: ``progress(job, done_days, total_days)``; ``job`` is ``"<environment>/<seed>"``.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class EnvironmentSpec:
    """How to build one environment for a seed: a synthetic regime or a data source."""

    name: str
    data: str = "synthetic"
    start: date | None = None
    end: date | None = None
    drift_speed: float = DEFAULT_DRIFT_SPEED
    options: tuple[tuple[str, Any], ...] = ()

    def build(self, seed: int, config: BacktestConfig) -> Environment:
        if self.data == "synthetic":
            return synthetic_environment(
                self.name, seed, config, drift_speed=self.drift_speed, **dict(self.options)
            )
        return data_environment(self.data, config, start=self.start, end=self.end)


def synthetic_specs(
    names: Sequence[str] = SYNTHETIC_ENVIRONMENTS,
    *,
    drift_speed: float = DEFAULT_DRIFT_SPEED,
    **options: Any,
) -> list[EnvironmentSpec]:
    """Specs of the synthetic regime environments ``names``."""
    return [
        EnvironmentSpec(name, drift_speed=drift_speed, options=tuple(sorted(options.items())))
        for name in names
    ]


@dataclass
class Suite:
    """Results of a suite: the runs of each pass and the assembled ``results.json`` document."""

    runs: list[RunResult]
    fault_runs: list[RunResult] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    timelines: Any = None


def _job(
    spec: EnvironmentSpec,
    seed: int,
    config: BacktestConfig,
    faults: FaultPlan | None,
    messages: Any | None,
) -> RunResult:
    env = spec.build(seed, config)
    key = f"{env.name}/{seed}" + ("/faults" if faults else "")
    report = None
    if messages is not None:

        def report(done: int, total: int) -> None:
            messages.put((key, done, total))

    return run_backtest(env, seed, config, faults=faults, progress=report)


def run_jobs(
    jobs: Sequence[tuple[EnvironmentSpec, int, FaultPlan | None]],
    config: BacktestConfig,
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> list[RunResult]:
    """Run ``(spec, seed, faults)`` jobs, in this process or a pool of ``workers``; keep order."""
    if workers <= 1 or len(jobs) <= 1:
        results = []
        for spec, seed, faults in jobs:
            messages = _Direct(progress) if progress else None
            results.append(_job(spec, seed, config, faults, messages))
        return results
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(workers, mp_context=context) as pool:
        messages = manager.Queue() if progress else None
        futures = [pool.submit(_job, spec, seed, config, f, messages) for spec, seed, f in jobs]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            _drain(messages, progress)
        _drain(messages, progress)
        return [f.result() for f in futures]


class _Direct:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def put(self, message: tuple[str, int, int]) -> None:
        self.progress(*message)


def _drain(messages: Any, progress: Progress | None) -> None:
    if messages is None or progress is None:
        return
    while True:
        try:
            progress(*messages.get_nowait())
        except queue_module.Empty:
            return


def run_suite(
    specs: Sequence[EnvironmentSpec],
    seeds: Sequence[int],
    config: BacktestConfig,
    *,
    faults: FaultPlan | None = None,
    fault_seeds: Sequence[int] = (),
    workers: int = 1,
    progress: Progress | None = None,
    command: str | None = None,
) -> Suite:
    """Every environment for every seed, plus an optional fault-injection pass.

    The fault pass replays the same environments with poisoned updates on ``fault_seeds``;
    its runs feed only the ``fault_injection`` section, so the metrics stay clean.

    Examples
    --------
    >>> import pandas as pd
    >>> config = BacktestConfig(policies=("static",), horizons=(30,), bootstrap_epochs=2)
    >>> specs = synthetic_specs(["bull"], bootstrap_days=60, switch_days=10, return_days=10,
    ...                         n_symbols=2)
    >>> suite = run_suite(specs, [0], config)
    >>> sorted(suite.results["environments"]["bull"]["policies"])
    ['static']
    """
    began = time.perf_counter()
    jobs = [(spec, seed, None) for spec in specs for seed in seeds]
    if faults is not None:
        jobs += [(spec, seed, faults) for spec in specs for seed in fault_seeds]
    runs = run_jobs(jobs, config, workers=workers, progress=progress)
    clean = [r for r, job in zip(runs, jobs, strict=True) if job[2] is None]
    poisoned = [r for r, job in zip(runs, jobs, strict=True) if job[2] is not None]
    environments: dict[str, Any] = {}
    frames = []
    for name in dict.fromkeys(r.environment for r in clean):
        mine = [r for r in clean if r.environment == name]
        environments[name] = environment_summary(mine, config)
        for policy, success in success_summary(mine, config).items():
            environments[name]["policies"][policy]["success"] = success
        frames.append(timeline(mine, config))
    import pandas as pd

    results = {
        "schema_version": SCHEMA_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command,
        "config": config.to_dict(),
        "run": {
            "seeds": list(seeds),
            "workers": workers,
            "wall_seconds": time.perf_counter() - began,
            "environments": [
                {
                    "name": s.name,
                    "data": s.data,
                    "drift_speed": s.drift_speed if s.data == "synthetic" else None,
                    **dict(s.options),
                }
                for s in specs
            ],
        },
        "environments": environments,
        "fault_injection": None,
    }
    if faults is not None:
        results["fault_injection"] = {
            "plan": {"every": faults.every, "offset": faults.offset, "kinds": list(faults.kinds)},
            **fault_summary(poisoned),
        }
    return Suite(
        runs=clean,
        fault_runs=poisoned,
        results=results,
        timelines=pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(),
    )


def merge_suites(suites: Sequence[Suite]) -> Suite:
    """One suite from the suites of several data sources: their runs, timelines and one
    ``results.json`` document (environments, seeds and fault-injection counts combined)."""
    import pandas as pd

    first = suites[0].results
    results = {**first, "environments": {}, "fault_injection": None}
    results["run"] = {**first["run"], "environments": [], "seeds": {},
                      "wall_seconds": 0.0}  # fmt: skip
    faults = [s.results["fault_injection"] for s in suites if s.results["fault_injection"]]
    for suite in suites:
        results["environments"].update(suite.results["environments"])
        results["run"]["environments"] += suite.results["run"]["environments"]
        results["run"]["wall_seconds"] += suite.results["run"]["wall_seconds"]
        for name in suite.results["environments"]:
            results["run"]["seeds"][name] = suite.results["run"]["seeds"]
    if faults:
        merged = {**faults[0], "environments": [], "seeds": [], "poisoned_updates": 0,
                  "reached_champion": 0, "by_policy": {}}  # fmt: skip
        for f in faults:
            merged["environments"] += f["environments"]
            merged["seeds"] = sorted(set(merged["seeds"]) | set(f["seeds"]))
            merged["poisoned_updates"] += f["poisoned_updates"]
            merged["reached_champion"] += f["reached_champion"]
            for policy, kinds in f["by_policy"].items():
                for kind, cell in kinds.items():
                    into = (
                        merged["by_policy"]
                        .setdefault(policy, {})
                        .setdefault(kind, {"poisoned": 0, "reached_champion": 0, "reasons": {}})
                    )
                    into["poisoned"] += cell["poisoned"]
                    into["reached_champion"] += cell["reached_champion"]
                    for reason, n in cell["reasons"].items():
                        into["reasons"][reason] = into["reasons"].get(reason, 0) + n
        results["fault_injection"] = merged
    timelines = pd.concat([s.timelines for s in suites], ignore_index=True)
    runs = [r for s in suites for r in s.runs]
    fault_runs = [r for s in suites for r in s.fault_runs]
    return Suite(runs=runs, fault_runs=fault_runs, results=results, timelines=timelines)
