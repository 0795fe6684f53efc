"""Synthetic market, S&P 500 source, the price-frame contract and ``resolve_source``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from online_learning.data import (
    REGIME_PARAMS,
    REGIMES,
    DataSource,
    FileSource,
    SP500Source,
    SyntheticMarket,
    resolve_source,
    validate_prices,
)
from online_learning.errors import ConfigError, DataError
from tests.utils.price_frames import make_prices


def lag_one_correlation(close: np.ndarray) -> float:
    """Correlation of consecutive daily log returns (r(t-1) is the simulator's f1, scaled)."""
    returns = np.diff(np.log(close))
    return float(np.corrcoef(returns[:-1], returns[1:])[0, 1])


def windowed_lag_one(prices: pd.DataFrame, window: int = 250) -> np.ndarray:
    values = []
    for _, group in prices.groupby("symbol"):
        close = group["close"].to_numpy()
        for i in range(0, len(close) - window, window):
            values.append(lag_one_correlation(close[i : i + window + 1]))
    return np.array(values)


# --- synthetic market -------------------------------------------------------------------------


def test_same_seed_gives_identical_prices_and_another_seed_does_not() -> None:
    first = SyntheticMarket(seed=11, n_symbols=3, n_days=300).fetch()
    again = SyntheticMarket(seed=11, n_symbols=3, n_days=300).fetch()
    other = SyntheticMarket(seed=12, n_symbols=3, n_days=300).fetch()

    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["close"], other["close"])


def test_fetch_slices_agree_with_the_full_path() -> None:
    market = SyntheticMarket(seed=4, n_symbols=3, n_days=400)
    full = market.fetch()

    window = market.fetch("2015-03-01", "2015-06-30")
    expected = full[(full["date"] >= "2015-03-01") & (full["date"] <= "2015-06-30")]
    pd.testing.assert_frame_equal(window, expected.reset_index(drop=True))

    before = market.fetch(end="2015-06-30")
    after = market.fetch(start="2015-07-01")
    rejoined = pd.concat([before, after]).sort_values(["symbol", "date"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(rejoined, full)
    # A fresh instance serves the same slice: nothing depends on the order of calls.
    pd.testing.assert_frame_equal(
        SyntheticMarket(seed=4, n_symbols=3, n_days=400).fetch("2015-03-01", "2015-06-30"), window
    )


def test_synthetic_frame_follows_the_contract() -> None:
    prices = SyntheticMarket(seed=2, n_symbols=4, n_days=500).fetch()

    assert validate_prices(prices, origin="synthetic") is prices
    assert list(prices.columns) == [
        "date",
        "symbol",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "regime",
    ]
    assert sorted(prices["symbol"].unique()) == ["SYN00", "SYN01", "SYN02", "SYN03"]
    assert prices.groupby("symbol").size().eq(500).all()
    assert (prices["date"].dt.day_of_week < 5).all()
    assert (prices["high"] >= prices[["open", "close"]].max(axis=1)).all()
    assert (prices["low"] <= prices[["open", "close"]].min(axis=1)).all()
    assert (prices["volume"] > 0).all()
    assert set(prices["regime"]) <= set(REGIMES)
    # Symbols start at different levels.
    assert prices.groupby("symbol")["close"].first().nunique() == 4


def test_markov_chain_visits_every_regime_with_the_requested_mean_length() -> None:
    prices = SyntheticMarket(seed=0, n_symbols=6, n_days=2000, mean_regime_days=120.0).fetch()

    lengths = []
    for _, group in prices.groupby("symbol"):
        regime = group["regime"].to_numpy()
        lengths.extend(np.diff(np.flatnonzero(regime[1:] != regime[:-1])))
    assert set(prices["regime"]) == set(REGIMES)
    assert 60 <= np.mean(lengths) <= 240
    # Each symbol has its own path when no schedule is given.
    paths = prices.pivot(index="date", columns="symbol", values="regime")
    assert paths.nunique(axis=1).max() > 1


def test_regime_schedule_is_applied_to_every_symbol_and_repeated() -> None:
    schedule = [("bull", 50), ("bear", 30), ("sideways", 20)]
    prices = SyntheticMarket(seed=1, n_symbols=2, n_days=250, regime_schedule=schedule).fetch()

    one_cycle = ["bull"] * 50 + ["bear"] * 30 + ["sideways"] * 20
    expected = (one_cycle * 3)[:250]
    for _, group in prices.groupby("symbol"):
        assert group["regime"].tolist() == expected


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n_symbols": 0}, "n_symbols"),
        ({"n_days": 1.5}, "n_days"),
        ({"seed": -1}, "seed"),
        ({"drift_speed": -0.1}, "drift_speed"),
        ({"mean_regime_days": 0.5}, "mean_regime_days"),
        ({"signal_strength": float("nan")}, "signal_strength"),
        ({"start": "not a date"}, "start"),
        ({"regime_schedule": [("boom", 10)]}, "unknown regime"),
        ({"regime_schedule": [("bull", 0)]}, "days"),
        ({"regime_schedule": []}, "non-empty"),
        ({"n_days": 100, "regime_schedule": [("bull", 101)]}, "more than n_days"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        SyntheticMarket(**kwargs)


def test_signal_is_momentum_in_bull_and_mean_reversion_in_sideways() -> None:
    def correlation(regime: str, **kwargs: float) -> float:
        market = SyntheticMarket(
            seed=7, n_symbols=3, n_days=3000, regime_schedule=[(regime, 3000)], **kwargs
        )
        prices = market.fetch()
        return float(
            np.mean(
                [lag_one_correlation(g["close"].to_numpy()) for _, g in prices.groupby("symbol")]
            )
        )

    assert correlation("bull", signal_strength=1.0) > 0.1
    assert correlation("sideways", signal_strength=1.0) < -0.1
    assert abs(correlation("bull", signal_strength=0.0, drift_speed=0.0)) < 0.05
    # The default is realistic: a lag-one correlation of a few hundredths.
    assert 0.0 < correlation("bull", drift_speed=0.0) < 0.06
    assert -0.08 < correlation("sideways", drift_speed=0.0) < 0.0


def test_drift_makes_the_relationship_move_within_a_regime() -> None:
    def spread(drift_speed: float) -> float:
        market = SyntheticMarket(
            seed=3,
            n_symbols=4,
            n_days=3000,
            drift_speed=drift_speed,
            regime_schedule=[("bull", 3000)],
        )
        return float(windowed_lag_one(market.fetch()).std())

    fixed, drifting = spread(0.0), spread(0.05)
    # Fixed coefficients: windows differ by sampling noise only (about 1/sqrt(250) = 0.06).
    assert fixed < 0.12
    assert drifting > 2 * fixed


def test_a_twin_has_the_same_regimes_and_drift_and_other_noise() -> None:
    def market(seed: int, **kwargs) -> SyntheticMarket:
        return SyntheticMarket(
            seed=seed, n_symbols=4, n_days=3000, drift_speed=0.05, signal_strength=1.0,
            regime_schedule=[("bull", 700), ("sideways", 300)], **kwargs,
        )  # fmt: skip

    original, twin, stranger = market(5).fetch(), market(5).twin(1).fetch(), market(6).fetch()
    assert (original["regime"].to_numpy() == twin["regime"].to_numpy()).all()
    assert not np.allclose(original["close"], twin["close"])
    # Windowed predictability follows the coefficient path: shared by the twin, not by a
    # market of another seed.
    mine, theirs = windowed_lag_one(original, 100), windowed_lag_one(twin, 100)
    other = windowed_lag_one(stranger, 100)
    shared = np.corrcoef(mine, theirs)[0, 1]
    assert shared > 0.5, shared
    assert shared > np.corrcoef(mine, other)[0, 1] + 0.3
    # A twin is itself reproducible, and the default noise is the seed's own.
    again = market(5).twin(1).fetch()
    assert (again["close"].to_numpy() == twin["close"].to_numpy()).all()
    assert market(5).noise_seed is None


def test_strong_signal_and_fast_drift_keep_returns_stationary() -> None:
    market = SyntheticMarket(
        seed=0,
        n_symbols=4,
        n_days=3000,
        signal_strength=3.0,
        drift_speed=0.1,
        regime_schedule=[("bull", 3000)],
    )
    prices = market.fetch()
    returns = np.log(prices["close"]).groupby(prices["symbol"]).diff().dropna()

    validate_prices(prices, origin="strong market")
    # Unchecked, coefficients this large make the return process explosive.
    assert returns.std() < 3 * REGIME_PARAMS["bull"].sigma
    assert returns.abs().max() < 0.2


def test_regime_parameters_are_public_and_ordered_as_documented() -> None:
    assert REGIMES == ("bull", "bear", "sideways")
    assert REGIME_PARAMS["bull"].mu > 0 > REGIME_PARAMS["bear"].mu
    assert (
        REGIME_PARAMS["bear"].sigma > REGIME_PARAMS["bull"].sigma > REGIME_PARAMS["sideways"].sigma
    )


def test_fetch_of_an_empty_or_inverted_range_raises() -> None:
    market = SyntheticMarket(seed=0, n_symbols=1, n_days=50)
    with pytest.raises(DataError, match="synthetic market: no prices between"):
        market.fetch("2030-01-01", "2030-12-31")
    with pytest.raises(DataError, match="after end"):
        market.fetch("2015-02-01", "2015-01-01")
    with pytest.raises(DataError, match="not a valid date"):
        market.fetch("yesterday-ish")


# --- S&P 500 ----------------------------------------------------------------------------------


def test_sp500_loads_offline_with_the_contract() -> None:
    source = SP500Source()
    prices = source.fetch()

    validate_prices(prices, origin="sp500")
    assert prices["symbol"].unique().tolist() == ["SPX"]
    assert prices["date"].min() == pd.Timestamp("1999-01-04")
    assert prices["date"].max().year == 2018
    assert {"open", "high", "low", "close", "volume"} <= set(prices.columns)
    lehman = source.fetch("2008-09-15", "2008-09-15")
    assert lehman["close"].item() == pytest.approx(1192.699951)
    assert source.fetch() is not prices  # callers get their own frame
    pd.testing.assert_frame_equal(source.fetch(), prices)


# --- contract ---------------------------------------------------------------------------------


def _break(kind: str) -> pd.DataFrame:
    prices = make_prices(n_days=5)
    if kind == "missing column":
        return prices.drop(columns="close")
    if kind == "non-positive close":
        return prices.assign(close=prices["close"].where(prices.index != 3, 0.0))
    if kind == "duplicate":
        return pd.concat([prices.iloc[:1], prices]).reset_index(drop=True)
    if kind == "unsorted":
        return prices.iloc[::-1].reset_index(drop=True)
    if kind == "date unit":
        return prices.assign(date=prices["date"].astype("datetime64[us]"))
    if kind == "time of day":
        return prices.assign(date=prices["date"] + pd.Timedelta(hours=9))
    if kind == "bad regime":
        return prices.assign(regime="boom")
    if kind == "index":
        return prices.set_index(prices.index + 1)
    if kind == "integer close":
        return prices.assign(close=1)
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        ("missing column", "missing required column"),
        ("non-positive close", "'close' must be > 0 (first bad row 3)"),
        ("duplicate", "duplicate (date, symbol)"),
        ("unsorted", "sorted by (symbol, date)"),
        ("date unit", "datetime64[ns]"),
        ("time of day", "midnight"),
        ("bad regime", "'regime' must be one of"),
        ("index", "RangeIndex"),
        ("integer close", "float64"),
    ],
)
def test_validate_prices_names_the_origin_and_the_problem(kind: str, fragment: str) -> None:
    with pytest.raises(DataError) as caught:
        validate_prices(_break(kind), origin="my-feed")
    assert str(caught.value).startswith("my-feed: ")
    assert fragment in str(caught.value)


# --- resolve_source ---------------------------------------------------------------------------


def test_resolve_source_builds_each_kind(tmp_path) -> None:
    path = tmp_path / "prices.csv"
    make_prices(n_days=3).to_csv(path, index=False)

    synthetic = resolve_source("synthetic", seed=9)
    assert isinstance(synthetic, SyntheticMarket) and synthetic.seed == 9
    assert isinstance(resolve_source(" SP500 "), SP500Source)
    from_file = resolve_source(str(path))
    assert isinstance(from_file, FileSource)
    assert len(from_file.fetch()) == 6
    for source in (synthetic, from_file, SP500Source()):
        assert isinstance(source, DataSource)


@pytest.mark.parametrize("spec", ["yahoo", "missing.csv", ""])
def test_resolve_source_lists_the_choices_when_unknown(spec: str) -> None:
    with pytest.raises(DataError) as caught:
        resolve_source(spec)
    message = str(caught.value)
    assert "expected 'synthetic', 'sp500', 'sp500-stocks', the path of an existing" in message
    assert "a database URL with ?table= or ?query=" in message


def test_sp500_stocks_come_from_skfolio_data_without_importing_skfolio() -> None:
    import sys

    from online_learning.data import SP500_STOCKS, SP500StocksSource
    from online_learning.execution import resolve_execution
    from online_learning.features import build_features

    prices = resolve_source("sp500-stocks").fetch("2022-01-03", "2022-12-28")
    assert sorted(prices["symbol"].unique()) == sorted(SP500_STOCKS)
    assert prices.groupby("symbol").size().eq(249).all()
    assert "open" not in prices.columns  # closes only: positions fill at the next close
    assert resolve_execution("auto", build_features(prices)) == "next-close"
    assert "skfolio" not in sys.modules
    with pytest.raises(DataError, match="unknown symbols \\['TSLA'\\]"):
        SP500StocksSource(symbols=["KO", "TSLA"])
