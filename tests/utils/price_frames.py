"""Builders of small, seeded price frames and price files for tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd


def make_prices(
    symbols: Sequence[str] = ("AAA", "BBB"),
    *,
    n_days: int = 120,
    seed: int = 0,
    start: str = "2020-01-01",
    ohlcv: bool = False,
) -> pd.DataFrame:
    """A contract price frame of geometric random walks on business days.

    Each symbol starts at a different level; with ``ohlcv`` the frame also has consistent
    open, high, low and volume columns.
    """
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=n_days).as_unit("ns")
    pieces = []
    for i, symbol in enumerate(symbols):
        returns = rng.normal(0.0003, 0.012, size=n_days)
        close = (50.0 + 25.0 * i) * np.exp(np.cumsum(returns))
        piece = pd.DataFrame({"date": dates, "symbol": symbol, "close": close})
        if ohlcv:
            open_ = close * np.exp(rng.normal(0.0, 0.003, size=n_days))
            piece["open"] = open_
            piece["high"] = np.maximum(open_, close) * (1.0 + rng.uniform(0, 0.01, n_days))
            piece["low"] = np.minimum(open_, close) * (1.0 - rng.uniform(0, 0.01, n_days))
            piece["volume"] = np.round(rng.uniform(1e5, 1e6, size=n_days))
        pieces.append(piece)
    frame = pd.concat(pieces, ignore_index=True)
    frame["symbol"] = frame["symbol"].astype(str)
    columns = ["date", "symbol", "open", "high", "low", "close", "volume"]
    return frame[[c for c in columns if c in frame.columns]]


def to_wide(prices: pd.DataFrame) -> pd.DataFrame:
    """Wide layout of a price frame: a ``date`` column and one close column per symbol."""
    wide = prices.pivot(index="date", columns="symbol", values="close")
    wide.columns.name = None
    return wide.reset_index()


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    """Write ``lines`` as a text file (newline-terminated) and return its path."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
