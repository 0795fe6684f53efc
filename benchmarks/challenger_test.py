"""The challenger period's sequential test: false promotions, power and days to a decision.

The pairs are **real**: on each real series the platform's own network is trained (2000-2009
on the S&P 500 index, 1995-2009 on the 20 stocks), updated once with the default settings
(the challenger), and both versions are priced on every later day with the one execution
rule at 5 bps (next open), as a challenger period prices them. The differences of those books
carry the series' serial correlation, fat tails and volatility clustering, and the two books'
correlation.

Simulated periods are drawn from them by a stationary block bootstrap (Politis and Romano
1994; mean block 10 days) of the paired days, so that each period keeps that dependence. The
bootstrapped difference is centred (equal candidates), or shifted by plus or minus one
annualised Sharpe of the champion's book (``sd(champion) / sqrt(252)`` a day: a challenger
whose Sharpe is higher or lower by 1). Each period is read day by day, as the daily flow reads
it, with the platform's default test (95 %, decisions from day 10, horizon 60 days).

The test's settings were chosen on simulated AR(1) pairs (``tests/online_learning/update/
test_challenger.py``, seeds 1, 7, 8), not on these series.

Usage: ``python -m benchmarks.challenger_test [--paths N]`` (``make bench`` runs it through
``benchmarks.run``).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np

SERIES = {
    # name: (data, training start, training end, day of the update)
    "S&P 500 index": ("sp500", date(2000, 1, 3), date(2009, 12, 31), date(2010, 3, 31)),
    "20 S&P 500 stocks": ("sp500-stocks", date(1995, 1, 3), date(2009, 12, 31), date(2010, 3, 31)),
}
EFFECTS = (0.0, 1.0, -1.0)
MEAN_BLOCK_DAYS = 10


def real_pair(data: str, start: date, train_end: date, as_of: date) -> dict[str, np.ndarray]:
    """The daily net returns of the champion trained to ``train_end`` and of its update at
    ``as_of`` (default settings, the gate off: the candidate whatever it is), both priced
    from the day after ``as_of`` to the end of the data."""
    from online_learning.data import resolve_source
    from online_learning.execution import resolve_execution
    from online_learning.models.dataset import load_dataset
    from online_learning.registry.memory import InMemoryRegistry
    from online_learning.update.bootstrap import train_and_register
    from online_learning.update.config import IncrementalUpdateConfig
    from online_learning.update.gate import price_books
    from online_learning.update.learner import OnlineLearner

    source = resolve_source(data)
    registry = InMemoryRegistry()
    model_id = "champion"
    train_and_register(registry=registry, source=source, model_id=model_id, start=start,
                       end=train_end, epochs=40, seed=0)  # fmt: skip
    champion = registry.load_champion(model_id)
    config = IncrementalUpdateConfig(model_id=model_id, as_of=as_of, stability_check=False)
    outcome = OnlineLearner(registry, source).incremental_update(config)
    if not outcome.promoted:
        raise RuntimeError(f"{data}: the update was not made ({outcome.reason})")
    challenger = registry.load_champion(model_id)
    dataset = load_dataset(source, champion.definition, start=as_of)
    rows = dataset.usable(dataset.between(as_of, None))
    rows = rows[rows["date"] > np.datetime64(as_of)].reset_index(drop=True)
    books = price_books(
        (champion.model, challenger.model),
        validation=rows,
        inputs=dataset.inputs(rows).x,
        execution=resolve_execution("auto", rows),
        cost_bps=5.0,
    )
    old, new = (b.net.to_numpy(dtype=np.float64) for b in books)
    return {"champion": old, "challenger": new}


def simulate(
    pair: dict[str, np.ndarray],
    *,
    effect_sharpe: float,
    paths: int,
    seed: int,
    advance: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Decisions of the default test on ``paths`` bootstrapped periods with the effect."""
    from online_learning.stats import block_bootstrap_indices
    from online_learning.update.config import UpdateSettings
    from online_learning.update.sequential import SequentialTest

    settings = UpdateSettings()
    test = SequentialTest(
        confidence=settings.challenger_confidence,
        horizon_days=settings.challenger_horizon_days,
        min_days=settings.challenger_min_days,
    )
    champion, challenger = pair["champion"], pair["challenger"]
    difference = challenger - champion
    centred = difference - difference.mean()
    shift = effect_sharpe * champion.std(ddof=1) / math.sqrt(252)
    reasons, days = [], []
    periods = block_bootstrap_indices(
        len(centred), length=test.horizon_days, mean_block=MEAN_BLOCK_DAYS, n_boot=paths, seed=seed
    )
    for index in periods:
        verdict = test.read(centred[index] + shift)
        reasons.append(verdict.reason)
        days.append(verdict.n_days)
        if advance is not None:
            advance()
    reasons_arr, days_arr = np.array(reasons), np.array(days)
    decided = reasons_arr != "challenger_inconclusive"
    return {
        "effect_sharpe": effect_sharpe,
        "paths": paths,
        "promoted": float(np.mean(reasons_arr == "challenger_better")),
        "retired_worse": float(np.mean(reasons_arr == "challenger_worse")),
        "inconclusive": float(np.mean(~decided)),
        "median_days_to_decision": float(np.median(days_arr[decided])) if decided.any() else None,
        "median_days": float(np.median(days_arr)),
    }


def describe(pair: dict[str, np.ndarray]) -> dict[str, float]:
    """What the real pair looks like: days, correlation of the books, the differences'
    lag-one autocorrelation (and of their size: volatility clustering), each book's Sharpe."""
    from online_learning.stats import sharpe_ratio

    old, new = pair["champion"], pair["challenger"]
    d = new - old

    def lag1(x: np.ndarray) -> float:
        x = x - x.mean()
        return float(x[1:] @ x[:-1] / (x @ x))

    return {
        "days": int(d.size),
        "book_correlation": float(np.corrcoef(old, new)[0, 1]),
        "difference_autocorrelation": lag1(d),
        "abs_difference_autocorrelation": lag1(np.abs(d)),
        "sharpe_champion": sharpe_ratio(old),
        "sharpe_challenger": sharpe_ratio(new),
        "difference_sharpe_of_one": float(old.std(ddof=1) / d.std(ddof=1)),
    }


def measure(paths: int, *, seed: int = 0, advance=None) -> list[dict[str, object]]:
    """Every series and effect (see the module doc)."""
    rows = []
    for k, (name, (data, start, train_end, as_of)) in enumerate(SERIES.items()):
        pair = real_pair(data, start, train_end, as_of)
        row = {"series": name, "data": data, **describe(pair), "effects": []}
        for j, effect in enumerate(EFFECTS):
            seeded = seed + 10 * k + j
            row["effects"].append(
                simulate(pair, effect_sharpe=effect, paths=paths, seed=seeded, advance=advance)
            )
        rows.append(row)
    return rows


def print_summary(rows: list[dict[str, object]]) -> None:
    print("\nChallenger period: the default sequential test (95 %, from day 10, horizon 60) on")
    print("block-bootstrapped periods of real champion/update pairs, read every day")
    for row in rows:
        print(
            f"{row['series']}: {row['days']} days, books correlated {row['book_correlation']:.2f}, "
            f"differences' lag-1 autocorrelation {row['difference_autocorrelation']:+.2f} "
            f"(of their size {row['abs_difference_autocorrelation']:+.2f}); a Sharpe gain of 1 "
            f"is a difference Sharpe of {row['difference_sharpe_of_one']:.1f}"
        )
        print("  effect (Sharpe)  promoted  retired worse  undecided at 60  median days to "
              "decision")  # fmt: skip
        for e in row["effects"]:
            median = e["median_days_to_decision"]
            print(
                f"  {e['effect_sharpe']:+15.1f}  {e['promoted']:8.1%}  {e['retired_worse']:13.1%}  "
                f"{e['inconclusive']:15.1%}  {'-' if median is None else f'{median:.0f}':>22}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=2000, help="periods per effect")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.paths < 10:
        parser.error("--paths must be at least 10")
    import json

    rows = measure(args.paths, seed=args.seed)
    print_summary(rows)
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    if not __package__:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
