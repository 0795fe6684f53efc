"""The team's features, under the platform's contract: called with the long price frame
(``date, symbol, close[, open, high, low, volume]``), returning one float column per feature
indexed by ``(date, symbol)``. Each row may use that symbol's prices up to its own day only
(the platform checks it at several cut points and refuses a feature that looks ahead)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def momentum(prices: pd.DataFrame) -> pd.DataFrame:
    frame = prices.sort_values(["symbol", "date"])
    log_close = np.log(frame["close"]).groupby(frame["symbol"])
    daily = log_close.diff()
    by_symbol = daily.groupby(frame["symbol"])
    return pd.DataFrame(
        {
            "mom_5": log_close.diff(5).to_numpy(),
            "mom_20": log_close.diff(20).to_numpy(),
            "vol_20": by_symbol.rolling(20).std().to_numpy(),
            "mean_reversion_1": -daily.to_numpy(),
        },
        index=pd.MultiIndex.from_frame(frame[["date", "symbol"]]),
    )
