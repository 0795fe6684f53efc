"""The integration's five success metrics for each policy of a backtest run.

The live metrics (:mod:`online_learning.success`) read the trade ledger, the drift and update
histories and the champions a replica serves; a replay records the same things per policy
(:class:`~online_learning.backtest.harness.RunResult`), so the definitions carry over, with
the differences written in ``docs/backtest.md`` ("Success metrics per policy"). Days are
indices of the evaluation days (0: the deployment day); each day's position is decided at its
close and filled at the next session.

1. **Freshness** (:func:`model_ages`): the age of a model on a day is the trading days from the
   last day its champion trained on (the version's ``train_end`` tag) to that day; per model,
   the mean over the days it traded; the policy's figure is the mean over its models.
2. **Adaptation speed** and 4. **learning efficiency**
   (:mod:`online_learning.backtest.episodes`): per known regime change (synthetic
   environments only), the first drift detection and promotion after it, and the days until
   the policy's rolling mean daily return is back at its pre-change level. A version promoted
   at the close of day ``t`` makes that close's prediction, filled at the next session: the
   serving delay is one session by construction (none at the research-only ``same-close``).
3. **Online vs batch** (:func:`online_vs_batch`): the policy's served ``p_up`` ("online":
   here the maintained champion, there is no River session in a replay) against the
   ``static`` policy's ("batch") on the same rows, scored by
   :func:`~online_learning.success.scores.component_scores`.
5. **Business impact** (:mod:`online_learning.backtest.impact`): an agent's momentum rule
   blended with the policy's prediction as the client SDK's ``SignalCombiner`` does, against
   the rule alone, both priced by the replay's execution rule and costs; the interval is
   :func:`~online_learning.success.scores.business_impact`'s block bootstrap over days.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from online_learning.backtest.config import DRIFT_POLICIES, BacktestConfig
from online_learning.backtest.episodes import change_episodes
from online_learning.backtest.harness import RunResult
from online_learning.backtest.impact import RULE_FEATURE, day_impact, impact_books
from online_learning.backtest.metrics import t_interval
from online_learning.metrics_store.ledger_records import Component, LedgerTrade
from online_learning.success.scores import ALL_SYMBOLS, component_scores

__all__ = ["BATCH_POLICY", "model_ages", "online_vs_batch", "success_summary"]

#: The policy whose champion is the "batch" view of online vs batch.
BATCH_POLICY = "static"


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def model_ages(run: RunResult, policy: str) -> dict[str, float]:
    """Each model's mean age over the days it traded (trading days since its champion's
    ``train_end``); a model that never traded, or whose versions do not say, is left out.

    Examples
    --------
    >>> import pandas as pd
    >>> days = list(pd.bdate_range("2024-01-01", periods=3).date)
    >>> run = RunResult("demo", "synthetic", 0, days, {}, np.array([]),
    ...     traded_rows=pd.DataFrame({"day": [0, 1, 2], "symbol": "A", "realised": 0.0}),
    ...     served_by={"static": np.array(["m", "m", None])},
    ...     model_age={"static": {"m": np.array([5.0, 6.0, 7.0])}})
    >>> model_ages(run, "static")  # day 2 had no model serving
    {'m': 5.5}
    """
    served = run.served_by.get(policy)
    if served is None or run.traded_rows is None:
        return {}
    day = run.traded_rows["day"].to_numpy()
    out = {}
    for model_id, ages in run.model_age.get(policy, {}).items():
        traded = np.unique(day[served == model_id])
        values = ages[traded]
        values = values[np.isfinite(values)]
        if values.size:
            out[model_id] = float(values.mean())
    return out


def online_vs_batch(run: RunResult, policy: str, *, batch: str = BATCH_POLICY) -> dict | None:
    """Hit rate, log-loss and P&L (gross, summed over the rows) of ``policy``'s served
    ``p_up`` (``online``) and ``batch``'s (``batch``) on the rows both served, by
    :func:`~online_learning.success.scores.component_scores` over all symbols; None for
    ``batch`` itself or when the run did not replay it.

    Examples
    --------
    >>> import pandas as pd
    >>> days = list(pd.bdate_range("2024-01-01", periods=2).date)
    >>> run = RunResult("demo", "data", 0, days, {}, np.array([]),
    ...     traded_rows=pd.DataFrame({"day": [0, 1], "symbol": "A", "realised": [0.01, -0.02]}),
    ...     p_up={"static": np.array([0.8, 0.6]), "ewc": np.array([0.4, 0.3])},
    ...     served_by={"static": np.array(["m", "m"]), "ewc": np.array(["m", "m"])})
    >>> scores = online_vs_batch(run, "ewc")
    >>> scores["online"].hit_rate, scores["batch"].hit_rate, round(scores["online"].pnl, 4)
    (0.5, 0.5, 0.006)
    """
    if policy == batch or batch not in run.p_up or policy not in run.p_up:
        return None
    rows = run.traded_rows
    mine, theirs = run.p_up[policy], run.p_up[batch]
    symbols, day = rows["symbol"].astype(str).to_numpy(), rows["day"].to_numpy()
    realised = rows["realised"].to_numpy(dtype=np.float64)
    trades = [
        LedgerTrade(
            f"r{j}",
            symbols[j],
            run.served_by[policy][j],
            _at(run.days[day[j]]),
            float(realised[j]),
            float((2.0 * mine[j] - 1.0) * realised[j]),
            p_up=float(mine[j]),
            components={
                policy: Component("online", float(mine[j]), 1.0),
                batch: Component("batch", float(theirs[j]), 0.0),
            },
        )
        for j in np.flatnonzero(np.isfinite(mine) & np.isfinite(theirs))
    ]
    return {s.kind: s for s in component_scores(trades) if s.symbol == ALL_SYMBOLS} or None


def _estimate(values) -> dict[str, Any]:
    return t_interval(v for v in values if v is not None).to_dict()


def _adaptation(runs: Sequence[RunResult], policy: str, config: BacktestConfig):
    found = [change_episodes(r, policy, window=config.recovery_window) for r in runs]
    if any(e is None for e in found):
        note = "unknown: the environment's regime changes are not known"
        return {"changes": "unknown", "note": note}, {"changes": "unknown", "note": note}
    episodes = [e for run_episodes in found for e in run_episodes]
    detected = [e for e in episodes if e.detection == "detected"]
    adaptation = {
        "changes": "known",
        "episodes": len(episodes),
        "detection": "applies" if policy in DRIFT_POLICIES else "not_applicable",
        "detected": len(detected),
        "change_to_detection_days": _estimate(e.change_to_detection_days for e in detected),
        "detection_to_promotion_days": _estimate(e.detection_to_promotion_days for e in detected),
        "change_to_promotion_days": _estimate(e.change_to_promotion_days for e in episodes),
        "promoted": sum(e.change_to_promotion_days is not None for e in episodes),
        # The promoted version makes the prediction of the close it is promoted at.
        "serving_delay_sessions": 0 if config.update.execution == "same-close" else 1,
    }
    efficiency = {
        "changes": "known",
        "window_days": config.recovery_window,
        "episodes": len(episodes),
        "anchors": {
            a: sum(e.recovery_anchor == a for e in episodes) for a in ("detection", "change")
        },
        "pre_change_level": _estimate(e.pre_change_level for e in episodes),
        "days_to_recover": _estimate(e.days_to_recover for e in episodes),
        "recovered": sum(e.days_to_recover is not None for e in episodes),
    }
    return adaptation, efficiency


def _online_vs_batch(runs: Sequence[RunResult], policy: str) -> dict[str, Any] | None:
    scores = [online_vs_batch(r, policy) for r in runs]
    scores = [s for s in scores if s is not None]
    if not scores:
        return None
    out: dict[str, Any] = {
        "batch": BATCH_POLICY,
        "rows": _estimate(s["online"].n_trades for s in scores),
    }
    for name in ("hit_rate", "log_loss", "pnl"):
        online = [getattr(s["online"], name) for s in scores]
        batch = [getattr(s["batch"], name) for s in scores]
        out[name] = {
            "online": _estimate(online),
            "batch": _estimate(batch),
            "difference": _estimate(a - b for a, b in zip(online, batch, strict=True)),
        }
    return out


def _business_impact(runs: Sequence[RunResult], policy: str, config: BacktestConfig):
    if any(r.traded_rows is None for r in runs):  # a run that did not record its rows
        return None
    books = [impact_books(r, policy, cost_bps=config.update.cost_bps) for r in runs]
    per_seed = [
        day_impact(r.days, b, s, model_id=policy) for r, (b, s) in zip(runs, books, strict=True)
    ]
    # One price path: the interval over days of the seed-mean books, as ``sharpe_days``.
    pooled = day_impact(
        runs[0].days,
        np.mean([b for b, _ in books], axis=0),
        np.mean([s for _, s in books], axis=0),
        model_id=policy,
    )
    return {
        "rule": f"clip({RULE_FEATURE}, -1, 1)",
        "blended_pnl": _estimate(i.blended_pnl for i in per_seed),
        "rules_pnl": _estimate(i.rules_pnl for i in per_seed),
        "ml_added_pnl": _estimate(i.ml_added_pnl for i in per_seed),
        "ml_added_days": {
            "pnl": pooled.ml_added_pnl,
            "low": pooled.ml_added_low,
            "high": pooled.ml_added_high,
            "days": pooled.n_trades,
            "confidence": pooled.confidence,
        },
    }


def success_summary(runs: Sequence[RunResult], config: BacktestConfig) -> dict[str, Any]:
    """The five success metrics of each policy over the seeds ``runs`` of one environment
    (the ``success`` object of each policy in ``results.json``): means over seeds with
    t-intervals, counts of episodes, and the business impact's interval over days.

    Examples
    --------
    >>> from online_learning.backtest.environments import synthetic_environment
    >>> from online_learning.backtest.harness import run_backtest
    >>> config = BacktestConfig(policies=("static",), horizons=(30,), bootstrap_epochs=2)
    >>> env = synthetic_environment("bull", 0, config, bootstrap_days=60, switch_days=10,
    ...                             return_days=10, n_symbols=2)
    >>> success = success_summary([run_backtest(env, 0, config)], config)["static"]
    >>> success["adaptation"]["episodes"], success["adaptation"]["detection"]
    (1, 'not_applicable')
    >>> success["online_vs_batch"] is None, success["learning_efficiency"]["recovered"]
    (True, 0)
    """
    out = {}
    for policy in runs[0].returns:
        by_model: dict[str, list[float]] = {}
        means = []
        for run in runs:
            ages = model_ages(run, policy)
            for model_id, age in ages.items():
                by_model.setdefault(model_id, []).append(age)
            means.append(float(np.mean(list(ages.values()))) if ages else None)
        adaptation, efficiency = _adaptation(runs, policy, config)
        out[policy] = {
            "freshness": {
                "mean_age_days": _estimate(means),
                "by_model": {m: _estimate(v) for m, v in sorted(by_model.items())},
            },
            "adaptation": adaptation,
            "online_vs_batch": _online_vs_batch(runs, policy),
            "learning_efficiency": efficiency,
            "business_impact": _business_impact(runs, policy, config),
        }
    return out
