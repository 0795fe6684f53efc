"""The S&P 500 index, daily 1999-2018, from the copy bundled with the ``arch`` package (offline)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from online_learning.data.base import (
    CLOSE,
    DATE,
    HIGH,
    LOW,
    OPEN,
    SYMBOL,
    VOLUME,
    conform_prices,
    slice_dates,
)
from online_learning.errors import DataError

__all__ = ["SP500_SYMBOL", "SP500Source"]

SP500_SYMBOL = "SPX"


class SP500Source:
    """Daily OHLCV of the S&P 500 index (symbol ``"SPX"``), read from ``arch.data.sp500``.

    ``close`` is the adjusted close; open, high and low are as published. The data set is read
    once per instance, on the first ``fetch``.

    Examples
    --------
    >>> prices = SP500Source().fetch("2008-09-15", "2008-09-19")
    >>> prices["symbol"].unique().tolist(), len(prices)
    (['SPX'], 5)
    >>> float(prices["close"].iloc[0])
    1192.699951
    """

    name = "sp500"

    def __init__(self) -> None:
        self._prices: pd.DataFrame | None = None

    def fetch(self, start: date | str | None = None, end: date | str | None = None) -> pd.DataFrame:
        """S&P 500 prices between ``start`` and ``end`` inclusive.

        Raises
        ------
        DataError
            If the range holds no trading day of 1999-2018.
        """
        if self._prices is None:
            self._prices = _load()
        return slice_dates(self._prices, start, end, origin=self.name)

    def __repr__(self) -> str:
        return "SP500Source()"


def _load() -> pd.DataFrame:
    # Imported here so that importing the data package does not load arch's data modules.
    try:
        from arch.data import sp500
    except ImportError:
        raise DataError(
            "sp500: the bundled index comes with the arch package, which is not installed: "
            "pip install 'online-learning[data]'"
        ) from None

    raw = sp500.load()
    frame = pd.DataFrame(
        {
            DATE: raw.index.to_numpy(),
            SYMBOL: SP500_SYMBOL,
            OPEN: raw["Open"].to_numpy(np.float64),
            HIGH: raw["High"].to_numpy(np.float64),
            LOW: raw["Low"].to_numpy(np.float64),
            CLOSE: raw["Adj Close"].to_numpy(np.float64),
            VOLUME: raw["Volume"].to_numpy(np.float64),
        }
    )
    return conform_prices(frame, origin="sp500 (arch.data.sp500)")
