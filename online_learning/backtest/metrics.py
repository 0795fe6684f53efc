"""Metrics of a backtest, per policy and environment, with 95 % confidence intervals over seeds.

Every definition is written out in ``docs/backtest.md``; in short, with ``r_p(t)`` policy
``p``'s daily portfolio return on evaluation day ``t`` (``t = 1`` is the deployment day):

* ``S_p(h)``: annualised Sharpe of ``r_p`` over the trailing ``W`` days ``(h - W, h]``;
* deployment Sharpe ``S_dep``: the deployed (bootstrap) models' Sharpe on the holdout days;
* degradation at ``h``: ``S_dep - S_p(h)`` (vs deployment) and ``S_retrain(h) - S_p(h)``
  (vs the ``retrain`` reference on the same days); positive means worse. The relative form
  divides the mean difference over seeds by the mean reference, only when that reference is
  at least ``sharpe_floor``;
* forgetting: the end-of-A and end-of-B models, frozen, scored on the return to regime A.

Per-seed numbers are averaged; the interval is Student's t over seeds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from online_learning.backtest.config import BacktestConfig
from online_learning.backtest.harness import RunResult
from online_learning.numbers import finite_or_none
from online_learning.stats import (
    TRADING_DAYS,
    block_bootstrap_indices,
    rolling_sharpe,
    sharpe_ratio,
)

__all__ = [
    "Estimate",
    "environment_summary",
    "fault_summary",
    "relative",
    "t_interval",
    "timeline",
]


@dataclass(frozen=True)
class Estimate:
    """Mean over seeds with its 95 % t-interval (``low``/``high`` are None for one seed)."""

    mean: float | None
    low: float | None
    high: float | None
    n: int

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def t_interval(values: Iterable[float], confidence: float = 0.95) -> Estimate:
    """Mean and Student-t confidence interval of finite ``values`` (NaNs are dropped).

    Examples
    --------
    >>> t_interval([1.0, 2.0, 3.0])
    Estimate(mean=2.0, low=-0.48..., high=4.48..., n=3)
    >>> t_interval([5.0]).low is None
    True
    """
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = int(data.size)
    if n == 0:
        return Estimate(None, None, None, 0)
    mean = float(data.mean())
    if n < 2:
        return Estimate(mean, None, None, n)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * data.std(ddof=1) / math.sqrt(n))
    return Estimate(mean, mean - half, mean + half, n)


def relative(difference: Estimate, reference: float | None, floor: float) -> Estimate | None:
    """``100 * difference / reference`` (an interval scaled alike), or None below ``floor``.

    A percentage of a reference Sharpe near zero or negative says nothing, so it is not
    reported; the difference in Sharpe units always is.

    Examples
    --------
    >>> relative(Estimate(1.0, 0.5, 1.5, 20), 4.0, 0.5)
    Estimate(mean=25.0, low=12.5, high=37.5, n=20)
    >>> relative(Estimate(1.0, 0.5, 1.5, 20), -2.0, 0.5) is None
    True
    """
    if reference is None or difference.mean is None or not reference >= floor:
        return None
    scale = 100.0 / reference
    low = None if difference.low is None else difference.low * scale
    high = None if difference.high is None else difference.high * scale
    return Estimate(difference.mean * scale, low, high, difference.n)


def stationary_bootstrap(
    returns: np.ndarray,
    *,
    mean_block: float = 10.0,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Sharpe ratio of one return path with a stationary block bootstrap interval over days.

    Politis and Romano's stationary bootstrap resamples blocks of consecutive days of random
    length (geometric, mean ``mean_block``) so that the interval keeps the returns' serial
    dependence. It is the honest interval for one price path: training seeds vary the model,
    not the market's luck. ``n`` is the number of days.

    Examples
    --------
    >>> r = np.random.default_rng(0).normal(0.0005, 0.01, 500)
    >>> e = stationary_bootstrap(r)
    >>> e.low < e.mean < e.high, round(e.high - e.low, 1)
    (True, 2.6)
    """
    values = np.asarray(returns, dtype=np.float64)
    values = values[np.isfinite(values)]
    n = values.size
    if n < 10:
        return Estimate(sharpe_ratio(values) if n >= 2 else None, None, None, n)
    low, high = _interval(
        lambda i: sharpe_ratio(values[i]), n, mean_block, n_boot, confidence, seed
    )
    return Estimate(sharpe_ratio(values), low, high, n)


def paired_bootstrap_difference(
    returns: np.ndarray,
    reference: np.ndarray,
    *,
    mean_block: float = 10.0,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """``Sharpe(returns) - Sharpe(reference)`` on the same days, with a stationary block
    bootstrap interval that resamples the *same* blocks of days for both (paired): the market's
    luck, which both books share, cancels out of the interval.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> market = rng.normal(0.0, 0.01, 500)
    >>> e = paired_bootstrap_difference(market + 0.0002, market)
    >>> e.low > 0, round(e.mean, 2)
    (True, 0.31)
    """
    a = np.asarray(returns, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError("both return series must cover the same days")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = a.size
    point = sharpe_ratio(a) - sharpe_ratio(b) if n >= 2 else None
    if n < 10:
        return Estimate(point, None, None, n)
    low, high = _interval(
        lambda i: sharpe_ratio(a[i]) - sharpe_ratio(b[i]), n, mean_block, n_boot, confidence, seed
    )
    return Estimate(point, low, high, n)


def _interval(statistic, n: int, mean_block: float, n_boot: int, confidence: float, seed: int):
    """The ``confidence`` interval of ``statistic(index)`` over stationary-bootstrap paths."""
    samples = [statistic(i) for i in block_bootstrap_indices(n, mean_block=mean_block,
                                                             n_boot=n_boot, seed=seed)]  # fmt: skip
    low, high = np.nanquantile(samples, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def _degradation(
    runs: Sequence[RunResult], policy: str, config: BacktestConfig
) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    floor = config.sharpe_floor
    for h in config.horizons:
        own = [rolling_sharpe(r.returns[policy], config.sharpe_window)[h - 1] for r in runs]
        dep = [r.deployment_sharpe for r in runs]
        entry: dict[str, object] = {"sharpe": t_interval(own).to_dict()}
        diff = t_interval([d - s for d, s in zip(dep, own, strict=True)])
        ref = t_interval(dep).mean
        entry["vs_deployment"] = _versus(diff, ref, floor)
        if "retrain" in runs[0].returns:
            base = [rolling_sharpe(r.returns["retrain"], config.sharpe_window)[h - 1] for r in runs]
            diff = t_interval([b - s for b, s in zip(base, own, strict=True)])
            entry["vs_retrain"] = _versus(diff, t_interval(base).mean, floor)
        out[str(h)] = entry
    return out


def _versus(difference: Estimate, reference: float | None, floor: float) -> dict[str, object]:
    rel = relative(difference, reference, floor)
    return {
        "reference_sharpe": finite_or_none(reference),
        "sharpe_difference": difference.to_dict(),
        "relative_pct": None if rel is None else rel.to_dict(),
        "relative_note": None
        if rel is not None
        else f"reference Sharpe below {floor}: no percentage, see sharpe_difference",
    }


def _forgetting(runs: Sequence[RunResult], policy: str, floor: float) -> dict[str, object] | None:
    pairs = [r.forgetting[policy] for r in runs if policy in r.forgetting]
    if not pairs:
        return None
    at_a = [sharpe_ratio(p["a"]) for p in pairs]
    at_b = [sharpe_ratio(p["b"]) for p in pairs]
    before = t_interval(at_a)
    lost = t_interval([a - b for a, b in zip(at_a, at_b, strict=True)])
    forgotten = relative(lost, before.mean, floor)
    kept = None
    if forgotten is not None:
        kept = Estimate(
            100.0 - forgotten.mean,
            None if forgotten.high is None else 100.0 - forgotten.high,
            None if forgotten.low is None else 100.0 - forgotten.low,
            forgotten.n,
        ).to_dict()
    return {
        "sharpe_end_of_a_model": before.to_dict(),
        "sharpe_end_of_b_model": t_interval(at_b).to_dict(),
        "sharpe_lost": lost.to_dict(),
        "forgetting_pct": None if forgotten is None else forgotten.to_dict(),
        "retention_pct": kept,
    }


def _per_run_counts(runs: Sequence[RunResult], policy: str) -> dict[str, object]:
    updates, rollbacks, retrains, reasons, waited = [], [], [], Counter(), []
    outcomes: Counter[str] = Counter()
    update_time, retrain_time, detections, adaptations = [], [], [], []
    for run in runs:
        mine = [u for u in run.updates if u.policy == policy and u.fault is None]
        outcomes.update(f"{u.decision}:{u.reason}" for u in mine if u.kind != "retrain")
        waited.append(sum(not u.decided for u in mine))
        # A deferred update (it waited for new validation days, or they held too few rows to
        # judge) decided nothing.
        incremental = [u for u in mine if u.kind != "retrain" and u.decided]
        updates.append(len(incremental))
        rolled = [u for u in incremental if u.decision == "rolled_back"]
        rollbacks.append(len(rolled))
        reasons.update(u.reason for u in rolled)
        retrains.append(sum(u.kind == "retrain" and u.decision == "promoted" for u in mine))
        update_time += [u.duration_s for u in incremental]
        retrain_time += [u.duration_s for u in mine if u.kind == "retrain"]
        drifts = [d for d in run.drifts if d.policy == policy]
        detections.append(len(drifts))
        adaptations.append(sum(d.adapted for d in drifts))
    rate = [b / u for b, u in zip(rollbacks, updates, strict=True) if u]
    return {
        "updates": t_interval(updates).to_dict(),
        "rollbacks": t_interval(rollbacks).to_dict(),
        "rollback_rate": t_interval(rate).to_dict(),
        "rollback_reasons": dict(sorted(reasons.items())),
        # Every clean update's decision and reason, summed over runs (a challenger policy's
        # named, pending, promoted and retired challengers among them).
        "outcomes": dict(sorted(outcomes.items())),
        "deferred": t_interval(waited).to_dict(),
        "retrains": t_interval(retrains).to_dict(),
        "drift_detections": t_interval(detections).to_dict(),
        "drift_adaptations": t_interval(adaptations).to_dict(),
        "update_seconds": t_interval(update_time).to_dict(),
        "retrain_seconds": t_interval(retrain_time).to_dict(),
    }


def environment_summary(runs: Sequence[RunResult], config: BacktestConfig) -> dict[str, object]:
    """The metrics of one environment over its seeds (the ``environments.<name>`` object)."""
    first = runs[0]
    policies: dict[str, object] = {}
    for policy in first.returns:
        series = [r.returns[policy] for r in runs]
        entry: dict[str, object] = {
            "sharpe_horizon": t_interval(sharpe_ratio(x) for x in series).to_dict(),
            # One price path: the interval over days (block bootstrap) of the seed-mean book.
            "sharpe_days": stationary_bootstrap(np.mean(series, axis=0)).to_dict(),
            # ... and its difference to static's on the same days (paired blocks).
            "sharpe_vs_static_days": (
                paired_bootstrap_difference(
                    np.mean(series, axis=0), np.mean([r.returns["static"] for r in runs], axis=0)
                ).to_dict()
                if "static" in first.returns and policy != "static"
                else None
            ),
            "cross_section": _cross_section(runs, policy),
            "degradation": _degradation(runs, policy, config),
            # Mean daily one-way turnover of the book, and the costs in annualised return.
            "turnover": t_interval(_mean(r.turnover, policy) for r in runs).to_dict(),
            "cost_per_year": t_interval(
                TRADING_DAYS * _mean(r.costs, policy) for r in runs
            ).to_dict(),
        }
        if first.phase_b_start is not None:
            b = first.phase_b_start
            tail = min(21, len(first.days) - b)
            entry["sharpe_phase_a"] = t_interval(sharpe_ratio(x[:b]) for x in series).to_dict()
            entry["sharpe_phase_b"] = t_interval(sharpe_ratio(x[b:]) for x in series).to_dict()
            entry["sharpe_phase_b_last_21"] = t_interval(
                sharpe_ratio(x[-tail:]) for x in series
            ).to_dict()
        entry["forgetting"] = _forgetting(runs, policy, config.sharpe_floor)
        entry.update(_per_run_counts(runs, policy))
        policies[policy] = entry
    return {
        "kind": first.kind,
        "description": first.description,
        "seeds": sorted(r.seed for r in runs),
        "evaluation_days": len(first.days),
        "start": first.days[0].isoformat(),
        "end": first.days[-1].isoformat(),
        "phase_b_start_day": first.phase_b_start,
        "deployment_sharpe": t_interval(r.deployment_sharpe for r in runs).to_dict(),
        "wall_seconds_per_seed": t_interval(r.wall_s for r in runs).to_dict(),
        "policies": policies,
    }


def timeline(runs: Sequence[RunResult], config: BacktestConfig) -> pd.DataFrame:
    """Per day and policy: mean rolling Sharpe and degradation vs deployment, with intervals.

    Long format: ``environment, policy, day, date, metric, mean, low, high`` where ``metric``
    is ``rolling_sharpe``, ``degradation_vs_deployment_pct`` or ``degradation_vs_retrain``
    (a Sharpe difference; positive means worse than ``retrain``).
    """
    first = runs[0]
    dep = t_interval(r.deployment_sharpe for r in runs).mean
    rows = []
    rolling = {
        p: np.array([rolling_sharpe(r.returns[p], config.sharpe_window) for r in runs])
        for p in first.returns
    }
    for policy, values in rolling.items():
        for day in range(config.sharpe_window - 1, len(first.days)):
            column = values[:, day]
            metrics = {"rolling_sharpe": t_interval(column)}
            diff = t_interval([r.deployment_sharpe for r in runs] - column)
            rel = relative(diff, dep, config.sharpe_floor)
            if rel is not None:
                metrics["degradation_vs_deployment_pct"] = rel
            if "retrain" in rolling:
                metrics["degradation_vs_retrain"] = t_interval(rolling["retrain"][:, day] - column)
            for metric, estimate in metrics.items():
                cells = (estimate.mean, estimate.low, estimate.high)
                cells = tuple(np.nan if v is None else v for v in cells)
                when = first.days[day].isoformat()
                rows.append((first.environment, policy, day + 1, when, metric, *cells))
    columns = ["environment", "policy", "day", "date", "metric", "mean", "low", "high"]
    return pd.DataFrame(rows, columns=columns)


def fault_summary(runs: Sequence[RunResult]) -> dict[str, object]:
    """Poisoned updates per policy and kind: how many ran, how many reached ``champion``."""
    table: dict[str, dict[str, dict[str, object]]] = {}
    for run in runs:
        for u in run.updates:
            if u.fault is None or not u.decided:
                continue
            cell = table.setdefault(u.policy, {}).setdefault(
                u.fault, {"poisoned": 0, "reached_champion": 0, "reasons": Counter()}
            )
            cell["poisoned"] += 1
            cell["reached_champion"] += u.decision == "promoted"
            cell["reasons"][u.reason] += 1
    total = sum(c["poisoned"] for p in table.values() for c in p.values())
    promoted = sum(c["reached_champion"] for p in table.values() for c in p.values())
    for kinds in table.values():
        for cell in kinds.values():
            cell["reasons"] = dict(sorted(cell["reasons"].items()))
    return {
        "environments": sorted({r.environment for r in runs}),
        "seeds": sorted({r.seed for r in runs}),
        "poisoned_updates": total,
        "reached_champion": promoted,
        "by_policy": table,
    }


def _mean(series: dict[str, np.ndarray], policy: str) -> float:
    """Mean of a policy's daily series; NaN for a run that did not record it."""
    values = series.get(policy)
    return float(np.mean(values)) if values is not None and len(values) else math.nan


def _cross_section(runs: Sequence[RunResult], policy: str) -> dict[str, object] | None:
    """Sharpe ratio of each symbol's net returns (seed-mean), with a t-interval over symbols."""
    books = [r.symbol_returns.get(policy) for r in runs]
    if not books or any(b is None for b in books) or len(books[0]) < 3:
        return None
    sharpe = {s: sharpe_ratio(np.mean([b[s] for b in books], axis=0)) for s in books[0]}
    return {
        "sharpe_over_symbols": t_interval(sharpe.values()).to_dict(),
        "positive_share": float(np.mean([v > 0 for v in sharpe.values()])),
        "by_symbol": {s: finite_or_none(v) for s, v in sorted(sharpe.items())},
    }
