"""Twenty S&P 500 stocks, daily 1990-2022, from the copy bundled with the ``skfolio`` package.

The file ``skfolio/datasets/data/sp500_dataset.csv.gz`` (adjusted closes, rounded to three
decimals, of AAPL, AMD, BAC, BBY, CVX, GE, HD, JNJ, JPM, KO, LLY, MRK, MSFT, PEP, PFE, PG, RRC,
UNH, WMT and XOM) is read with pandas. The package is located without importing it:
importing skfolio loads scikit-learn, cvxpy and plotly, which this platform does not need.
The data has no opening prices, so positions execute at the next close.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from online_learning.data.base import CLOSE, DATE, SYMBOL, conform_prices, slice_dates
from online_learning.errors import DataError

__all__ = ["SP500_STOCKS", "SP500StocksSource", "dataset_path"]

SP500_STOCKS: tuple[str, ...] = (
    "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
    "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM",
)  # fmt: skip
_FILE = Path("datasets") / "data" / "sp500_dataset.csv.gz"


def dataset_path() -> Path:
    """Where the installed ``skfolio`` keeps the file (found without importing the package)."""
    spec = importlib.util.find_spec("skfolio")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "sp500-stocks: the bundled stocks come with the skfolio package, which is not "
            "installed: pip install 'online-learning[data]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _FILE
    if not path.is_file():
        raise DataError(f"sp500-stocks: {path} is missing from the installed skfolio")
    return path


class SP500StocksSource:
    """Daily adjusted closes of 20 S&P 500 stocks (see the module doc); ``symbols`` picks some.

    Examples
    --------
    >>> prices = SP500StocksSource(symbols=["KO", "PG"]).fetch("2008-09-15", "2008-09-16")
    >>> prices[["symbol", "close"]].values.tolist()
    [['KO', 17.284], ['KO', 17.316], ['PG', 46.234], ['PG', 46.144]]
    """

    name = "sp500-stocks"

    def __init__(self, symbols: Sequence[str] | None = None) -> None:
        chosen = tuple(symbols) if symbols is not None else SP500_STOCKS
        unknown = sorted(set(chosen) - set(SP500_STOCKS))
        if unknown or not chosen:
            raise DataError(f"sp500-stocks: unknown symbols {unknown}; choose from {SP500_STOCKS}")
        self.symbols = chosen
        self._prices: pd.DataFrame | None = None

    def fetch(self, start: date | str | None = None, end: date | str | None = None) -> pd.DataFrame:
        """Prices between ``start`` and ``end`` inclusive; raises ``DataError`` when empty."""
        if self._prices is None:
            self._prices = _load(self.symbols)
        return slice_dates(self._prices, start, end, origin=self.name)

    def __repr__(self) -> str:
        return f"SP500StocksSource(symbols={list(self.symbols)!r})"


def _load(symbols: Sequence[str]) -> pd.DataFrame:
    wide = pd.read_csv(dataset_path(), parse_dates=["Date"])
    long = wide.melt(id_vars="Date", value_vars=list(symbols), var_name=SYMBOL, value_name=CLOSE)
    long = long.rename(columns={"Date": DATE}).dropna(subset=[CLOSE])
    return conform_prices(long, origin="sp500-stocks (skfolio's sp500_dataset.csv.gz)")
