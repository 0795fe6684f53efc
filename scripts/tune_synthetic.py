import json

import numpy as np

from online_learning.backtest.config import BacktestConfig
from online_learning.backtest.runner import run_suite, synthetic_specs
from online_learning.stats import sharpe_ratio
from online_learning.update.config import UpdateSettings


def main():
    seeds = [100, 101]  # tuning seeds, disjoint from the reporting seeds 0-19
    rows = []
    for lr, lam in [(1e-3, 1.0), (1e-2, 1.0), (1e-3, 10.0)]:
        config = BacktestConfig(
            policies=("static", "ewc"),
            horizons=(30, 90),
            update_every=2,
            update=UpdateSettings(learning_rate=lr, ewc_lambda=lam),
        )
        suite = run_suite(synthetic_specs(drift_speed=0.004), seeds, config, workers=2)
        diffs = {}
        for env in ("bull", "bear", "sideways"):
            runs = [r for r in suite.runs if r.environment == env]
            diffs[env] = float(
                np.mean(
                    [
                        sharpe_ratio(r.returns["ewc"]) - sharpe_ratio(r.returns["static"])
                        for r in runs
                    ]
                )
            )
        row = {
            "lr": lr,
            "lambda": lam,
            "ewc_minus_static": diffs,
            "mean": float(np.mean(list(diffs.values()))),
        }
        print(row, flush=True)
        rows.append(row)
    with open("results/tuning.json", "w") as out:
        json.dump(rows, out, indent=1)


if __name__ == "__main__":
    main()
