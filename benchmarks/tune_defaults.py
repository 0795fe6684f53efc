"""Tune an update's learning rate, EWC lambda, epochs and validation days, and the challenger
period, on tuning data.

Each combination of ``--learning-rates``, ``--lambdas``, ``--epochs`` and
``--validation-days`` runs the walk-forward backtest of
``static``, ``finetune`` (lambda 0), ``ewc`` and ``ewc_challenger`` on **tuning data only**,
disjoint from what the README's Results report:

- the realistic synthetic market on **tuning seeds 100-102** (Results report seeds 0-7);
- the S&P 500 index **2012-2014** (Results report 2017-2018), three training seeds.

For each combination and policy it writes the mean Sharpe over the horizon (synthetic: mean of
the three regimes' seed means; S&P: the three seeds' mean), its difference to ``static`` on
the same runs, turnover and the share of updates promoted, to ``--output/tuning.json`` and a
table. The 20 stocks are left out: one of their backtests takes about 20 minutes here.

Usage: ``python -m benchmarks.tune_defaults [--learning-rates 1e-4,1e-3,3e-3]
[--lambdas 1,10,100] [--epochs 5] [--validation-days 10] [--workers 2]
[--output results/tuning]``.
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


def run_combination(
    learning_rate: float, ewc_lambda: float, epochs: int, validation_days: int, workers: int
) -> dict[str, object]:
    """The tuning backtests of one combination; per environment group and policy, a summary."""
    from online_learning.backtest.config import BacktestConfig
    from online_learning.backtest.runner import EnvironmentSpec, run_suite, synthetic_specs
    from online_learning.update.config import UpdateSettings

    settings = UpdateSettings().replace(
        learning_rate=learning_rate,
        ewc_lambda=ewc_lambda,
        epochs=epochs,
        validation_days=validation_days,
        min_validation_days=min(5, validation_days),
    )
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
    parser.add_argument("--epochs", default="5")
    parser.add_argument("--validation-days", default="10")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path, default=Path("results/tuning"))
    args = parser.parse_args(argv)
    rates, lambdas = _floats(args.learning_rates), _floats(args.lambdas)
    epochs = [int(v) for v in _floats(args.epochs)]
    validation = [int(v) for v in _floats(args.validation_days)]
    if not rates or not lambdas or min(rates) <= 0 or min(lambdas) < 0:
        parser.error("learning rates must be > 0 and lambdas >= 0")
    if not epochs or min(epochs) < 1 or not validation or min(validation) < 2:
        parser.error("epochs must be >= 1 and validation days >= 2")
    args.output.mkdir(parents=True, exist_ok=True)
    results = []
    began = time.perf_counter()
    grid = list(itertools.product(rates, lambdas, epochs, validation))
    for k, (rate, lam, n_epochs, days) in enumerate(grid, start=1):
        elapsed = time.perf_counter() - began
        print(f"[{k}/{len(grid)}] learning rate {rate:g}, lambda {lam:g}, {n_epochs} epochs, "
              f"{days} validation days ({elapsed:.0f} s)", flush=True)  # fmt: skip
        results.append({"learning_rate": rate, "ewc_lambda": lam, "epochs": n_epochs,
                        "validation_days": days,
                        **run_combination(rate, lam, n_epochs, days, args.workers)})  # fmt: skip
        (args.output / "tuning.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    return 0


def print_table(results: list[dict]) -> None:
    print("\nSharpe over the horizon minus static's (synthetic seeds 100-102 | S&P 2012-2014);")
    print("turnover a day; share of decided updates promoted")
    print("lr       lambda  epochs  val. days  policy          synthetic  S&P     turnover  "
          "promoted")  # fmt: skip
    for row in results:
        for policy in POLICIES[1:]:
            syn, spx = row["synthetic"][policy], row["sp500"][policy]
            promoted = _mean([syn["promoted_share"], spx["promoted_share"]])
            print(
                f"{row['learning_rate']:<8g} {row['ewc_lambda']:<7g} {row.get('epochs', 5):<7} "
                f"{row.get('validation_days', 10):<10} {policy:<15} "
                f"{syn['vs_static']:+9.2f} {spx['vs_static']:+7.2f} "
                f"{_mean([syn['turnover'], spx['turnover']]):9.3f} "
                f"{'-' if promoted is None else f'{promoted:.0%}':>8}"
            )


if __name__ == "__main__":
    if not __package__:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
