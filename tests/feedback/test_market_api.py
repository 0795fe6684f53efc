"""The whole of ``make run``'s live part: the simulated market asks the serving API (a child
process, as ``up`` starts it) for predictions and posts its outcomes there, and so does the
example agent through the SDK; the API hands them to ``trade-outcomes``, the feedback worker
learns them, and a dashboard's WebSocket sees the predictions and the outcomes of its symbol."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid

import httpx
import websockets

from cli.api_process import api_process, example_agent
from feedback.demo import DEMO_SEED, feedback_demo
from online_learning.feedback.session_store import SessionStore
from online_learning.feedback.simulator import SimulatedMarket
from online_learning.metrics_store import MetricsStore
from online_learning.metrics_store.drift_store import DriftStore
from online_learning.metrics_store.trade_ledger import TradeLedger
from online_learning.settings import Settings
from tests.utils.api_keys import bearer
from tests.utils.registries import register_specialists
from tests.utils.waiting import wait_for


def _frames(url: str, key: str, stop: threading.Event, into: list[dict]) -> None:
    async def read() -> None:
        async with websockets.connect(url, additional_headers=bearer(key)) as socket:
            while not stop.is_set():
                try:
                    into.append(json.loads(await asyncio.wait_for(socket.recv(), 0.5)))
                except TimeoutError:
                    continue

    asyncio.run(read())


def test_the_market_trades_through_the_api_and_the_stream_shows_it(
    broker, home, registry, monkeypatch
):
    register_specialists(registry)
    suffix = uuid.uuid4().hex[:8]
    topics = {
        "ONLINE_LEARNING_TRADE_OUTCOMES_TOPIC": f"trade-outcomes-{suffix}",
        "ONLINE_LEARNING_TRADE_OUTCOMES_DLQ_TOPIC": f"trade-outcomes-dlq-{suffix}",
        "ONLINE_LEARNING_MODEL_DRIFT_TOPIC": f"model-drift-{suffix}",
        "ONLINE_LEARNING_PREDICTIONS_TOPIC": f"predictions-{suffix}",
        "ONLINE_LEARNING_MODEL_UPDATES_TOPIC": f"model-updates-{suffix}",
        "ONLINE_LEARNING_FEEDBACK_GROUP": f"g-{suffix}",
        "ONLINE_LEARNING_FEEDBACK_COMMIT_INTERVAL_S": "0.2",
    }
    for name, value in topics.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ONLINE_LEARNING_API_KEYS", raising=False)
    config = Settings(kafka_bootstrap_servers=broker.bootstrap_servers)
    store = MetricsStore(config.metrics_database_url)
    store.migrate()
    market = SimulatedMarket(3, seed=DEMO_SEED)
    total = 3 * sum(days for _, days in market.schedule)
    symbols = set(market.symbols)
    said: list[str] = []
    frames: list[dict] = []
    stop = threading.Event()
    with api_process(
        home=home, bootstrap_servers=broker.bootstrap_servers, prefect_api_url=None, port=0
    ) as api:
        assert api.created_key and (home / "api-key").read_text().strip() == api.key
        stream = f"{api.url.replace('http', 'ws', 1)}/api/v1/streaming/SIM0"
        reader = threading.Thread(target=_frames, args=(stream, api.key, stop, frames))
        reader.start()
        wait_for(lambda: any(f["type"] == "hello" for f in frames), timeout_s=30,
                 what="the stream's hello")  # fmt: skip
        try:
            with feedback_demo(config, store, broker.bootstrap_servers, say=said.append,
                               prefect_api_url=None, days_per_s=100, report_every_s=1.0,
                               api=(api.api_url, api.key)), \
                    example_agent(api, home=home, interval_s=0.05) as agent_log:  # fmt: skip
                assert agent_log is not None  # the repository's example is there
                market_learned = lambda: sum(  # noqa: E731
                    c.samples_seen for c in SessionStore(store).list() if c.symbol in symbols
                )
                wait_for(lambda: market_learned() >= total, timeout_s=300,
                         what="every outcome the market posted to the API learned")  # fmt: skip
                wait_for(
                    lambda: {"AGT0", "AGT1", "AGT2"}
                    <= {c.symbol for c in SessionStore(store).list() if c.samples_seen >= 5},
                    timeout_s=120, what="the example agent's outcomes learned",
                )  # fmt: skip
                metrics = httpx.get(f"{api.api_url}/metrics", timeout=10).text
                wait_for(lambda: any("change -> drift " in line and "— outcomes" not in line
                                     for line in said),
                         timeout_s=60, what="the demo's report of the detection delay")  # fmt: skip

                def full_summary() -> dict | None:  # the API recomputes it every 10 s
                    answer = httpx.get(f"{api.api_url}/metrics/summary", timeout=30,
                                       headers=bearer(api.key)).json()  # fmt: skip
                    return answer if answer["headline"]["impact_trades"] >= total else None

                summary = wait_for(full_summary, timeout_s=60,
                                   what="a summary of every trade the market made")  # fmt: skip
        finally:
            stop.set()
            reader.join(timeout=30)

    checkpoints = [c for c in SessionStore(store).list() if c.symbol in symbols]
    assert {c.symbol for c in checkpoints} == symbols
    assert all(c.samples_seen == total // 3 for c in checkpoints)  # each outcome learned once
    # The market's drifts (the example agent's symbols drift on their own schedule).
    history = [
        r for r in DriftStore(store).history(model_id="bull_specialist") if r.symbol in symbols
    ]
    assert history and all(r.n_outcomes > market.change_steps[0] for r in history)
    served = [f for f in frames if f["type"] == "prediction"]
    outcomes = [f for f in frames if f["type"] == "outcome"]
    assert served and outcomes, [f["type"] for f in frames][:20]
    assert {f["symbol"] for f in served + outcomes} == {"SIM0"}  # only the chosen symbol
    assert all(c["kind"] == "batch" for c in served[0]["components"])
    assert any(c["kind"] == "online" for f in served[-5:] for c in f["components"])
    seqs = [f["seq"] for f in frames if "seq" in f and f["type"] != "hello"]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert "online_learning" in metrics and "/api/v1/predictions" in metrics
    # The desk blended its rule with the predictions through the SDK: every one of its trades
    # recorded the rule's own position and the components, and carried the true regime, so
    # the change's detection delay is measured from the regime's turn.
    ledger = [t for t in TradeLedger(store).trades() if t.symbol in symbols]
    assert len(ledger) == total
    assert all(t.rule_position is not None and t.components for t in ledger)
    assert summary["headline"]["impact_trades"] >= total
    # Each drift that requested an adaptation is an episode; its delay counts the symbol's
    # outcomes from the turn to the detecting one. (Which symbol's drift comes first, and so
    # requests the adaptation while the others fall in its cool-down, depends on the order the
    # worker read the partitions in.)
    episodes = [e for e in summary["episodes"] if e["symbol"] in symbols]
    drifts = {r.drift_id: r for r in history}
    assert episodes and all(drifts[e["drift_id"]].adaptation_requested for e in episodes)
    change = market.change_steps[0]
    for episode in episodes:
        expected = drifts[episode["drift_id"]].n_outcomes - change
        assert episode["detection_delay_outcomes"] == expected, episode
    store.dispose()
