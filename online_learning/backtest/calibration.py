"""Calibrating the simulator's drift speed against the seed's observation.

The seed observed that a static model loses 15-25 % of its Sharpe over three months. The
drift speed of :class:`~online_learning.data.SyntheticMarket` is chosen so that a model
trained once and never updated (``static``) loses that much, **net of costs at executable
timing**: its Sharpe over the 30 days that end ``horizon_days`` (90) after deployment against
its Sharpe on the holdout days before deployment, as the backtest defines them.

A single price path cannot measure this: with an information coefficient of a few hundredths
two 30-day Sharpe ratios differ by about ``sqrt(2 * 252 / 30) = 4`` from noise alone, so a
20 % loss of a Sharpe near 5 would need on the order of a thousand seeds. The calibration
therefore scores each bootstrapped model on ``noise_paths`` **twins** of its market
(:meth:`SyntheticMarket.twin`: the same regimes and the same coefficient drift, other return
noise) and pools their daily net returns: that is the model's expected Sharpe under that
drift, with the path noise averaged out. What varies over seeds is then only what the
calibration is about: the drift path and the training. Seeds share their noise across drift
speeds (the simulator draws noise and drift from separate streams), so the curve of loss
against speed is smooth.

The loss of an environment is ``1 - mean S_h / mean S_dep`` over seeds, reported only where
the mean deployment Sharpe is at least ``sharpe_floor`` (a model that earns nothing has
nothing to lose); the calibration's figure is the mean over those environments.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from online_learning.backtest.config import BacktestConfig
from online_learning.backtest.environments import (
    SYNTHETIC_ENVIRONMENTS,
    Environment,
    labelled_rows,
    rows_between,
    synthetic_environment,
)
from online_learning.backtest.harness import (
    bootstrap_registry,
    daily_returns,
    single_thread,
)
from online_learning.backtest.metrics import relative, t_interval
from online_learning.backtest.policies import derive_seed
from online_learning.errors import ConfigError
from online_learning.stats import sharpe_ratio

__all__ = [
    "DEFAULT_NOISE_PATHS",
    "DEFAULT_SPEEDS",
    "TARGET_LOSS_PCT",
    "ExpectedSharpe",
    "calibrate_drift_speed",
    "expected_static_sharpe",
    "summarise_speed",
]

#: The seed's observation: a static model loses this much Sharpe over three months.
TARGET_LOSS_PCT: tuple[float, float] = (15.0, 25.0)
#: Twins of each market whose returns are pooled (path noise falls as ``1/sqrt(n)``).
DEFAULT_NOISE_PATHS = 32
#: The sweep of ``online-learning backtest --calibrate``.
DEFAULT_SPEEDS: tuple[float, ...] = (0.0, 0.002, 0.004, 0.008, 0.016)

#: ``progress(done_jobs, total_jobs, job)``.
CalibrationProgress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ExpectedSharpe:
    """A static model's expected Sharpe at deployment and ``horizon`` days later, one seed."""

    environment: str
    seed: int
    drift_speed: float
    noise_paths: int
    deployment_sharpe: float
    horizon_sharpe: float
    deployment_gross_sharpe: float
    horizon_gross_sharpe: float
    wall_s: float

    @property
    def loss(self) -> float:
        """``S_dep - S_h``: positive when the model trades worse ``horizon`` days on."""
        return self.deployment_sharpe - self.horizon_sharpe


def _window_returns(
    env: Environment, models: dict[str, Any], rows: pd.DataFrame, config: BacktestConfig
) -> dict[str, np.ndarray]:
    """Daily net and gross returns on the holdout days and on the horizon's Sharpe window."""
    pricing = {"execution": config.update.execution, "cost_bps": config.update.cost_bps}
    holdout = daily_returns(
        models, rows_between(rows, env.holdout_start, env.holdout_end), **pricing
    )
    days = env.evaluation_days
    h, w = config.horizon_days, config.sharpe_window
    # From the deployment day on, as the replay does: the window's first day pays for the
    # position it inherits, not for a fresh one.
    run = daily_returns(models, rows_between(rows, days[0], days[h - 1]), **pricing)
    return {
        "deployment": holdout.net.to_numpy(),
        "horizon": run.net.to_numpy()[h - w : h],
        "deployment_gross": (holdout.net + holdout.cost).to_numpy(),
        "horizon_gross": (run.net + run.cost).to_numpy()[h - w : h],
    }


def expected_static_sharpe(
    environment: str,
    seed: int,
    config: BacktestConfig,
    *,
    drift_speed: float,
    noise_paths: int = DEFAULT_NOISE_PATHS,
    **options: Any,
) -> ExpectedSharpe:
    """Bootstrap the models of one (environment, seed) and score them, frozen, on twins.

    The first path is the environment's own market; the others are its twins with noise
    seeds derived from ``seed``. ``options`` go to
    :func:`~online_learning.backtest.environments.synthetic_environment`.
    """
    if noise_paths < 1:
        raise ConfigError(f"noise_paths must be at least 1, got {noise_paths}")
    began = time.perf_counter()
    env = synthetic_environment(environment, seed, config, drift_speed=drift_speed, **options)
    if config.horizon_days > len(env.evaluation_days):
        raise ConfigError(
            f"horizon_days {config.horizon_days} is longer than the evaluation period "
            f"({len(env.evaluation_days)} days)"
        )
    with single_thread():
        torch.manual_seed(derive_seed(seed, "torch"))
        bootstrap = bootstrap_registry(env, config, seed)
        models = {m: bootstrap.load_champion(m).model for m in config.model_ids}
        pooled: dict[str, list[np.ndarray]] = {}
        for path in range(noise_paths):
            rows = env.rows
            if path:
                rows = labelled_rows(env.source.twin(derive_seed(seed, "noise", path)))
            for key, returns in _window_returns(env, models, rows, config).items():
                pooled.setdefault(key, []).append(returns)
    sharpe = {k: sharpe_ratio(np.concatenate(v)) for k, v in pooled.items()}
    return ExpectedSharpe(
        environment=environment,
        seed=seed,
        drift_speed=drift_speed,
        noise_paths=noise_paths,
        deployment_sharpe=sharpe["deployment"],
        horizon_sharpe=sharpe["horizon"],
        deployment_gross_sharpe=sharpe["deployment_gross"],
        horizon_gross_sharpe=sharpe["horizon_gross"],
        wall_s=time.perf_counter() - began,
    )


def _loss(deployment: Sequence[float], horizon: Sequence[float], floor: float) -> dict[str, Any]:
    dep = t_interval(deployment)
    difference = t_interval(d - h for d, h in zip(deployment, horizon, strict=True))
    rel = relative(difference, dep.mean, floor)
    return {
        "deployment_sharpe": dep.to_dict(),
        "horizon_sharpe": t_interval(horizon).to_dict(),
        "sharpe_difference": difference.to_dict(),
        "loss_pct": None if rel is None else rel.to_dict(),
    }


def summarise_speed(results: Sequence[ExpectedSharpe], floor: float) -> dict[str, Any]:
    """Per environment: expected Sharpe at deployment and at the horizon, and the loss."""
    environments: dict[str, Any] = {}
    for name in dict.fromkeys(r.environment for r in results):
        own = [r for r in results if r.environment == name]
        environments[name] = {
            "seeds": len(own),
            **_loss([r.deployment_sharpe for r in own], [r.horizon_sharpe for r in own], floor),
            "gross": _loss(
                [r.deployment_gross_sharpe for r in own],
                [r.horizon_gross_sharpe for r in own],
                floor,
            ),
        }
    usable = [e["loss_pct"]["mean"] for e in environments.values() if e["loss_pct"] is not None]
    return {
        "environments": environments,
        "mean_loss_pct": float(np.mean(usable)) if usable else None,
        "counted": [n for n, e in environments.items() if e["loss_pct"] is not None],
    }


def _crossing(rows: Sequence[dict[str, Any]], level: float) -> float | None:
    """The first speed where the mean loss crosses ``level``, linear between grid points.

    >>> _crossing([{"drift_speed": 0.0, "mean_loss_pct": 40.0},
    ...            {"drift_speed": 0.01, "mean_loss_pct": 10.0}], 20.0)
    0.006666666666666667
    """
    points = [
        (r["drift_speed"], r["mean_loss_pct"]) for r in rows if r["mean_loss_pct"] is not None
    ]
    for (s0, l0), (s1, l1) in itertools.pairwise(points):
        if l0 != l1 and min(l0, l1) <= level <= max(l0, l1):
            return s0 + (level - l0) * (s1 - s0) / (l1 - l0)
    return None


def calibrate_drift_speed(
    speeds: Sequence[float],
    seeds: Sequence[int],
    config: BacktestConfig,
    *,
    environments: Sequence[str] = SYNTHETIC_ENVIRONMENTS,
    noise_paths: int = DEFAULT_NOISE_PATHS,
    workers: int = 1,
    progress: CalibrationProgress | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The static model's expected loss at each drift speed; the speed closest to 20 %.

    Returns ``{"target_pct": [15, 25], "horizon": h, "seeds": [...], "noise_paths": n,
    "chosen": speed, "crossing": speed or None, "speeds": [{"drift_speed": s,
    "environments": {...}, "mean_loss_pct": ...}, ...], "runs": [...]}``: ``chosen`` is the
    grid speed closest to the target's middle, ``crossing`` the speed where the mean loss
    reaches it (interpolated).
    """
    speeds = sorted(float(s) for s in speeds)
    if not speeds or any(s < 0 for s in speeds):
        raise ConfigError(f"drift speeds must be >= 0, got {speeds}")
    if not seeds:
        raise ConfigError("calibration needs at least one seed")
    jobs = [(env, seed, speed) for speed in speeds for env in environments for seed in seeds]
    runs = _run(jobs, config, noise_paths, workers, progress, options)
    rows = []
    for speed in speeds:
        summary = summarise_speed([r for r in runs if r.drift_speed == speed], config.sharpe_floor)
        rows.append({"drift_speed": speed, **summary})
    middle = sum(TARGET_LOSS_PCT) / 2
    usable = [r for r in rows if r["mean_loss_pct"] is not None]
    best = min(usable, key=lambda r: abs(r["mean_loss_pct"] - middle)) if usable else None
    return {
        "target_pct": list(TARGET_LOSS_PCT),
        "horizon": config.horizon_days,
        "sharpe_window": config.sharpe_window,
        "execution": config.update.execution,
        "cost_bps": config.update.cost_bps,
        "seeds": list(seeds),
        "noise_paths": noise_paths,
        "chosen": None if best is None else best["drift_speed"],
        "crossing": _crossing(rows, middle),
        "speeds": rows,
        "runs": [asdict(r) for r in runs],
    }


def _run(
    jobs: list[tuple[str, int, float]],
    config: BacktestConfig,
    noise_paths: int,
    workers: int,
    progress: CalibrationProgress | None,
    options: dict[str, Any],
) -> list[ExpectedSharpe]:
    def label(job: tuple[str, int, float]) -> str:
        return f"{job[0]}/{job[1]} @ {job[2]}"

    if workers <= 1 or len(jobs) <= 1:
        out = []
        for i, (env, seed, speed) in enumerate(jobs):
            out.append(
                expected_static_sharpe(
                    env, seed, config, drift_speed=speed, noise_paths=noise_paths, **options
                )
            )
            if progress:
                progress(i + 1, len(jobs), label((env, seed, speed)))
        return out
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = {
            pool.submit(
                expected_static_sharpe,
                env,
                seed,
                config,
                drift_speed=speed,
                noise_paths=noise_paths,
                **options,
            ): label((env, seed, speed))
            for env, seed, speed in jobs
        }
        pending, done = set(futures), 0
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                done += 1
                if progress:
                    progress(done, len(jobs), futures[future])
        return [f.result() for f in futures]
