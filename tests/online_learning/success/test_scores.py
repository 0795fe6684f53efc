"""Online vs batch, business impact and freshness on hand-made trades whose answers are
computed here by hand."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from online_learning.metrics_store.ledger_records import Component, LedgerTrade
from online_learning.success.freshness import ServedChampion, freshness
from online_learning.success.scores import business_impact, component_scores

T0 = datetime(2026, 3, 2, 21, tzinfo=UTC)


def trade(i, symbol="AAA", *, r=0.01, position=0.5, rule=None, components=None, p_up=None):
    return LedgerTrade(f"t-{i}", symbol, "bull", T0 + timedelta(days=i), r, position * r,
                       position=position, rule_position=rule, p_up=p_up,
                       components=components or {})  # fmt: skip


def test_the_ml_added_pnl_is_the_blend_minus_the_rule_alone():
    trades = [
        trade(0, r=0.02, position=0.6, rule=1.0),  # 0.012 - 0.02 = -0.008
        trade(1, r=-0.01, position=-0.2, rule=0.5),  # 0.002 + 0.005 = 0.007
        trade(2, "BBB", r=0.03, position=0.4, rule=0.0),  # 0.012
        trade(3, r=0.05, position=1.0),  # no rule recorded: not counted
    ]
    impact = {row.symbol: row for row in business_impact(trades)}
    assert set(impact) == {"*", "AAA", "BBB"}
    assert impact["*"].n_trades == 3
    assert impact["*"].blended_pnl == pytest.approx(0.012 + 0.002 + 0.012)
    assert impact["*"].rules_pnl == pytest.approx(0.02 - 0.005 + 0.0)
    assert impact["*"].ml_added_pnl == pytest.approx(-0.008 + 0.007 + 0.012)
    assert impact["AAA"].ml_added_pnl == pytest.approx(-0.001)
    assert impact["BBB"].ml_added_low is None  # one trade: no interval


def test_a_constant_gain_has_no_uncertainty_and_a_noisy_one_has_some():
    steady = [trade(i, r=0.01, position=0.5, rule=0.25) for i in range(30)]
    [row] = [x for x in business_impact(steady) if x.symbol == "*"]
    assert row.ml_added_pnl == pytest.approx(30 * 0.0025)
    assert row.ml_added_low == pytest.approx(row.ml_added_pnl)
    assert row.ml_added_high == pytest.approx(row.ml_added_pnl)
    noisy = [trade(i, r=0.01 * (-1) ** i * (1 + i % 3), position=0.5, rule=0.25)
             for i in range(60)]  # fmt: skip
    [row] = [x for x in business_impact(noisy) if x.symbol == "*"]
    assert row.ml_added_low < row.ml_added_pnl < row.ml_added_high
    wider = next(x for x in business_impact(noisy, confidence=0.99) if x.symbol == "*")
    assert wider.ml_added_low <= row.ml_added_low and wider.ml_added_high >= row.ml_added_high
    with pytest.raises(ValueError, match="confidence"):
        business_impact(noisy, confidence=1.0)


def test_many_trades_are_resampled_in_groups_that_keep_their_sum():
    """Beyond 2,000 trades the bootstrap resamples sums of consecutive groups: a constant gain
    still has a zero-width interval at its total, and alternating signs still cancel."""
    steady = [trade(i, r=0.01, position=0.5, rule=0.25) for i in range(5_001)]
    [row] = [x for x in business_impact(steady, n_boot=50) if x.symbol == "*"]
    assert row.ml_added_pnl == pytest.approx(5_001 * 0.0025)
    assert row.ml_added_low == pytest.approx(row.ml_added_pnl)
    assert row.ml_added_high == pytest.approx(row.ml_added_pnl)
    noisy = [trade(i, r=0.01 * (-1) ** i, position=0.5, rule=0.25) for i in range(5_000)]
    [row] = [x for x in business_impact(noisy, n_boot=200) if x.symbol == "*"]
    assert row.ml_added_pnl == pytest.approx(0.0, abs=1e-12)
    assert row.ml_added_low < 0 < row.ml_added_high


def test_online_and_batch_are_scored_on_the_same_trades():
    both = {"bull": Component("batch", 0.8, 3.0), "bear": Component("batch", 0.4, 1.0),
            "online_session": Component("online", 0.3, 0.0)}  # fmt: skip
    no_weights = {"bull": Component("batch", 0.9, 0.0), "bear": Component("batch", 0.5, 0.0),
                  "online_session": Component("online", 0.6, 1.0)}  # fmt: skip
    trades = [
        trade(0, r=0.01, components=both, p_up=0.65),  # batch (0.8*3+0.4)/4 = 0.7
        trade(1, r=-0.02, components=no_weights, p_up=0.6),  # batch (0.9+0.5)/2 = 0.7
        trade(2, r=0.03, components={"bull": Component("batch", 0.2, 1.0)}),  # no online part
    ]
    scores = {(s.symbol, s.kind, s.component): s for s in component_scores(trades)}
    batch, online = scores["*", "batch", "*"], scores["*", "online", "*"]
    served = scores["*", "served", "*"]
    assert batch.n_trades == online.n_trades == served.n_trades == 2
    assert batch.hit_rate == 0.5 and online.hit_rate == 0.0 and served.hit_rate == 0.5
    assert batch.pnl == pytest.approx(0.4 * 0.01 + 0.4 * -0.02)
    assert online.pnl == pytest.approx(-0.4 * 0.01 + 0.2 * -0.02)
    assert batch.log_loss == pytest.approx(-(math.log(0.7) + math.log(0.3)) / 2)
    assert online.log_loss == pytest.approx(-(math.log(0.3) + math.log(0.4)) / 2)
    assert scores["AAA", "online", "*"] == type(online)(**{**online.__dict__, "symbol": "AAA"})
    # Each specialist on its own, on the same two trades: bull 0.8 then 0.9, bear 0.4 then 0.5.
    bull, bear = scores["*", "batch", "bull"], scores["*", "batch", "bear"]
    assert bull.n_trades == bear.n_trades == 2
    assert bull.pnl == pytest.approx(0.6 * 0.01 + 0.8 * -0.02)
    assert bear.hit_rate == 0.5 and bear.pnl == pytest.approx(-0.2 * 0.01 + 0.0)  # 0.5: "down"


def test_a_certain_wrong_view_costs_a_bounded_log_loss():
    sure = {"bull": Component("batch", 1.0, 1.0), "online_session": Component("online", 0.0, 0.0)}
    [batch, online] = [s for s in component_scores([trade(0, r=-0.01, components=sure)])
                       if s.symbol == "*" and s.component == "*"]  # fmt: skip
    assert batch.log_loss == pytest.approx(-math.log(1e-6))
    assert online.log_loss == pytest.approx(-math.log(1 - 1e-6))


def test_freshness_ages_and_their_means():
    now = datetime(2026, 3, 10, 6, tzinfo=UTC)
    champions = [
        ServedChampion("bull", "4", date(2026, 3, 6), now - timedelta(days=1, hours=12),
                       now - timedelta(days=1, hours=12) + timedelta(seconds=9)),
        ServedChampion("bear", "2", date(2026, 3, 1), now - timedelta(days=5), now),
        ServedChampion("legacy", "1", None, None, now - timedelta(days=40)),
    ]  # fmt: skip
    fresh = freshness(champions, [("SIM0", "s-0", 10, now - timedelta(minutes=2)),
                                  ("SIM1", "s-1", 0, None)], now=now)  # fmt: skip
    ages = {a.model_id: a for a in fresh.champions}
    assert ages["bull"].data_age_days == 4.25 and ages["bear"].data_age_days == 9.25
    assert ages["bull"].promotion_age_days == 1.5 and ages["bull"].serving_lag_s == 9.0
    assert ages["legacy"].data_age_days is None and ages["legacy"].serving_lag_s is None
    assert fresh.mean_data_age_days == (4.25 + 9.25) / 2
    assert fresh.mean_promotion_age_days == (1.5 + 5) / 2
    assert fresh.max_checkpoint_age_s == 120.0
    with pytest.raises(ValueError, match="timezone"):
        freshness([], [], now=datetime(2026, 3, 10))


def test_a_ledger_row_reads_back_field_by_field(tmp_path):
    """The ledger's declaration is its table: every field is a column, and a row written by
    the feedback path's writer reads back equal."""
    from online_learning.metrics_store import MetricsStore
    from online_learning.metrics_store.tables import trade_ledger
    from online_learning.metrics_store.trade_ledger import TradeLedger, insert_trades

    assert {c.name for c in trade_ledger.columns} == {*LedgerTrade._fields, "recorded_at"}
    store = MetricsStore(f"sqlite:///{tmp_path / 'metrics.db'}")
    store.migrate()
    written = [
        LedgerTrade("t-1", "AAA", "bull", T0, 0.01, 0.004, 0.4, "p-1", 0.7, -0.2, 0.4,
                    {"bull": Component("batch", 0.7, 1.0)}, "bull"),
        LedgerTrade("t-2", "BBB", None, T0 + timedelta(days=1), -0.02, 0.0),
    ]  # fmt: skip
    with store.writing("test") as connection:
        insert_trades(connection, written, T0)
    assert TradeLedger(store).trades() == written
    store.dispose()
