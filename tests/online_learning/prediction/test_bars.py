"""Bars to features: the training pipeline's very numbers, and clear refusals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from online_learning.data import SyntheticMarket
from online_learning.features import FEATURE_COLUMNS, build_features
from online_learning.prediction import (
    BARS_NEEDED,
    InsufficientBars,
    InvalidBars,
    features_from_bars,
)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return SyntheticMarket(seed=3, n_symbols=3, n_days=160).fetch()


def bars_of(prices: pd.DataFrame, symbol: str, until: int | None = None) -> list[dict]:
    rows = prices[prices["symbol"] == symbol].iloc[:until]
    return [
        {"date": d.date().isoformat(), "open": o, "high": h, "low": lo, "close": c, "volume": v}
        for d, o, h, lo, c, v in rows[
            ["date", "open", "high", "low", "close", "volume"]
        ].itertuples(index=False)
    ]


def test_features_are_bit_identical_to_the_training_pipeline(prices: pd.DataFrame) -> None:
    training = build_features(prices)  # what the update loop trains on: every symbol at once
    for symbol in prices["symbol"].unique():
        for until in (BARS_NEEDED, 100, None):
            bars = bars_of(prices, symbol, until)
            served = features_from_bars(bars)
            last_date = pd.Timestamp(bars[-1]["date"])
            expected = training if until is None else build_features(
                prices.groupby("symbol").head(until))  # fmt: skip
            row = expected[(expected["symbol"] == symbol) & (expected["date"] == last_date)]
            assert len(row) == 1
            wanted = row[list(FEATURE_COLUMNS)].to_numpy(dtype=np.float64)[0]
            got = np.array([served[n] for n in FEATURE_COLUMNS], dtype=np.float64)
            assert list(served) == list(FEATURE_COLUMNS)
            assert got.tobytes() == wanted.tobytes(), (symbol, until)


def test_only_closes_matter_and_dates_may_be_dates_or_timestamps(prices: pd.DataFrame) -> None:
    bars = bars_of(prices, "SYN00")
    closes_only = [{"date": pd.Timestamp(b["date"]).to_pydatetime(), "close": b["close"]}
                   for b in bars]  # fmt: skip
    assert features_from_bars(closes_only) == features_from_bars(bars)


def test_too_few_bars_say_how_many_are_needed_and_how_many_came(prices) -> None:
    bars = bars_of(prices, "SYN01", BARS_NEEDED - 1)
    with pytest.raises(InsufficientBars) as caught:
        features_from_bars(bars)
    assert (caught.value.needed, caught.value.got) == (64, 63)
    assert "64" in str(caught.value) and "63" in str(caught.value)
    with pytest.raises(InsufficientBars, match="got 0"):
        features_from_bars([])


@pytest.mark.parametrize(
    ("change", "index", "message"),
    [
        (lambda b: b.__setitem__(10, {**b[10], "date": b[9]["date"]}), 10, "repeats"),
        (lambda b: b.__setitem__(20, {**b[20], "date": b[5]["date"]}), 20, "is before"),
        (lambda b: b.__setitem__(30, {**b[30], "close": math.nan}), 30, "finite"),
        (lambda b: b.__setitem__(31, {**b[31], "close": math.inf}), 31, "finite"),
        (lambda b: b.__setitem__(32, {**b[32], "close": 0.0}), 32, "> 0"),
        (lambda b: b.__setitem__(33, {**b[33], "close": -1.5}), 33, "> 0"),
        (lambda b: b.__setitem__(34, {**b[34], "open": -1.0}), 34, "'open' must be > 0"),
        (lambda b: b.__setitem__(35, {**b[35], "volume": -1}), 35, "'volume' must be >= 0"),
        (lambda b: b.__setitem__(36, {"date": b[36]["date"]}), 36, "'close' is missing"),
        (lambda b: b.__setitem__(37, {**b[37], "close": "12.5"}), 37, "must be a number"),
        (lambda b: b.__setitem__(38, {**b[38], "close": True}), 38, "must be a number"),
        (lambda b: b.__setitem__(39, {**b[39], "date": "2024-13-45"}), 39, "not an ISO 8601"),
        (lambda b: b.__setitem__(40, {"close": 10.0}), 40, "'date' is missing"),
        (lambda b: b.__setitem__(41, [1, 2]), 41, "must be an object"),
    ],
)
def test_invalid_bars_name_the_bar(prices, change, index, message) -> None:
    bars = bars_of(prices, "SYN02")
    change(bars)
    with pytest.raises(InvalidBars, match=message) as caught:
        features_from_bars(bars)
    assert caught.value.index == index
    assert str(caught.value).startswith(f"bars[{index}]: ")


def test_invalid_bars_are_reported_before_a_short_list(prices) -> None:
    bars = bars_of(prices, "SYN02", 10)
    bars[3]["close"] = math.nan
    with pytest.raises(InvalidBars) as caught:
        features_from_bars(bars)
    assert caught.value.index == 3


@pytest.mark.parametrize("bars", ["not bars", {"date": "2024-01-02", "close": 1.0}, None, 5])
def test_bars_must_be_a_list(bars) -> None:
    with pytest.raises(InvalidBars, match="list"):
        features_from_bars(bars)


def test_too_many_bars_are_refused() -> None:
    dates = pd.bdate_range("2000-01-03", periods=2001)
    bars = [{"date": d.date().isoformat(), "close": 100.0 + i % 7} for i, d in enumerate(dates)]
    with pytest.raises(InvalidBars, match="at most 2000"):
        features_from_bars(bars)


def test_a_repeated_history_gives_the_same_features_in_a_fresh_dict(prices) -> None:
    bars = bars_of(prices, "SYN00", 120)
    first = features_from_bars(bars)
    first["ret_1"] = 99.0  # the caller's copy: the next answer must not see it
    again = features_from_bars(bars)
    assert again["ret_1"] != 99.0
    assert again == features_from_bars([dict(b) for b in bars])
    moved = [dict(b) for b in bars]
    moved[-1]["close"] *= 1.01  # another last close: other features
    assert features_from_bars(moved)["ret_1"] != again["ret_1"]
