"""Calibrating the simulator's drift speed against the seed's observation.

The seed observed that a static model loses 15-25 % of its Sharpe over three months. The
drift speed of :class:`~online_learning.data.SyntheticMarket` is chosen so that the ``static``
policy's degradation at the longest horizon, relative to its Sharpe at deployment and averaged
over the regime environments, falls in that range (closest to its middle, 20 %).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from online_learning.backtest.config import BacktestConfig
from online_learning.backtest.environments import SYNTHETIC_ENVIRONMENTS
from online_learning.backtest.runner import Progress, run_suite, synthetic_specs

__all__ = ["TARGET_LOSS_PCT", "calibrate_drift_speed", "static_loss"]

#: The seed's observation: a static model loses this much Sharpe over three months.
TARGET_LOSS_PCT: tuple[float, float] = (15.0, 25.0)


def static_loss(results: dict[str, Any], horizon: int) -> dict[str, dict[str, Any] | None]:
    """The ``static`` policy's relative degradation vs deployment at ``horizon``, per env."""
    out = {}
    for name, env in results["environments"].items():
        static = env["policies"].get("static")
        entry = None if static is None else static["degradation"].get(str(horizon))
        out[name] = None if entry is None else entry["vs_deployment"]["relative_pct"]
    return out


def calibrate_drift_speed(
    speeds: Sequence[float],
    seeds: Sequence[int],
    config: BacktestConfig,
    *,
    environments: Sequence[str] = SYNTHETIC_ENVIRONMENTS,
    workers: int = 1,
    progress: Progress | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Replay ``static`` alone at each drift speed; pick the one closest to a 20 % loss.

    Returns ``{"target_pct": [15, 25], "horizon": h, "chosen": speed, "speeds": [{"drift_speed":
    ..., "static_loss_pct": {env: estimate}, "mean_pct": ...}, ...]}``.
    """
    static_only = dataclasses.replace(config, policies=("static",))
    horizon = config.horizon_days
    rows = []
    for speed in speeds:
        specs = synthetic_specs(environments, drift_speed=speed, **options)
        suite = run_suite(specs, seeds, static_only, workers=workers, progress=progress)
        losses = static_loss(suite.results, horizon)
        means = [v["mean"] for v in losses.values() if v is not None and v["mean"] is not None]
        rows.append(
            {
                "drift_speed": speed,
                "static_loss_pct": losses,
                "mean_pct": sum(means) / len(means) if means else None,
            }
        )
    middle = sum(TARGET_LOSS_PCT) / 2
    usable = [r for r in rows if r["mean_pct"] is not None]
    best = min(usable, key=lambda r: abs(r["mean_pct"] - middle)) if usable else None
    return {
        "target_pct": list(TARGET_LOSS_PCT),
        "horizon": horizon,
        "seeds": list(seeds),
        "chosen": None if best is None else best["drift_speed"],
        "speeds": rows,
    }
