"""The data-integrity checks: silent on genuine windows, specific on broken ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from online_learning.data import SP500Source, SyntheticMarket
from online_learning.data.files import FileSource
from online_learning.update.integrity import describe_inconsistency
from online_learning.update.window import update_window
from tests.utils.markets import shift_dates, shuffle_labels


def _windows(source, *, every: int, regimes=(None,), data_window: int = 60):
    """Genuine update windows of ``source``, one every ``every`` trading days, per regime."""
    days = sorted(source.fetch()["date"].unique())
    for as_of in days[200::every]:
        for regime in regimes:
            window = update_window(
                source,
                data_window=data_window,
                validation_days=7,
                as_of=pd.Timestamp(as_of).date(),
                regime=regime,
            )
            yield regime, window


def _problems(windows) -> list[str]:
    found = []
    for regime, window in windows:
        problem = describe_inconsistency(
            window.train, window.validation, trading_days=window.trading_days, regime=regime
        )
        if problem is not None:
            found.append(f"{window.end}: {problem}")
    return found


def test_genuine_sp500_windows_pass():
    # Real daily index data, 1999-2018: holidays, crashes, gaps in nothing.
    windows = list(_windows(SP500Source(), every=200))
    assert len(windows) >= 20
    assert _problems(windows) == []


def test_genuine_specialist_windows_pass_in_every_regime():
    # A specialist's window skips the days of other regimes: no pair across a skipped day.
    market = SyntheticMarket(seed=3, n_symbols=6, n_days=900)
    windows = list(_windows(market, every=61, regimes=("bull", "bear", "sideways")))
    specialist = [(r, w) for r, w in windows if not w.train.empty]
    assert len(specialist) >= 20
    assert _problems(specialist) == []


def test_a_csv_with_missing_days_per_symbol_passes(tmp_path):
    # Each symbol misses 5 % of its days (a halted stock, a late listing): its returns then
    # span the gap, and the labels still chain.
    prices = SyntheticMarket(seed=5, n_symbols=4, n_days=500).fetch()
    rng = np.random.default_rng(0)
    holey = prices[rng.random(len(prices)) > 0.05]
    path = tmp_path / "prices.csv"
    holey.loc[:, ["date", "symbol", "close"]].to_csv(path, index=False)
    windows = list(_windows(FileSource(path), every=23))
    assert len(windows) >= 10
    assert _problems(windows) == []


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        (shuffle_labels(seed=1), "training labels disagree with their forward returns"),
        (shift_dates(-70), "training rows lie outside"),
        (shift_dates(0, rename=True), "forward returns disagree with the next day's return"),
    ],
)
def test_a_broken_window_is_described(transform, expected):
    market = SyntheticMarket(seed=3, n_symbols=4, n_days=400)
    window = update_window(market, data_window=60, validation_days=7)
    problem = describe_inconsistency(
        transform(window.train.copy()), window.validation, trading_days=window.trading_days
    )
    assert problem is not None and expected in problem, problem
    assert "(first on " in problem


def test_a_repeated_row_and_a_foreign_regime_are_named():
    market = SyntheticMarket(seed=3, n_symbols=4, n_days=400)
    window = update_window(market, data_window=60, validation_days=7)
    doubled = pd.concat([window.train, window.train.tail(1)], ignore_index=True)
    repeated = describe_inconsistency(doubled, window.validation, trading_days=window.trading_days)
    assert repeated is not None and "repeat a (date, symbol)" in repeated
    # An unfiltered window holds several regimes; as a specialist's rows they are foreign.
    assert window.train["regime_label"].nunique() > 1
    regime = window.train["regime_label"].iloc[0]
    foreign = describe_inconsistency(
        window.train, window.validation, trading_days=window.trading_days, regime=regime
    )
    assert foreign is not None and f"not labelled {regime!r}" in foreign
