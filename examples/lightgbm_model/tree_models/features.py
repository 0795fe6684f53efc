"""The team's features, under the platform's contract: called with the long price frame
(``date, symbol, close[, open, high, low, volume]``), returning one float column per feature
indexed by ``(date, symbol)``. Each row may use prices up to its own day only (the platform
checks it at several cut points and refuses a feature that looks ahead). Trees need no
scaling; ranks across the symbols of a day are what they split well on."""

from __future__ import annotations

import numpy as np
import pandas as pd


def cross_sectional(prices: pd.DataFrame) -> pd.DataFrame:
    frame = prices.sort_values(["symbol", "date"]).reset_index(drop=True)
    log_close = np.log(frame["close"]).groupby(frame["symbol"])
    daily = log_close.diff()
    features = pd.DataFrame(
        {
            "date": frame["date"],
            "mom_5": log_close.diff(5),
            "mom_20": log_close.diff(20),
            "vol_20": daily.groupby(frame["symbol"]).rolling(20).std().to_numpy(),
            "reversal_1": -daily,
        }
    )
    # The day's rank of each symbol's momentum among the symbols (0 lowest, 1 highest).
    features["mom_20_rank"] = features.groupby("date")["mom_20"].rank(pct=True)
    features.index = pd.MultiIndex.from_frame(frame[["date", "symbol"]])
    return features.drop(columns="date")
