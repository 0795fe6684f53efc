"""One rule for returns: executable timing and costs, in the backtest, the gate and the store."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from online_learning.backtest.config import NETWORK_POLICIES, BacktestConfig
from online_learning.backtest.environments import data_environment
from online_learning.backtest.harness import run_backtest
from online_learning.execution import (
    daily_net_returns,
    executed_returns,
    net_returns,
    position_from_p_up,
    resolve_execution,
)
from online_learning.features import FEATURE_COLUMNS, build_features, labelled
from online_learning.models import RegimeSpecialist
from online_learning.stats import sharpe_ratio, sharpe_standard_error
from online_learning.update.gate import StabilityGate
from online_learning.update.performance import realised_performance
from tests.utils.markets import BounceMarket

#: All five policies on 60 evaluated days of the bounce market; retrains every 20 days.
BOUNCE = BacktestConfig(
    horizons=(30,), update_every=2, bootstrap_epochs=30, retrain_every=20, retrain_window=200
)


@pytest.fixture(scope="module")
def bounce_runs():
    market = BounceMarket(seed=3)
    start = sorted(market.fetch()["date"].unique())[330].date()
    runs = {}
    for execution in ("auto", "same-close"):
        config = dataclasses.replace(BOUNCE, update=BOUNCE.update.replace(execution=execution))
        env = data_environment(market, config, start=start)
        runs[execution] = run_backtest(env, 0, config)
    return runs


def test_bounce_pays_only_at_the_close_the_signal_has_seen(bounce_runs):
    # Under the default (next open: the market has opens) no policy's Sharpe ratio is
    # distinguishable from zero; trading at the same close, every one of them looks brilliant.
    default, research = bounce_runs["auto"], bounce_runs["same-close"]
    assert set(default.returns) == set(NETWORK_POLICIES)
    for policy in NETWORK_POLICIES:
        sharpe = sharpe_ratio(default.returns[policy])
        n = len(default.returns[policy])
        assert abs(sharpe) < 1.96 * sharpe_standard_error(sharpe, n), (policy, sharpe)
        assert sharpe_ratio(research.returns[policy]) > 6.0, policy


def test_every_policy_pays_costs_on_its_turnover(bounce_runs):
    run = bounce_runs["auto"]
    for policy in NETWORK_POLICIES:
        assert (run.turnover[policy] >= 0).all()
        assert run.turnover[policy].mean() > 0.01, policy
        # 5 bps per unit traded, of the book's (equal-weight) turnover, every day.
        np.testing.assert_allclose(run.costs[policy], 5e-4 * run.turnover[policy], atol=1e-12)


def test_the_timings_read_the_prices_they_name():
    prices = BounceMarket(seed=1, n_symbols=1, n_days=90).fetch()
    rows = labelled(build_features(prices))
    opens = prices.set_index("date")["open"]
    closes = prices.set_index("date")["close"]
    days = list(prices["date"])
    row = rows.iloc[5]
    i = days.index(row["date"])
    expected = {
        "same-close": closes.iloc[i + 1] / closes.iloc[i] - 1,
        "next-close": closes.iloc[i + 2] / closes.iloc[i + 1] - 1,
        "next-open": opens.iloc[i + 2] / opens.iloc[i + 1] - 1,
    }
    for execution, value in expected.items():
        assert executed_returns(rows.iloc[[5]], execution)[0] == pytest.approx(value)
    assert resolve_execution("auto", rows) == "next-open"
    # Without opens, the earliest fill is the next close; the last days are not priced yet.
    closes_only = labelled(build_features(prices.drop(columns=["open"])))
    assert resolve_execution("auto", closes_only) == "next-close"
    assert np.isnan(executed_returns(closes_only, "auto")[-1])


def test_costs_are_charged_per_unit_traded():
    symbols = np.array(["A", "B", "A", "B"])
    positions = np.array([0.5, -1.0, -0.5, -1.0])
    returns = np.array([0.01, 0.02, -0.01, 0.0])
    net, turnover = net_returns(
        symbols, positions, returns, cost_bps=10, previous={"A": 0.5, "B": 0.0}
    )
    np.testing.assert_allclose(turnover, [0.0, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(net, positions * returns - 1e-3 * turnover)
    assert position_from_p_up(0.9) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="probabilities"):
        position_from_p_up(1.5)


def test_gate_and_metrics_store_price_like_the_backtest():
    # The same model, rows and rule give the same daily returns in all three places.
    prices = BounceMarket(seed=2, n_symbols=3, n_days=150).fetch()
    rows = labelled(build_features(prices)).dropna(subset=["return_next_open"]).tail(30)
    torch.manual_seed(0)
    model = RegimeSpecialist(FEATURE_COLUMNS, hidden=(4,))
    model.set_normalization(rows.loc[:, list(FEATURE_COLUMNS)].to_numpy(np.float32))
    positions = position_from_p_up(
        model.predict_proba(rows.loc[:, list(FEATURE_COLUMNS)].to_numpy(np.float32))
    )
    book = daily_net_returns(rows, positions, execution="auto", cost_bps=5)
    report = StabilityGate().check(
        old_model=model,
        new_model=model,
        validation=rows,
        inputs=rows.loc[:, list(FEATURE_COLUMNS)].to_numpy(np.float32),
    )
    assert report.execution == "next-open" and report.passed
    assert report.sharpe_pre == pytest.approx(sharpe_ratio(book.net.to_numpy()))
    stored = realised_performance(model, rows, model_id="m")
    by_day = pd.Series([r.strategy_return for r in stored], [r.date for r in stored])
    np.testing.assert_allclose(by_day.groupby(level=0).mean().to_numpy(), book.net.to_numpy())
    assert all(math.isfinite(r.market_return) for r in stored)
