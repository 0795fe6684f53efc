"""``make run``'s models learn the market its desk trades: the rally turns from momentum to
reversal inside what a causal classifier keeps calling a bull market, its closes are published
as the days settle, and ``up`` points the built-in specialists at them."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from feedback.market_data import (
    COOLDOWN_S,
    HISTORY_DAYS,
    RALLY_SCHEDULE,
    DemoMarket,
    MarketFeed,
    market_plan,
    write_configuration,
)
from online_learning.configuration import load_configuration
from online_learning.configuration.loading import BUILTIN_CONFIGURATION
from online_learning.data import resolve_source
from online_learning.feedback.simulator import SimulatedMarket
from online_learning.settings import CONFIG_ENV, Settings


@pytest.fixture(scope="module")
def rally() -> SimulatedMarket:
    return SimulatedMarket(3, seed=11, schedule=RALLY_SCHEDULE)


def test_the_rally_turns_from_momentum_to_reversal_and_stays_a_bull_market(rally) -> None:
    frame = rally._features()
    change = DemoMarket(rally, HISTORY_DAYS).change
    assert change == 950 and rally.phase_at(change - 1) == "momentum_rally"
    assert rally.phase_at(change) == "reverting_rally"

    def lag_one(phase: str) -> float:
        rows = frame[frame["phase"] == phase].sort_values(["symbol", "date"])
        pairs = [(g["ret_1"].to_numpy()[:-1], g["ret_1"].to_numpy()[1:])
                 for _, g in rows.groupby("symbol")]  # fmt: skip
        x, y = (np.concatenate(side) for side in zip(*pairs, strict=True))
        return float(np.corrcoef(x, y)[0, 1])

    assert lag_one("momentum_rally") > 0.35 and lag_one("reverting_rally") < -0.35
    for phase in ("momentum_rally", "reverting_rally"):
        labels = frame.loc[frame["phase"] == phase, "regime_label"]
        assert (labels == "bull").mean() > 0.65, phase  # most are the bull specialist's days
    # Every specialist has days of its regime in the history the models bootstrap on.
    history = frame[frame["date"] <= rally.step_date(HISTORY_DAYS - 1)]
    counts = history["regime_label"].value_counts()
    assert min(counts[r] for r in ("bull", "bear", "sideways")) >= 150, counts


def test_the_feed_publishes_each_settled_close_and_a_file_source_reads_it(tmp_path) -> None:
    market = SimulatedMarket(2, seed=0, schedule=[("bull", 30), ("sideways", 10)])
    path = tmp_path / "market" / "prices.csv"
    feed = MarketFeed(market, path)
    feed.publish(9)

    def read():  # a source reads its file once; each update resolves its own
        return resolve_source(str(path)).fetch()

    first = read()
    assert first["date"].max() == market.step_date(10)  # the close that settles day 9
    prices = market.prices().set_index(["date", "symbol"])["close"]
    closes = first.set_index(["date", "symbol"])["close"]
    assert np.allclose(closes.to_numpy(), prices.loc[closes.index].to_numpy(), rtol=1e-6)
    feed.publish(20)
    assert read()["date"].max() == market.step_date(21)
    last = len(list(market.days())) - 1
    feed.publish(last)  # the last day settles on the calendar's last close
    assert read()["date"].max() == market.prices()["date"].max()
    assert sorted(p.name for p in path.parent.iterdir()) == ["prices.csv"]  # nothing partial


def test_the_configuration_puts_the_built_in_specialists_on_the_market(
    tmp_path, monkeypatch
) -> None:
    prices = tmp_path / "market" / "prices.csv"
    path = write_configuration(tmp_path / "market", prices)
    models, builtin = load_configuration(path), load_configuration(BUILTIN_CONFIGURATION)
    assert models.ids == builtin.ids
    for model_id in models.ids:
        model, original = models.model(model_id), builtin.model(model_id)
        assert model.data == str(prices)
        assert (model.regime, model.network, model.window_days) == (
            original.regime, original.network, original.window_days
        )  # fmt: skip
        assert model.update_settings().learning_rate == 5e-3
    monkeypatch.delenv("ONLINE_LEARNING_DRIFT_COOLDOWN_S", raising=False)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert Settings().drift_cooldown_s == 4 * 3600.0  # the platform's default
    monkeypatch.setenv(CONFIG_ENV, str(path))  # what `up` sets for itself and its children
    assert Settings().drift_cooldown_s == COOLDOWN_S


def test_market_plan_writes_the_history_unless_the_models_learned_other_data(tmp_path) -> None:
    home = tmp_path / "home"
    plan = market_plan(home, seed=11, recorded_data=set)
    assert not isinstance(plan, str)
    demo, config = plan
    assert demo.start == HISTORY_DAYS and demo.feed.path == home / "market" / "prices.csv"
    prices = resolve_source(str(demo.feed.path)).fetch()
    assert prices["date"].max() == demo.market.step_date(HISTORY_DAYS)
    assert demo.market.prices()["date"].max().date() < date.today()  # no day in the future
    assert load_configuration(config).model("bull_specialist").data == str(demo.feed.path)
    # A restart on the same home (its champions learned the file) plans the market again.
    again = market_plan(home, seed=11, recorded_data=lambda: {str(demo.feed.path)})
    assert not isinstance(again, str)
    refused = market_plan(home, seed=11, recorded_data=lambda: {"synthetic", None})
    assert isinstance(refused, str)
    assert "learned synthetic, unnamed data" in refused and "ONLINE_LEARNING_HOME" in refused
