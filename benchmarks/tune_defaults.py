"""Tune an update's learning rate and EWC lambda, and the challenger period, on tuning data.

Each combination of ``--learning-rates`` and ``--lambdas`` runs the walk-forward backtest of
``static``, ``finetune`` (lambda 0), ``ewc`` and ``ewc_challenger`` on **tuning data only**,
disjoint from what the README's Results report:

- the realistic synthetic market on **tuning seeds 100-102** (Results report seeds 0-7);
- the S&P 500 index **2012-2014** (Results report 2017-2018), three training seeds.

For each combination and policy it writes the mean Sharpe over the horizon (synthetic: mean of
the three regimes' seed means; S&P: the three seeds' mean), its difference to ``static`` on
the same runs, turnover and the share of updates promoted, to ``--output/tuning.json`` and a
table. The 20 stocks are left out: one of their backtests takes about 20 minutes here.

Usage: ``python -m benchmarks.tune_defaults [--learning-rates 1e-4,1e-3,3e-3]
[--lambdas 1,10,100] [--workers 2] [--output results/tuning]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from datetime import date
from pathlib import Path

POLICIES = ("static", "finetune", "ewc", "ewc_challenger")
SYNTHETIC_SEEDS = (100, 101, 102)
SP500_TUNING = (date(2012, 1, 3), date(2014, 12, 31))
DATA_SEEDS = (0, 1, 2)


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def run_combination(learning_rate: float, ewc_lambda: float, workers: int) -> dict[str, object]:
    """The tuning backtests of one combination; per environment group and policy, a summary."""
    from online_learning.backtest.config import BacktestConfig
    from online_learning.backtest.runner import EnvironmentSpec, run_suite, synthetic_specs
    from online_learning.update.config import UpdateSettings

    settings = UpdateSettings().replace(learning_rate=learning_rate, ewc_lambda=ewc_lambda)
    config = BacktestConfig(policies=POLICIES, update_every=5, update=settings, horizons=(30, 90))
    groups = {
        "synthetic": (synthetic_specs(), list(SYNTHETIC_SEEDS)),
        "sp500": (
            [EnvironmentSpec("sp500", data="sp500", start=SP500_TUNING[0], end=SP500_TUNING[1])],
            list(DATA_SEEDS),
        ),
    }
    out: dict[str, object] = {}
    for group, (specs, seeds) in groups.items():
        suite = run_suite(specs, seeds, config, workers=workers)
        environments = suite.results["environments"]
        summary = {}
        for policy in POLICIES:
            rows = [env["policies"][policy] for env in environments.values()]
            summary[policy] = {
                "sharpe": _mean([r["sharpe_horizon"]["mean"] for r in rows]),
                "turnover": _mean([r["turnover"]["mean"] for r in rows]),
                "promoted_share": _mean([_promoted(r) for r in rows]),
                "forgetting": _mean([_forgetting(r) for r in rows]),
            }
        static = summary["static"]["sharpe"]
        for policy in POLICIES:
            summary[policy]["vs_static"] = summary[policy]["sharpe"] - static
        out[group] = summary
    return out


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _promoted(row: dict) -> float | None:
    outcomes = row.get("outcomes") or {}
    decided = {k: v for k, v in outcomes.items() if not k.startswith("deferred:")}
    total = sum(decided.values())
    promoted = sum(v for k, v in decided.items() if k.startswith("promoted:"))
    return promoted / total if total else None


def _forgetting(row: dict) -> float | None:
    forgetting = row.get("forgetting")
    if not forgetting:
        return None
    # The Sharpe lost on the return of regime A by the model that went through regime B.
    return (forgetting.get("sharpe_lost") or {}).get("mean")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learning-rates", default="1e-4,1e-3,3e-3")
    parser.add_argument("--lambdas", default="1,10,100")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path, default=Path("results/tuning"))
    args = parser.parse_args(argv)
    rates, lambdas = _floats(args.learning_rates), _floats(args.lambdas)
    if not rates or not lambdas or min(rates) <= 0 or min(lambdas) < 0:
        parser.error("learning rates must be > 0 and lambdas >= 0")
    args.output.mkdir(parents=True, exist_ok=True)
    results = []
    began = time.perf_counter()
    for k, (rate, lam) in enumerate(itertools.product(rates, lambdas), start=1):
        print(f"[{k}/{len(rates) * len(lambdas)}] learning rate {rate:g}, lambda {lam:g} "
              f"({time.perf_counter() - began:.0f} s)", flush=True)  # fmt: skip
        results.append({"learning_rate": rate, "ewc_lambda": lam,
                        **run_combination(rate, lam, args.workers)})  # fmt: skip
        (args.output / "tuning.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    return 0


def print_table(results: list[dict]) -> None:
    print("\nSharpe over the horizon minus static's (synthetic seeds 100-102 | S&P 2012-2014);")
    print("turnover a day; share of decided updates promoted")
    print("lr       lambda  policy          synthetic  S&P     turnover  promoted")
    for row in results:
        for policy in POLICIES[1:]:
            syn, spx = row["synthetic"][policy], row["sp500"][policy]
            promoted = _mean([syn["promoted_share"], spx["promoted_share"]])
            print(
                f"{row['learning_rate']:<8g} {row['ewc_lambda']:<7g} {policy:<15} "
                f"{syn['vs_static']:+9.2f} {spx['vs_static']:+7.2f} "
                f"{_mean([syn['turnover'], spx['turnover']]):9.3f} "
                f"{'-' if promoted is None else f'{promoted:.0%}':>8}"
            )


if __name__ == "__main__":
    if not __package__:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
