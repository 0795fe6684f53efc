"""Does the stability gate's verdict on a clean update predict the days after it?

For clean `ewc` updates with the backtest's settings, each candidate is trained as in
production and the gate's verdict (its paired test on the validation days) is recorded; then
champion and candidate both trade the next 21 trading days (out of sample, at the execution
timing, net of costs) and their Sharpe ratios are compared. The registry keeps a candidate
only where the gate passed, as production does.

    .venv/bin/python scripts/gate_precision.py bull bear sideways --seeds 0 1 2

Prints, per environment, how often the gate rejects and how the rejected and the accepted
candidates then traded against their champion; writes the rows to ``--output`` as CSV.
"""

from __future__ import annotations

import argparse
import dataclasses
from datetime import date
from pathlib import Path

import pandas as pd
import torch
from rich.console import Console
from rich.progress import track

from online_learning.backtest.config import BacktestConfig
from online_learning.backtest.environments import data_environment, synthetic_environment
from online_learning.backtest.harness import bootstrap_registry, daily_returns
from online_learning.stats import sharpe_ratio
from online_learning.update.config import UpdateSettings
from online_learning.update.learner import OnlineLearner

AHEAD = 21


def _environment(name: str, seed: int, config: BacktestConfig):
    if name in ("bull", "bear", "sideways"):
        return synthetic_environment(name, seed, config)
    return data_environment(name, config, start=date(2017, 1, 1), end=date(2018, 12, 31))


def _replay(name: str, seed: int, config: BacktestConfig) -> list[dict[str, object]]:
    env = _environment(name, seed, config)
    registry = bootstrap_registry(env, config, seed)
    learner = OnlineLearner(registry, env.source)
    days = list(env.trading_days)
    schedule = [d for d in days if env.start <= d <= env.end][:: config.update_every]
    rows: list[dict[str, object]] = []
    for i, day in enumerate(track(schedule, description=f"{name}/{seed}")):
        k = days.index(day)
        if k + AHEAD > len(days):
            break
        # Row d earns the return from d to d + 1: none of these rows is in the update's window.
        future = env.rows[env.rows["date"].isin(pd.to_datetime(days[k : k + AHEAD]))]
        for model_id in config.model_ids:
            update = config.update_config(model_id, as_of=day, seed=i, policy="ewc")
            champion = registry.load_champion(model_id).model
            outcome = learner.incremental_update(dataclasses.replace(update, stability_check=False))
            if outcome.decision != "promoted":
                continue  # rejected before the gate (data, divergence): not the gate's call
            candidate = registry.load_champion(model_id).model
            # The production gate's verdict: its one-sided p-value against the confidence.
            passed = not outcome.p_value < 1.0 - update.gate_confidence
            if not passed:
                registry.promote(model_id=model_id, version=outcome.previous_version)
            pricing = {"execution": config.update.execution, "cost_bps": config.update.cost_bps}
            before = daily_returns({model_id: champion}, future, **pricing).per_model
            after = daily_returns({model_id: candidate}, future, **pricing).per_model
            if model_id not in before or len(before[model_id]) < 5:
                continue
            rows.append(
                {
                    "environment": name,
                    "seed": seed,
                    "model_id": model_id,
                    "date": day.isoformat(),
                    "gate_passed": passed,
                    "gate_difference": outcome.sharpe_post - outcome.sharpe_pre,
                    "next_21d_difference": sharpe_ratio(after[model_id].to_numpy())
                    - sharpe_ratio(before[model_id].to_numpy()),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("environments", nargs="+", help="bull, bear, sideways or sp500")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--validation-days", type=int, default=10)
    parser.add_argument("--output", type=Path, default=Path("results/gate_precision.csv"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = BacktestConfig(
        update_every=2, update=UpdateSettings(validation_days=args.validation_days)
    )
    frame = pd.DataFrame(
        [row for name in args.environments for s in args.seeds for row in _replay(name, s, config)]
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.output, index=False)
    console = Console()
    for name, rows in frame.groupby("environment"):
        summary = rows.groupby("gate_passed")["next_21d_difference"].agg(
            updates="count",
            mean="mean",
            median="median",
            share_worse=lambda s: (s < 0).mean(),
        )
        console.print(
            f"[bold]{name}[/]: {len(rows)} clean updates, gate rejected "
            f"{1 - rows['gate_passed'].mean():.0%}; candidate minus champion Sharpe over the "
            f"next {AHEAD} days, by verdict; correlation of the gate's difference with it "
            f"{rows['gate_difference'].corr(rows['next_21d_difference']):.2f}"
        )
        console.print(summary.round(3).to_string())


if __name__ == "__main__":
    main()
