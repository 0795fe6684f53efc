"""Price-feed faults are caught before promotion; genuine prices are not rejected."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from online_learning.backtest.faults import PRICE_FAULTS, corrupt_prices
from online_learning.data import SP500StocksSource, SyntheticMarket
from online_learning.features import build_features, labelled
from online_learning.update.price_checks import describe_price_faults


@pytest.fixture(scope="module")
def stocks() -> pd.DataFrame:
    """Twenty real stocks, 2005-2022 (before 2005 prices rounded to a tenth of a cent repeat)."""
    return SP500StocksSource().fetch("2004-06-01", "2022-12-28")


def _windows(rows: pd.DataFrame, step: int, length: int = 60):
    days = np.sort(rows["date"].unique())
    for end in range(length, len(days), step):
        yield days[end - length + 1 : end + 1]


def test_genuine_windows_of_real_stocks_are_almost_never_rejected(stocks):
    # Crashes, buyouts and squeezes are moves, not errors: at most 1 % of 60-day windows of
    # twenty stocks (about one rejected window in three hundred here) may be rejected.
    rows = labelled(build_features(stocks))
    windows = list(_windows(rows, step=10))
    flagged = [
        days[-1]
        for days in windows
        if describe_price_faults(rows[rows["date"].isin(days)]) is not None
    ]
    assert len(windows) > 400
    assert len(flagged) / len(windows) <= 0.01, flagged


@pytest.mark.parametrize("kind", PRICE_FAULTS)
def test_planted_feed_errors_are_caught(stocks, kind):
    # At least 95 % of faults planted at random days and symbols of real and simulated
    # windows are found.
    rng = np.random.default_rng(7)
    sources = [stocks, SyntheticMarket(seed=3, n_days=900).fetch()]
    caught, planted = 0, 0
    for prices in sources:
        days = np.sort(prices["date"].unique())
        symbols = sorted(prices["symbol"].unique())
        for _ in range(40):
            end = int(rng.integers(150, len(days) - 2))
            window = days[end - 59 : end + 1]
            at = int(rng.integers(1, len(window) - 7))
            symbol = symbols[int(rng.integers(len(symbols)))]
            corrupt = corrupt_prices(
                kind, symbol=symbol, day=window[at], days=list(window[at:]), seed=int(end)
            )
            span = prices[(prices["date"] >= days[end - 150]) & (prices["date"] <= days[end + 1])]
            rows = labelled(build_features(corrupt(span)))
            planted += 1
            caught += describe_price_faults(rows[rows["date"].isin(window)]) is not None
    assert caught / planted >= 0.95, (kind, caught, planted)
