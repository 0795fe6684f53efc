"""A team's own code and data as the tests bring them: the packages under
``tests/online_learning/team_code`` (not installed) and four of the bundled stocks."""

from __future__ import annotations

from pathlib import Path

from online_learning.data import resolve_source

TEAM_CODE = Path(__file__).resolve().parents[1] / "online_learning" / "team_code"
STOCKS = ["AAPL", "MSFT", "JPM", "XOM"]


def write_stocks_csv(folder: Path) -> Path:
    """The four stocks of the bundled sp500-stocks, 2017-2019, as the CSV a team would bring."""
    prices = resolve_source("sp500-stocks").fetch("2017-01-03", "2019-12-31")
    path = folder / "stocks.csv"
    prices[prices["symbol"].isin(STOCKS)].to_csv(path, index=False)
    return path


def bars(symbol: str, n: int) -> list[dict]:
    """The last ``n`` daily bars of 2019 of one of the bundled stocks, as an agent sends them."""
    prices = resolve_source("sp500-stocks").fetch("2019-01-02", "2019-12-31")
    prices = prices[prices["symbol"] == symbol].tail(n)
    pairs = zip(prices["date"], prices["close"], strict=True)
    return [{"date": f"{d:%Y-%m-%d}", "close": c} for d, c in pairs]
