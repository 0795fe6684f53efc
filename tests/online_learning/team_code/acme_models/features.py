"""A team's features from the long price frame: causal ones, and one that peeks at tomorrow."""

from __future__ import annotations

import numpy as np
import pandas as pd


def momentum(prices: pd.DataFrame) -> pd.DataFrame:
    """Per symbol: 5- and 20-day log returns and 20-day volatility, indexed by (date, symbol)."""
    frame = prices.sort_values(["symbol", "date"])
    log_close = np.log(frame["close"])
    by_symbol = log_close.groupby(frame["symbol"])
    daily = by_symbol.diff()
    out = pd.DataFrame(
        {
            "mom_5": by_symbol.diff(5).to_numpy(),
            "mom_20": by_symbol.diff(20).to_numpy(),
            "vol_20": daily.groupby(frame["symbol"]).rolling(20).std().to_numpy(),
        },
        index=pd.MultiIndex.from_frame(frame[["date", "symbol"]]),
    )
    return out


def peeking(prices: pd.DataFrame) -> pd.DataFrame:
    """Tomorrow's return as a feature: look-ahead, to be refused."""
    frame = prices.sort_values(["symbol", "date"])
    log_close = np.log(frame["close"])
    tomorrow = log_close.groupby(frame["symbol"]).shift(-1) - log_close
    return pd.DataFrame(
        {
            "date": frame["date"].to_numpy(),
            "symbol": frame["symbol"].to_numpy(),
            "tomorrow": tomorrow.to_numpy(),
        }
    )
