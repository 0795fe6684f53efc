"""The stability gate's error rates: false rejections of equal candidates, power against worse.

Two measurements, both on blocks of validation days as the gate sees them:

1. **Simulated pairs**: champion and candidate daily net returns with a given correlation
   (0.90-0.98: an update barely changes the model) and annualised Sharpe ratios ``S`` and
   ``S - drop``; ``drop = 0`` measures the false-rejection rate, ``drop = 1`` the power against
   a true drop of 1 in annualised Sharpe. For 5, 10 and 20 validation days.
2. **Trained pairs**: models trained identically but for the seed on the simulated market
   (:func:`equal_quality_rejections`), each judged against each other on consecutive blocks of
   days, as in production (next-open execution, 5 bps): the false-rejection rate of candidates
   of equal quality when the returns are those of real trades.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from online_learning.data import SyntheticMarket
from online_learning.features import FEATURE_COLUMNS
from online_learning.models import RegimeSpecialist
from online_learning.update.gate import StabilityGate
from online_learning.update.training import train_from_scratch
from online_learning.update.window import labelled_features

DAYS = (5, 10, 20)
CORRELATIONS = (0.9, 0.95, 0.98)


def simulated(
    *,
    days: Sequence[int] = DAYS,
    correlations: Sequence[float] = CORRELATIONS,
    sharpe: float = 1.0,
    trials: int = 4000,
    seed: int = 0,
    gate: StabilityGate | None = None,
) -> list[dict[str, float]]:
    """Rejection rates of the gate on simulated daily return pairs (see the module doc)."""
    gate = gate or StabilityGate()
    rng = np.random.default_rng(seed)
    sigma = 0.01
    rows = []
    for n, rho, drop in itertools.product(days, correlations, (0.0, 1.0)):
        rejected = 0
        for _ in range(trials):
            a = rng.standard_normal(n)
            b = rho * a + math.sqrt(1 - rho**2) * rng.standard_normal(n)
            champion = sigma * (sharpe / math.sqrt(252) + a)
            candidate = sigma * ((sharpe - drop) / math.sqrt(252) + b)
            report = gate.evaluate(pre_returns=champion, post_returns=candidate)
            rejected += not report.passed
        rows.append(
            {
                "days": n,
                "correlation": rho,
                "sharpe_drop": drop,
                "rejection_rate": rejected / trials,
            }
        )
    return rows


def equal_quality_rejections(
    *,
    n_models: int = 4,
    block_days: int = 10,
    n_blocks: int = 20,
    n_symbols: int = 6,
    market_seed: int = 0,
    gate: StabilityGate | None = None,
    advance: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Models trained alike but for the seed, judged pairwise on consecutive blocks of days."""
    gate = gate or StabilityGate()
    market = SyntheticMarket(seed=market_seed, n_symbols=n_symbols, n_days=700)
    rows = labelled_features(market).dropna(subset=["return_next_open"])
    days = np.sort(rows["date"].unique())
    train = rows[rows["date"] <= days[300]]
    models = []
    for seed in range(n_models):
        torch.manual_seed(seed)
        model = RegimeSpecialist(FEATURE_COLUMNS)
        features = train.loc[:, list(FEATURE_COLUMNS)].to_numpy(np.float32)
        train_from_scratch(model, features, train["target"].to_numpy(), epochs=40, seed=seed)
        models.append(model)
        if advance is not None:
            advance()
    decisions, rejected, correlations = 0, 0, []
    for block in range(n_blocks):
        first = 301 + block * block_days
        if first + block_days > len(days):
            break
        chosen = rows[(rows["date"] >= days[first]) & (rows["date"] < days[first + block_days])]
        for old, new in itertools.permutations(range(n_models), 2):
            report = gate.check(
                old_model=models[old],
                new_model=models[new],
                validation=chosen,
                inputs=chosen.loc[:, list(FEATURE_COLUMNS)].to_numpy(np.float32),
            )
            decisions += 1
            rejected += not report.passed
        features = chosen.loc[:, list(FEATURE_COLUMNS)].to_numpy(np.float32)
        p = np.array([m.predict_proba(features) for m in models])
        correlations.append(
            float(pd.DataFrame(p.T).corr().to_numpy()[np.triu_indices(n_models, 1)].mean())
        )
    return {
        "models": n_models,
        "block_days": block_days,
        "decisions": decisions,
        "rejection_rate": rejected / max(decisions, 1),
        "prediction_correlation": float(np.mean(correlations)),
    }
