"""``feedback-worker``: learn trade outcomes from Kafka, watch drift, request adaptations."""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Annotated

import typer

from cli._common import app, console, fail, log_to_stderr, settings
from online_learning.errors import OnlineLearningError


@app.command("feedback-worker")
def feedback_worker(
    partitions: Annotated[
        int, typer.Option(min=1, max=1000, help="Partitions of trade-outcomes if it is created.")
    ] = 4,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000, help="Messages per poll.")] = 2000,
    commit_interval: Annotated[
        float | None,
        typer.Option(min=0.01, max=300, help="Seconds between recordings (default: settings)."),
    ] = None,
    worker_id: Annotated[str | None, typer.Option(help="Name in the group and the store.")] = None,
    relay: Annotated[bool, typer.Option(help="Relay outbox events (model_drift) to Kafka.")] = True,
    notify_prefect: Annotated[
        bool, typer.Option(help="Send adaptation requests to Prefect (PREFECT_API_URL).")
    ] = True,
    manager: Annotated[bool, typer.Option(help="Run the adaptive model manager.")] = True,
    any_model: Annotated[
        bool, typer.Option(help="Accept any model id instead of the registry's models.")
    ] = False,
    verbose: Annotated[bool, typer.Option(help="One JSON line per processed batch.")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            envvar="ONLINE_LEARNING_METRICS_PORT",
            help="Serve Prometheus /metrics (state, outages, dead letters) on this port (0: any).",
        ),
    ] = None,
) -> None:
    """Consume trade-outcomes in the group online-learning-feedback until SIGTERM or Ctrl-C.

    Several workers (on one machine or many, against the same KAFKA_BOOTSTRAP_SERVERS and
    ONLINE_LEARNING_DATABASE_URL) split the partitions; each learns the symbols of its own.
    At start-up it waits for the metrics store and the broker; while the store is down it
    pauses and resumes where it stood (one JSON status line every 10 s says so).
    """
    from feedback.process import FeedbackProcess, wait_for_dependencies
    from feedback.worker import _worker_id
    from online_learning.metrics_store import MetricsStore
    from online_learning.monitoring.health import ComponentHealth, serve_metrics

    config = settings()
    if not config.kafka_bootstrap_servers:
        raise fail("set KAFKA_BOOTSTRAP_SERVERS (or --kafka-bootstrap-servers) to consume outcomes")
    log_to_stderr()
    stop = threading.Event()

    def _stop(*_args) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    def report(event: dict) -> None:
        print(json.dumps(event), flush=True)  # machine-readable progress

    worker_id = worker_id or _worker_id()
    health = ComponentHealth("feedback_worker", instance=worker_id)
    if metrics_port is not None:
        port = serve_metrics(metrics_port, host=config.metrics_host)
        report({"event": "metrics", "url": f"http://{config.metrics_host}:{port}/metrics"})
    try:
        metrics_store = MetricsStore.from_settings(config)
        topics = [
            ([config.trade_outcomes_topic], partitions),
            ([config.trade_outcomes_dlq_topic, config.model_drift_topic], 1),
        ]
        ready = wait_for_dependencies(
            metrics_store, config.kafka_bootstrap_servers, topics, health=health, stop=stop
        )
        if not ready:  # stopped while waiting
            return
        process = FeedbackProcess(
            config,
            metrics_store,
            health=health,
            partitions=partitions,
            batch_size=batch_size,
            commit_interval_s=commit_interval,
            worker_id=worker_id,
            relay=relay,
            notify_prefect=notify_prefect,
            manager=manager,
            any_model=any_model,
            on_batch=report if verbose else None,
        )
        console.print(
            f"feedback worker {process.worker.worker_id}: {config.trade_outcomes_topic} in group "
            f"{config.feedback_group} on {config.kafka_bootstrap_servers}; Ctrl-C stops"
        )
        sys.stdout.flush()
        process.run(stop, report=report)
    except OnlineLearningError as exc:
        raise fail(str(exc)) from exc
