"""Where one incremental update spends its wall time, from ``UpdateOutcome.timings``."""

from __future__ import annotations

import statistics

from benchmarks.update_vs_retrain import UpdateRun

STEPS = ("data", "fisher", "training", "gate", "registry")


def breakdown(runs: list[UpdateRun]) -> dict[str, object]:
    """Median seconds per step, and each step's share of the summed wall time of all runs.

    ``other`` is wall time outside the timed steps (loader construction, model copy). Shares
    are computed from sums so that they add up to 100 %; medians are not additive.
    """
    per_step = {step: [r.timings.get(step, 0.0) for r in runs] for step in STEPS}
    per_step["other"] = [r.wall_s - sum(r.timings.get(s, 0.0) for s in STEPS) for r in runs]
    total = sum(r.wall_s for r in runs)
    steps = {
        step: {"median_s": statistics.median(values), "share": sum(values) / total}
        for step, values in per_step.items()
    }
    calls = sorted({name for r in runs for name in r.registry_calls})
    registry_calls = {
        name: statistics.median(r.registry_calls.get(name, 0.0) for r in runs) for name in calls
    }
    slowest = max(STEPS, key=lambda s: steps[s]["median_s"])
    return {
        "repeats": len(runs),
        "median_total_s": statistics.median(r.wall_s for r in runs),
        "steps": steps,
        "registry_calls_median_s": registry_calls,
        "slowest": slowest,
    }
