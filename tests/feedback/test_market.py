"""What ``make run`` shows: on the simulated market, sessions learn and a drift fires after
the regime change (and not before)."""

from __future__ import annotations

import uuid

from feedback.demo import DEMO_SEED, feedback_demo
from online_learning.features import FEATURE_COLUMNS
from online_learning.feedback.session_store import SessionStore
from online_learning.feedback.simulator import MomentumDesk, SimulatedMarket, trade_outcomes
from online_learning.feedback.trade_outcome import parse_trade_outcome
from online_learning.metrics_store import MetricsStore
from online_learning.metrics_store.drift_store import DriftStore
from online_learning.settings import Settings
from tests.utils.waiting import wait_for


def test_the_simulated_market_follows_its_schedule_and_its_seed() -> None:
    market = SimulatedMarket(2, seed=3, schedule=[("bull", 30), ("bear", 20)])
    days = list(market.days())
    assert len(days) == 50 and market.change_steps == [30]
    assert {t.regime for day in days[:30] for t in day} == {"bull"}
    assert {t.regime for day in days[30:] for t in day} == {"bear"}
    assert all(set(t.features) == set(FEATURE_COLUMNS) for day in days for t in day)
    again = list(SimulatedMarket(2, seed=3, schedule=[("bull", 30), ("bear", 20)]).days())
    assert [t.realized_return for t in again[10]] == [t.realized_return for t in days[10]]
    other = list(SimulatedMarket(2, seed=4, schedule=[("bull", 30), ("bear", 20)]).days())
    assert [t.realized_return for t in other[10]] != [t.realized_return for t in days[10]]
    # The momentum desk earns in the bull market and loses after it.
    desk = MomentumDesk()
    pnl = [[o["pnl"] for o in trade_outcomes(day, desk, run_id="t")] for day in days]
    for outcome in trade_outcomes(days[0], desk, run_id="t"):
        parse_trade_outcome(outcome, feature_names=FEATURE_COLUMNS, known_model_ids=None)
    assert sum(map(sum, pnl[:30])) > 0 > sum(map(sum, pnl[30:]))


def test_make_run_sessions_learn_and_a_drift_fires_after_the_regime_change(broker, tmp_path):
    topic = f"trade-outcomes-{uuid.uuid4().hex[:8]}"
    config = Settings(
        home=tmp_path, kafka_bootstrap_servers=broker.bootstrap_servers,
        trade_outcomes_topic=topic, trade_outcomes_dlq_topic=f"{topic}-dlq",
        model_drift_topic=f"{topic}-drift", feedback_group=f"g-{uuid.uuid4().hex[:8]}",
        feedback_commit_interval_s=0.2,
    )  # fmt: skip
    store = MetricsStore(config.metrics_database_url)
    store.migrate()
    said: list[str] = []
    market = SimulatedMarket(3, seed=DEMO_SEED)
    total = 3 * sum(days for _, days in market.schedule)
    with feedback_demo(config, store, broker.bootstrap_servers, say=said.append,
                       prefect_api_url=None, days_per_s=400, report_every_s=0.5,
                       any_model=True):  # fmt: skip
        wait_for(lambda: sum(c.samples_seen for c in SessionStore(store).list()) >= total,
                 timeout_s=120, what="the whole simulated market learned")  # fmt: skip
        wait_for(lambda: any(line.startswith("online sessions:") for line in said),
                 timeout_s=30, what="a report of the sessions")  # fmt: skip

    checkpoints = SessionStore(store).list()
    assert {c.symbol for c in checkpoints} == set(market.symbols)
    assert all(c.samples_seen == total // 3 for c in checkpoints)
    assert all(c.metrics["rolling_accuracy"] is not None for c in checkpoints)
    history = DriftStore(store).history(model_id="bull_specialist")
    change = market.change_steps[0]
    assert history, said
    assert all(r.n_outcomes > change for r in history)  # none before the regime change
    assert sum(r.adaptation_requested for r in history) == 1
    assert any(line.startswith("drift: bull_specialist") for line in said)
    assert any("online sessions:" in line for line in said)
    store.dispose()
