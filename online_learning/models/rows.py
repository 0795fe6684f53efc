"""A model's rows: its features beside the market's labels, for its target and horizon.

Every row is a (date, symbol) with the model's feature columns and the columns the platform
derives from the prices (:func:`~online_learning.features.build_features`): ``ret_1`` (the
day's log return), ``forward_return`` (to the next close), ``return_next_close`` and
``return_next_open`` (what a position taken at the close earns at an executable timing, see
:mod:`online_learning.execution`), ``regime_label`` (the causal 63-day regime), and the label:

* ``target_return``: the log return from the row's close to the close ``horizon_days`` rows
  later (the same symbol's rows);
* ``target``: for ``direction``, 1.0 when ``target_return`` > 0 else 0.0; for ``return``,
  ``target_return`` itself. NaN while the horizon is not over.

The first :data:`~online_learning.features.WARMUP_ROWS` rows of each symbol are dropped (the
regime label needs them); a team's warm-up rows keep NaN features and are never trained on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from online_learning.data.base import DATE, SYMBOL
from online_learning.features import FEATURE_COLUMNS, build_features
from online_learning.models.feature_functions import FeatureFunction

__all__ = ["MARKET_COLUMNS", "labelled_rows", "model_rows", "target_returns"]

#: The columns a model's rows carry besides its features.
MARKET_COLUMNS: tuple[str, ...] = (
    DATE,
    SYMBOL,
    "ret_1",
    "regime_label",
    "forward_return",
    "target_return",
    "target",
    "return_next_close",
    "return_next_open",
)


def target_returns(rows: pd.DataFrame, horizon_days: int) -> pd.Series:
    """``log(close[t + h] / close[t])`` per row, from the rows' one-day forward returns.

    ``rows`` is sorted by (symbol, date) with each symbol's rows consecutive trading days.

    Examples
    --------
    >>> rows = pd.DataFrame({"symbol": ["A"] * 4, "forward_return": [0.1, 0.2, -0.1, np.nan]})
    >>> target_returns(rows, 2).round(3).tolist()
    [0.3, 0.1, nan, nan]
    """
    forward = rows["forward_return"]
    if horizon_days == 1:
        return forward.copy()
    by_symbol = rows[SYMBOL]
    total = forward.groupby(by_symbol, sort=False).cumsum()
    ahead = total.groupby(by_symbol, sort=False).shift(-(horizon_days - 1))
    # NaN when the horizon runs past the symbol's last known close.
    known = forward.groupby(by_symbol, sort=False).shift(-(horizon_days - 1)).notna()
    return (ahead - total + forward).where(known)


def model_rows(
    prices: pd.DataFrame,
    features: FeatureFunction,
    *,
    horizon_days: int = 1,
    target: str = "direction",
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Every row of ``prices`` after the warm-up, with the model's features and labels.

    Returns the rows (sorted by symbol, then date) and the feature names.

    Examples
    --------
    >>> from online_learning.data import SyntheticMarket
    >>> prices = SyntheticMarket(seed=0, n_symbols=2, n_days=120).fetch()
    >>> rows, names = model_rows(prices, FeatureFunction("builtin"), horizon_days=5)
    >>> len(names), bool(rows["target"].iloc[-5:].isna().all())
    (10, True)
    """
    market = build_features(prices)
    if features.builtin:
        rows, names = market, FEATURE_COLUMNS
    else:
        team = features.compute(prices)
        names = tuple(c for c in team.columns if c not in (DATE, SYMBOL))
        keep = [c for c in market.columns if c not in FEATURE_COLUMNS or c == "ret_1"]
        rows = market.loc[:, keep].merge(team, on=[DATE, SYMBOL], how="left")
    rows = rows.sort_values([SYMBOL, DATE], kind="stable").reset_index(drop=True)
    rows["target_return"] = target_returns(rows, horizon_days)
    if target == "return":
        rows["target"] = rows["target_return"]
    elif horizon_days != 1:
        known = rows["target_return"].notna()
        rows["target"] = np.where(known, (rows["target_return"] > 0).astype(np.float64), np.nan)
    return rows, tuple(names)


def labelled_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows whose label is known."""
    return rows.loc[rows["target"].notna()].reset_index(drop=True)
