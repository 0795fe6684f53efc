"""Detection delay and false alarms of the feedback path's drift watch on seeded outcomes.

Not a timing. Each stream goes through :class:`~online_learning.feedback.drift_watch.
DriftWatch` exactly as the worker feeds it (the default detectors on ``pnl``, a warm-up of 20
outcomes, signals within 50 outcomes of a recorded one absorbed), so the numbers are those of
recorded drifts, not of raw detector firings:

- ``pnl drop``: ``pnl ~ N(0.1 %, 1 %)`` for 300 outcomes, then ``N(-0.4 %, 1 %)``;
- ``market``: the simulated market of ``make run`` (a momentum desk trading as
  ``bull_specialist``), bull for 200 trading days, then sideways; one watch per symbol;
- ``stationary``: ``N(0.1 %, 1 %)`` for 1000 outcomes, no change (false alarms).

Run alone: ``python -m benchmarks.feedback_drift [--seeds N]``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import numpy as np

from online_learning.feedback.drift_watch import DriftWatch
from online_learning.feedback.simulator import MomentumDesk, SimulatedMarket, trade_outcomes
from online_learning.feedback.trade_outcome import TradeOutcome

NOW = datetime(2026, 1, 5, tzinfo=UTC)
FEATURES = {"x": 0.0}


def _detections(pnl: Iterable[float]) -> list[int]:
    """Indices of the outcomes on which the watch recorded a drift."""
    watch = DriftWatch("bull_specialist", "AAA")
    found = []
    for i, value in enumerate(pnl):
        value = float(value)
        outcome = TradeOutcome(f"t{i}", "AAA", NOW, FEATURES, value, pnl=value)
        if watch.update(outcome, now=NOW) is not None:
            found.append(i)
    return found


def _summary(scenario: str, change: int, runs: list[list[int]]) -> dict[str, object]:
    before = sum(any(i < change for i in r) for r in runs)
    delays = [
        next(i for i in r if i >= change) - change for r in runs if any(i >= change for i in r)
    ]
    d = np.asarray(delays, dtype=float)
    return {
        "scenario": scenario,
        "streams": len(runs),
        "change_at": change,
        "false_alarm_before_change": round(before / len(runs), 3),
        "detected_after_change": round(len(delays) / len(runs), 3),
        "delay_median": round(float(np.median(d)), 1) if len(d) else None,
        "delay_p90": round(float(np.percentile(d, 90)), 1) if len(d) else None,
    }


def pnl_drop(seeds: int) -> dict[str, object]:
    runs = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        pnl = np.concatenate([rng.normal(0.001, 0.01, 300), rng.normal(-0.004, 0.01, 300)])
        runs.append(_detections(pnl))
    return _summary("pnl mean 0.1% -> -0.4% (sd 1%)", 300, runs)


def market(seeds: int) -> dict[str, object]:
    runs = []
    desk = MomentumDesk()
    for seed in range(seeds):
        simulated = SimulatedMarket(3, seed=1000 + seed)
        by_symbol: dict[str, list[float]] = {s: [] for s in simulated.symbols}
        for day in simulated.days():
            for outcome in trade_outcomes(day, desk, run_id="bench", now=NOW):
                by_symbol[outcome["symbol"]].append(outcome["pnl"])
        runs += [_detections(pnl) for pnl in by_symbol.values()]
    return _summary("simulated market, bull -> sideways (momentum desk)", 200, runs)


def stationary(seeds: int) -> dict[str, object]:
    alarms = 0
    for seed in range(seeds):
        rng = np.random.default_rng(2_000_000 + seed)
        alarms += len(_detections(rng.normal(0.001, 0.01, 1000)))
    return {
        "scenario": "stationary N(0.1%, 1%), 1000 outcomes",
        "streams": seeds,
        "false_alarms_per_1000_outcomes": round(alarms / seeds, 3),
    }


def run(seeds: int, advance: Callable[[], None] = lambda: None) -> list[dict[str, object]]:
    results = []
    for scenario in (pnl_drop, market, stationary):
        # The market simulates three symbols per seed and builds features: fewer seeds.
        results.append(scenario(max(seeds // 4, 5) if scenario is market else seeds))
        advance()
    return results


def print_summary(results: list[dict[str, object]]) -> None:
    """One line per scenario, for ``benchmarks.run``."""
    print("drift watch on seeded outcome streams (delays in outcomes):")
    for r in results:
        if "delay_median" in r:
            print(
                f"  {r['scenario']}: detected {r['detected_after_change']:.1%}, delay median "
                f"{r['delay_median']} (p90 {r['delay_p90']}), false alarm before the change "
                f"{r['false_alarm_before_change']:.1%} of {r['streams']} streams"
            )
        else:
            print(f"  {r['scenario']}: {r['false_alarms_per_1000_outcomes']} false alarms / 1000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args()
    for result in run(args.seeds):
        print(json.dumps(result))


if __name__ == "__main__":
    main()
