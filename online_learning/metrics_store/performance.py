"""Performance statistics of a model's realised days: daily returns, Sharpe, drawdown.

A model trades several symbols; its **daily return** is the mean of its strategy returns over
the symbols it traded that day (an equally weighted book). Statistics are computed on that
series of trading days, so a day counts once however many symbols it had.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from online_learning.stats import sharpe_ratio

PERFORMANCE_COLUMNS = (
    "model_id",
    "symbol",
    "date",
    "position",
    "strategy_return",
    "market_return",
    "hit",
    "recorded_at",
)


def daily_returns(frame: pd.DataFrame) -> pd.Series:
    """Mean ``strategy_return`` over symbols per ``date``, oldest day first.

    Examples
    --------
    >>> frame = pd.DataFrame({"date": ["d1", "d1", "d2"], "strategy_return": [0.01, 0.03, -0.01]})
    >>> daily_returns(frame).round(4).tolist()
    [0.02, -0.01]
    """
    if frame.empty:
        return pd.Series(dtype=np.float64, name="strategy_return")
    return frame.groupby("date", sort=True)["strategy_return"].mean()


def max_drawdown(returns: pd.Series | np.ndarray) -> float:
    """Largest fall of the compounded equity curve below its running peak, as a fraction.

    Equity starts at 1 and is multiplied by ``1 + r`` each day, so a loss on the first day is
    a drawdown too. ``0.25`` means the equity fell to 75% of an earlier peak; 0.0 when it
    never fell, NaN without returns.

    Examples
    --------
    >>> round(max_drawdown(np.array([0.10, -0.20, 0.05, -0.10, 0.30])), 4)
    0.244
    """
    values = np.asarray(returns, dtype=np.float64)
    if values.size == 0:
        return math.nan
    equity = np.concatenate([[1.0], np.cumprod(1.0 + values)])
    peaks = np.maximum.accumulate(equity)
    return float(np.max(1.0 - equity / peaks))


def summarise(frame: pd.DataFrame) -> dict[str, float | int]:
    """``sharpe``, ``hit_rate``, ``max_drawdown`` and ``n_days`` of a performance frame.

    ``hit_rate`` is the share of (symbol, day) positions whose sign matched the market's
    move; the other statistics are on the daily returns (:func:`daily_returns`).

    Examples
    --------
    >>> frame = pd.DataFrame({"date": [1, 1, 2, 3], "strategy_return": [0.02, 0.0, -0.02, 0.01],
    ...                       "hit": [True, False, False, True]})
    >>> summary = summarise(frame)
    >>> summary["n_days"], summary["hit_rate"], round(summary["max_drawdown"], 4)
    (3, 0.5, 0.02)
    """
    returns = daily_returns(frame)
    return {
        "sharpe": sharpe_ratio(returns.to_numpy()),
        "hit_rate": float(frame["hit"].astype(bool).mean()) if len(frame) else math.nan,
        "max_drawdown": max_drawdown(returns.to_numpy()),
        "n_days": len(returns),
    }
