"""Detection delay and false-alarm rate of the default drift detectors on seeded streams.

Not a timing: this is the evidence behind the parameters documented in
:func:`online_learning.feedback.drift.default_detectors`. Run alone with
``python -m benchmarks.drift_calibration [--seeds N]``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from online_learning.feedback.drift import default_detectors, detection_indices

CHANGE = 300  # index of the first observation after the change
AFTER = 300  # observations after the change
STATIONARY = 1000  # length of the no-change streams


def mean_drop(seed: int) -> np.ndarray:
    """N(0.001, 0.01) for ``CHANGE`` days, then N(-0.004, 0.01): a drop of half a sd."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0.001, 0.01, CHANGE), rng.normal(-0.004, 0.01, AFTER)])


def loss_rate_jump(seed: int) -> np.ndarray:
    """Returns whose loss rate jumps from 45 % to 70 % at ``CHANGE``; sizes |N(0, 0.01)|."""
    rng = np.random.default_rng(seed)
    lose = np.concatenate([rng.random(CHANGE) < 0.45, rng.random(AFTER) < 0.70])
    return np.where(lose, -1.0, 1.0) * np.abs(rng.normal(0.0, 0.01, CHANGE + AFTER))


def stationary(seed: int) -> np.ndarray:
    """N(0.001, 0.01) with no change (46 % losing days)."""
    return np.random.default_rng(1_000_000 + seed).normal(0.001, 0.01, STATIONARY)


@dataclass(frozen=True)
class Calibration:
    detector: str
    scenario: str
    seeds: int
    fired_before_change: float  # share of seeds with a detection before CHANGE
    detected: float  # share of seeds with a detection in [CHANGE, CHANGE + AFTER)
    delay_median: float
    delay_p90: float
    false_alarms_per_1000: float  # on the stationary streams


def calibrate(
    name: str, scenario: str, make_stream: Callable[[int], np.ndarray], seeds: int
) -> Calibration:
    before, delays, alarms = 0, [], 0
    for seed in range(seeds):
        fired = detection_indices(default_detectors()[name], make_stream(seed))
        before += any(i < CHANGE for i in fired)
        after = [i - CHANGE for i in fired if i >= CHANGE]
        if after:
            delays.append(after[0])
        alarms += len(detection_indices(default_detectors()[name], stationary(seed)))
    delay = np.asarray(delays, dtype=float)
    return Calibration(
        detector=name,
        scenario=scenario,
        seeds=seeds,
        fired_before_change=before / seeds,
        detected=len(delays) / seeds,
        delay_median=float(np.median(delay)) if len(delay) else float("nan"),
        delay_p90=float(np.percentile(delay, 90)) if len(delay) else float("nan"),
        false_alarms_per_1000=alarms / seeds * 1000 / STATIONARY,
    )


def run(seeds: int, advance: Callable[[], None] = lambda: None) -> list[Calibration]:
    results = []
    for name, scenario, stream in (
        ("adwin", "mean 0.1% -> -0.4% (sd 1%)", mean_drop),
        ("page_hinkley", "mean 0.1% -> -0.4% (sd 1%)", mean_drop),
        ("losing_trades", "loss rate 45% -> 70%", loss_rate_jump),
    ):
        results.append(calibrate(name, scenario, stream, seeds))
        advance()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args()
    for result in run(args.seeds):
        print(asdict(result))


if __name__ == "__main__":
    main()
