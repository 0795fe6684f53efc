import json
from datetime import date

from online_learning.backtest.config import BacktestConfig
from online_learning.backtest.runner import EnvironmentSpec, run_suite
from online_learning.stats import sharpe_ratio
from online_learning.update.config import UpdateSettings


def main():
    rows = []
    for data, start, end in [
        ("sp500", date(2010, 1, 1), date(2016, 12, 31)),
        ("sp500-stocks", date(2016, 1, 1), date(2016, 12, 31)),
    ]:
        for lr, lam, every in [(1e-2, 1.0, 5), (1e-3, 1.0, 5), (1e-4, 1.0, 5)]:
            config = BacktestConfig(
                policies=("static", "ewc"),
                horizons=(30, 90),
                update_every=every,
                update=UpdateSettings(learning_rate=lr, ewc_lambda=lam),
            )
            suite = run_suite(
                [EnvironmentSpec(data, data=data, start=start, end=end)], [100], config, workers=1
            )
            r = suite.runs[0]
            e = suite.results["environments"][data]["policies"]["ewc"]
            row = {
                "data": data,
                "lr": lr,
                "lambda": lam,
                "static": sharpe_ratio(r.returns["static"]),
                "ewc": sharpe_ratio(r.returns["ewc"]),
                "rollback_rate": e["rollback_rate"]["mean"],
                "reasons": e["rollback_reasons"],
            }
            print(row, flush=True)
            rows.append(row)
    with open("results/tuning_real.json", "w") as out:
        json.dump(rows, out, indent=1)


if __name__ == "__main__":
    main()
