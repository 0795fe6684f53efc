"""Drift on realised outcomes reaches Kafka and Prefect; outages of either never stop learning."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter
from prefect.settings import PREFECT_API_URL, temporary_settings

from cli.broker import EmbeddedKafka, free_port
from flows.deployments import DRIFT_ADAPTATION
from flows.events import DRIFT_EVENT, emit_drift_event
from online_learning.events.kafka import KafkaPublisher, ensure_topics
from online_learning.events.relay import OutboxRelay
from online_learning.feedback.notifier import AdaptationNotifier
from online_learning.feedback.service import FeedbackService
from online_learning.metrics_store import MetricsStore
from online_learning.metrics_store.drift_store import DriftStore
from tests.feedback.helpers import WorkerProcess, count, produce
from tests.flows.helpers import bootstrap_specialists, flow_runs_of
from tests.utils.topics import read_topic
from tests.utils.trade_outcomes import outcome_stream
from tests.utils.waiting import wait_for

MODEL = "bear_specialist"
CHANGE = 300
RUN_TIMEOUT_S = 300


def _drifting(symbols, n: int = 650) -> list[dict]:
    items = []
    for i, symbol in enumerate(symbols):
        items += outcome_stream(n, symbol=symbol, model_id=MODEL, seed=40 + i, change_at=CHANGE)
    return items


def _drift_events(api_url: str, since: datetime) -> list:
    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        page = client.read_events(EventFilter(event=EventNameFilter(name=[DRIFT_EVENT])), limit=50)
    return [e for e in page.events if e.occurred >= since]


@pytest.fixture
def served(prefect_api, home, monkeypatch):
    """The deployments of prefect.yaml served by a child with this test's home."""
    from flows.serve import serving

    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    with serving(prefect_api, log_path=home / "serve.log", poll_seconds=1) as process:
        yield process


def test_a_drift_burst_gives_kafka_events_and_starts_one_adaptation_run(
    deployment, store, registry, served, prefect_api
):
    bootstrap_specialists(registry, models=(MODEL,))
    ensure_topics(deployment.bootstrap, [deployment.topic], partitions=3)
    drift_topic = f"{deployment.topic}-drift"
    before = {run.id for run in flow_runs_of(DRIFT_ADAPTATION)}
    since = datetime.now(UTC) - timedelta(seconds=1)
    symbols = ("AAA", "BBB", "CCC")
    items = _drifting(symbols)
    produce(deployment.bootstrap, deployment.topic, items)

    # Model ids are checked against the registry (bear_specialist exists there).
    worker = WorkerProcess(deployment, "drifting", "--commit-interval", "0.5", any_model=False,
                           prefect_api_url=prefect_api)  # fmt: skip
    try:
        wait_for(lambda: count(store.engine, "processed_trades") >= len(items), timeout_s=120,
                 what="every outcome learned")  # fmt: skip
        history = DriftStore(store).history(model_id=MODEL)
        assert {r.symbol for r in history} == set(symbols)  # a burst: every symbol drifted
        assert all(r.n_outcomes - 1 >= CHANGE for r in history)  # none before the change
        events = read_topic(deployment.bootstrap, drift_topic, expected=len(history))
        runs = wait_for(
            lambda: [r for r in flow_runs_of(DRIFT_ADAPTATION) if r.id not in before
                     and r.state and r.state.is_final()],
            timeout_s=RUN_TIMEOUT_S, what="the adaptation run to finish", every_s=1.0,
        )  # fmt: skip
        time.sleep(5)  # a straggler of the burst would start a second run by now
        runs = [r for r in flow_runs_of(DRIFT_ADAPTATION) if r.id not in before]
    finally:
        assert worker.stop() == 0, worker.tail()

    payloads = [json.loads(m.value()) for m in events]
    assert {p["event_id"] for p in payloads} == {r.drift_id for r in history}
    for payload in payloads:
        assert payload["event_type"] == "model_drift" and payload["model_id"] == MODEL
        assert payload["schema_version"] == 1 and payload["reason"] == "drift"
        assert payload["detectors"] and payload["n_outcomes"] > CHANGE
        assert set(payload["statistics"]["detectors"]) == {"adwin", "page_hinkley",
                                                           "losing_trades"}  # fmt: skip
    assert all(m.key().decode() == MODEL for m in events)
    # One request got through the model's cool-down, and the server got exactly it.
    requested = [r for r in DriftStore(store).history(model_id=MODEL) if r.adaptation_requested]
    assert len(requested) == 1 and requested[0].prefect_status == "sent"
    [prefect_event] = [e for e in _drift_events(prefect_api, since)
                       if e.resource.id == f"online_learning.model.{MODEL}"
                       and "drift_id" in e.payload["details"]]  # fmt: skip
    assert prefect_event.payload["details"]["drift_id"] == requested[0].drift_id
    assert prefect_event.payload["symbol"] == requested[0].symbol
    assert [(r.parameters["model_id"], r.parameters["reason"]) for r in runs] == [(MODEL, "drift")]
    assert runs[0].state.is_completed(), runs[0].state


def test_outages_of_prefect_and_the_broker_never_stop_learning(prefect_server, tmp_path):
    store = MetricsStore(f"sqlite:///{tmp_path / 'metrics.db'}")
    store.migrate()
    service = FeedbackService(store=store)  # no broker at all: outcomes learned in-process
    notifier = AdaptationNotifier(DriftStore(store), emit_drift_event, first_retry_s=1.0)
    dead = f"http://127.0.0.1:{free_port()}/api"
    items = _drifting(("AAA",), n=600)

    with temporary_settings({PREFECT_API_URL: dead}):
        for start in range(0, len(items), 100):
            results = service.submit(items[start : start + 100])
            assert {r.status for r in results} == {"accepted"}
            assert notifier.notify_once() == 0  # Prefect is down: counted, not raised
    assert service.list_sessions()[0].samples_seen == 600
    [request] = [r for r in service.drift_history() if r.adaptation_requested]
    stored = DriftStore(store).history()
    assert request.prefect_status == "pending"
    assert notifier.failures >= 1 and "Connect" in notifier.last_error
    assert next(r for r in stored if r.drift_id == request.drift_id).prefect_attempts >= 1
    # The drift's Kafka event waits in the outbox while there is no broker.
    waiting = [e for e in store.pending_events() if e.topic == "model-drift"]
    assert {e.event_id for e in waiting} == {r.drift_id for r in stored}
    assert service.drift_status()[0].adaptation_running  # requested, not yet delivered

    since = datetime.now(UTC) - timedelta(seconds=5)
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
        later = datetime.now(UTC) + timedelta(minutes=2)  # past the retry delay
        assert notifier.notify_once(now=later) == 1
    delivered = next(r for r in DriftStore(store).history() if r.drift_id == request.drift_id)
    assert delivered.prefect_status == "sent"
    [event] = wait_for(
        lambda: [e for e in _drift_events(prefect_server.api_url, since)
                 if e.payload["details"].get("drift_id") == request.drift_id],
        timeout_s=30, what="the server to store the event",
    )  # fmt: skip
    assert event.payload["reason"] == "drift" and event.payload["symbol"] == "AAA"

    with EmbeddedKafka() as broker:  # the broker is back: the relay delivers what waited
        ensure_topics(broker.bootstrap_servers, ["model-drift"])
        publisher = KafkaPublisher(broker.bootstrap_servers)
        assert OutboxRelay(store, publisher).relay_once().published == len(waiting)
        publisher.close()
        arrived = read_topic(broker.bootstrap_servers, "model-drift", expected=len(waiting))
    assert {json.loads(m.value())["event_id"] for m in arrived} == {e.event_id for e in waiting}
    store.dispose()
