"""Shared by the SDK's live tests: market bars."""

from __future__ import annotations


def bars_of(prices, symbol: str, n: int = 80, end: int | None = None) -> list[dict]:
    rows = prices[prices.symbol == symbol].iloc[: end if end is not None else None].tail(n)
    return [{"date": d.strftime("%Y-%m-%d"), "close": float(c)}
            for d, c in zip(rows["date"], rows["close"], strict=True)]  # fmt: skip
