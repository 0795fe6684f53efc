"""Business impact in a replay: what a policy's predictions add to an agent's own rule.

An agent trades a momentum rule, ``clip(z_ret_1, -1, 1)`` of the day's features
(:func:`momentum_rule`), and blends it with the policy's prediction as the client SDK's
``SignalCombiner`` does with its defaults (:func:`blend_positions`). Both books, the blend
and the rule alone, are priced as the harness prices positions (:func:`impact_books`): the
return of the execution timing, less the cost of each change of position, equal weight over
the day's rows. :func:`day_impact` scores the difference with
:func:`~online_learning.success.scores.business_impact` and its block-bootstrap interval,
one row a day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from online_learning.backtest.harness import RunResult
from online_learning.execution import net_returns
from online_learning.metrics_store.ledger_records import LedgerTrade
from online_learning.success.scores import BusinessImpact, business_impact

__all__ = ["RULE_FEATURE", "blend_positions", "day_impact", "impact_books", "momentum_rule"]

#: The feature the agent's momentum rule reads (``ret_1 / vol_21``, a platform feature).
RULE_FEATURE = "z_ret_1"
#: The ``symbol`` of a ledger row that stands for a whole day of a book.
BOOK = "book"


def momentum_rule(rows: pd.DataFrame) -> np.ndarray:
    """The agent's rule: ``clip(z_ret_1, -1, 1)`` of each row.

    Examples
    --------
    >>> momentum_rule(pd.DataFrame({"z_ret_1": [-2.5, 0.3, 1.4]})).tolist()
    [-1.0, 0.3, 1.0]
    """
    return np.clip(rows[RULE_FEATURE].to_numpy(dtype=np.float64), -1.0, 1.0)


def blend_positions(
    rule: np.ndarray,
    p_up: np.ndarray,
    *,
    rule_weight: float = 0.6,
    ml_weight: float = 0.4,
    min_confidence: float = 0.55,
    max_position: float = 1.0,
) -> np.ndarray:
    """The positions an agent trades blending its ``rule`` signal (in ``[-1, 1]``) with the
    predictions ``p_up``.

    It mirrors the client SDK's ``online_learning_client.signals.SignalCombiner`` with its
    defaults (the library does not import the client distribution; a test checks that the two
    agree): the prediction counts when its confidence ``max(p, 1 - p)`` reaches
    ``min_confidence``, and the position is then ``(1 - w) * rule + w * (2 * p - 1)`` with
    ``w = ml_weight / (rule_weight + ml_weight)``; otherwise, or without a prediction (NaN:
    no model served the row), the rule alone. Clipped to ``[-max_position, max_position]``.

    Examples
    --------
    >>> blend_positions(np.array([-0.5, -0.5, 1.0]), np.array([0.7, 0.52, np.nan])).round(2)
    array([-0.14, -0.5 ,  1.  ])
    """
    rule = np.asarray(rule, dtype=np.float64)
    p_up = np.asarray(p_up, dtype=np.float64)
    weight = ml_weight / (rule_weight + ml_weight)
    with np.errstate(invalid="ignore"):
        confident = np.isfinite(p_up) & (np.maximum(p_up, 1.0 - p_up) >= min_confidence)
    raw = np.where(confident, (1.0 - weight) * rule + weight * (2.0 * p_up - 1.0), rule)
    return np.clip(raw, -max_position, max_position)


def impact_books(run: RunResult, policy: str, *, cost_bps: float) -> tuple[np.ndarray, np.ndarray]:
    """Daily net returns of the blended book (:func:`blend_positions` of
    :func:`momentum_rule` and ``policy``'s ``p_up``) and of the rule's book alone, on every
    day of ``run`` (0 on a day with no traded row). Each symbol starts flat.

    Examples
    --------
    Positions 0.5 then 0.36 blended, 0.5 then 1 for the rule alone, no costs:

    >>> days = list(pd.bdate_range("2024-01-01", periods=2).date)
    >>> run = RunResult("demo", "data", 0, days, {}, np.array([]),
    ...     traded_rows=pd.DataFrame({"day": [0, 1], "symbol": "A", "realised": [0.01, -0.02],
    ...                               "z_ret_1": [0.5, 2.0]}),
    ...     p_up={"ewc": np.array([0.75, 0.2])})
    >>> blended, rules = impact_books(run, "ewc", cost_bps=0.0)
    >>> blended.round(4).tolist(), rules.round(4).tolist()
    ([0.005, -0.0072], [0.005, -0.02])
    """
    rows = run.traded_rows
    rule = momentum_rule(rows)
    symbols = rows["symbol"].astype(str).to_numpy()
    realised = rows["realised"].to_numpy(dtype=np.float64)
    day = rows["day"].to_numpy()
    books = []
    for positions in (blend_positions(rule, run.p_up[policy]), rule):
        net, _ = net_returns(symbols, positions, realised, cost_bps=cost_bps)
        by_day = pd.Series(net).groupby(day).mean()
        daily = np.zeros(len(run.days))
        daily[by_day.index.to_numpy()] = by_day.to_numpy()
        books.append(daily)
    return books[0], books[1]


def day_impact(
    days: Sequence[date], blended: np.ndarray, rules: np.ndarray, *, model_id: str
) -> BusinessImpact:
    """:func:`~online_learning.success.scores.business_impact` over all symbols of the daily
    books ``blended`` and ``rules``: one ledger row a day, which earned the blended book's
    return and whose rules-only P&L (``rule_position * realized_return``) is the rule's book's
    return (position 1 on it), so the interval resamples blocks of days.

    Examples
    --------
    >>> days = list(pd.bdate_range("2024-01-01", periods=20).date)
    >>> rng = np.random.default_rng(0)
    >>> rules = rng.normal(0.0, 0.01, 20)
    >>> impact = day_impact(days, rules + rng.normal(0.001, 0.001, 20), rules, model_id="ewc")
    >>> impact.n_trades, impact.ml_added_low < impact.ml_added_pnl < impact.ml_added_high
    (20, True)
    """
    trades = [
        LedgerTrade(
            f"d{i}", BOOK, model_id, datetime(d.year, d.month, d.day, tzinfo=UTC),
            float(rules[i]), float(blended[i]), rule_position=1.0,
        )
        for i, d in enumerate(days)
    ]  # fmt: skip
    return business_impact(trades)[0]
