"""Causal features: no look-ahead, correct labels, finite values, warm-up handling."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from online_learning.data import SyntheticMarket
from online_learning.errors import DataError
from online_learning.features import (
    FEATURE_COLUMNS,
    WARMUP_ROWS,
    build_features,
    classify_regime,
    labelled,
)
from tests.utils.price_frames import make_prices

CAUSAL_COLUMNS = ["date", "symbol", *FEATURE_COLUMNS, "regime_label", "true_regime"]


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return SyntheticMarket(seed=5, n_symbols=3, n_days=400).fetch()


@pytest.fixture(scope="module")
def features(prices: pd.DataFrame) -> pd.DataFrame:
    return build_features(prices)


def test_no_look_ahead_features_up_to_t_ignore_later_prices(
    prices: pd.DataFrame, features: pd.DataFrame
) -> None:
    dates = np.sort(prices["date"].unique())
    rng = np.random.default_rng(0)
    for cut in dates[[WARMUP_ROWS + 1, 150, 271, len(dates) - 2]]:
        expected = features.loc[features["date"] <= cut, CAUSAL_COLUMNS].reset_index(drop=True)

        truncated = build_features(prices[prices["date"] <= cut])
        pd.testing.assert_frame_equal(truncated[CAUSAL_COLUMNS], expected)

        # A wildly different future must not change the past either.
        future = prices["date"] > cut
        altered = prices.copy()
        altered.loc[future, "close"] *= rng.uniform(0.5, 2.0, size=int(future.sum()))
        rebuilt = build_features(altered)
        past = rebuilt.loc[rebuilt["date"] <= cut, CAUSAL_COLUMNS].reset_index(drop=True)
        pd.testing.assert_frame_equal(past, expected)


def test_target_is_the_sign_of_the_next_days_return(
    prices: pd.DataFrame, features: pd.DataFrame
) -> None:
    next_close = prices.groupby("symbol")["close"].shift(-1)
    truth = prices.assign(
        expected_forward=np.log(next_close / prices["close"]),
        rises=next_close > prices["close"],
    )[["date", "symbol", "expected_forward", "rises"]]
    merged = features.merge(truth, on=["date", "symbol"], how="left", validate="one_to_one")

    np.testing.assert_allclose(
        merged["forward_return"], merged["expected_forward"], rtol=0, atol=1e-13
    )
    known = merged["expected_forward"].notna()
    assert (merged.loc[known, "target"] == merged.loc[known, "rises"].astype(float)).all()
    # Each symbol's last day has no next day: no label, and labelled() drops it.
    last_days = features.groupby("symbol")["date"].transform("max") == features["date"]
    assert features.loc[last_days, "target"].isna().all()
    assert features.loc[~last_days, "target"].isin([0.0, 1.0]).all()
    assert len(labelled(features)) == (~last_days).sum()
    assert labelled(features)["target"].notna().all()


def test_zero_forward_return_is_a_negative_target() -> None:
    prices = make_prices(("AAA",), n_days=WARMUP_ROWS + 3)
    prices.loc[len(prices) - 1, "close"] = prices.loc[len(prices) - 2, "close"]
    features = build_features(prices)
    assert features["forward_return"].iloc[-2] == 0.0
    assert features["target"].iloc[-2] == 0.0


def test_feature_columns_are_finite_and_float32_safe(features: pd.DataFrame) -> None:
    values = features[list(FEATURE_COLUMNS)].to_numpy()
    assert np.isfinite(values).all()
    assert np.isfinite(values.astype(np.float32)).all()
    assert 8 <= len(FEATURE_COLUMNS) <= 10


def test_warm_up_rows_are_dropped(prices: pd.DataFrame, features: pd.DataFrame) -> None:
    for symbol, group in prices.groupby("symbol"):
        got = features.loc[features["symbol"] == symbol, "date"]
        assert got.tolist() == group["date"].iloc[WARMUP_ROWS:].tolist()
    with pytest.raises(DataError, match="features need"):
        build_features(prices.groupby("symbol").head(WARMUP_ROWS))


def test_features_match_their_definitions_on_one_row(
    prices: pd.DataFrame, features: pd.DataFrame
) -> None:
    close = prices.loc[prices["symbol"] == "SYN01", "close"].to_numpy()
    t = 200
    row = features[features["symbol"] == "SYN01"].iloc[t - WARMUP_ROWS]
    returns = np.diff(np.log(close[: t + 1]))
    vol_21 = returns[-21:].std(ddof=1)

    assert row["ret_5"] == pytest.approx(math.log(close[t] / close[t - 5]))
    assert row["ret_21"] == pytest.approx(math.log(close[t] / close[t - 21]))
    assert row["vol_10"] == pytest.approx(returns[-10:].std(ddof=1))
    assert row["z_ret_1"] == pytest.approx(returns[-1] / vol_21)
    assert row["z_ret_5"] == pytest.approx(returns[-5:].sum() / (vol_21 * math.sqrt(5)))
    assert row["mom_21"] == pytest.approx(close[t] / close[t - 20 : t + 1].mean() - 1)
    trend = returns[-63:].mean() / returns[-63:].std(ddof=1) * math.sqrt(63)
    assert row["trend_63"] == pytest.approx(trend)
    assert row["regime_label"] == classify_regime(trend)


def test_flat_prices_give_zero_scores_not_infinities() -> None:
    prices = make_prices(("FLAT",), n_days=WARMUP_ROWS + 10).assign(close=100.0)
    features = build_features(prices)
    values = features[list(FEATURE_COLUMNS)].to_numpy()
    assert np.isfinite(values).all()
    assert (features[["z_ret_1", "z_ret_5", "trend_63"]] == 0.0).all().all()
    assert (features["regime_label"] == "sideways").all()


def test_input_order_and_index_do_not_matter(prices: pd.DataFrame, features: pd.DataFrame) -> None:
    shuffled = prices.sample(frac=1.0, random_state=1)
    shuffled = shuffled.assign(date=shuffled["date"].astype("datetime64[us]"))
    pd.testing.assert_frame_equal(build_features(shuffled), features)


def test_true_regime_is_carried_only_when_the_source_has_it(features: pd.DataFrame) -> None:
    assert "true_regime" in features.columns
    assert "true_regime" not in build_features(make_prices(n_days=80)).columns


def test_regime_label_tracks_the_true_regime() -> None:
    market = SyntheticMarket(
        seed=2,
        n_symbols=6,
        n_days=1200,
        regime_schedule=[("bull", 300), ("bear", 300)],
        market_correlation=0.0,  # six independent paths, not one market seen six times
    )
    features = build_features(market.fetch())
    share = pd.crosstab(features["true_regime"], features["regime_label"], normalize="index")
    assert share.loc["bull", "bull"] > share.loc["bear", "bull"] + 0.15
    assert share.loc["bear", "bear"] > share.loc["bull", "bear"]


def test_classify_regime_thresholds() -> None:
    assert classify_regime(1.0001) == "bull"
    assert classify_regime(1.0) == "sideways"
    assert classify_regime(-1.0) == "sideways"
    assert classify_regime(-1.0001) == "bear"
    labels = classify_regime(pd.Series([2.0, 0.0, -2.0]))
    assert isinstance(labels, np.ndarray)
    assert labels.tolist() == ["bull", "sideways", "bear"]
    with pytest.raises(ValueError, match="NaN"):
        classify_regime(np.array([0.5, np.nan]))
