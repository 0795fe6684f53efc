"""``feedback-worker``: learn trade outcomes from Kafka, watch drift, request adaptations."""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Annotated

import typer

from cli._common import app, console, fail, settings, store
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
) -> None:
    """Consume trade-outcomes in the group online-learning-feedback until SIGTERM or Ctrl-C.

    Several workers (on one machine or many, against the same KAFKA_BOOTSTRAP_SERVERS and
    ONLINE_LEARNING_DATABASE_URL) split the partitions; each learns the symbols of its own.
    """
    from feedback.process import FeedbackProcess

    config = settings()
    if not config.kafka_bootstrap_servers:
        raise fail("set KAFKA_BOOTSTRAP_SERVERS (or --kafka-bootstrap-servers) to consume outcomes")
    stop = threading.Event()

    def _stop(*_args) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    def report(event: dict) -> None:
        print(json.dumps(event), flush=True)  # machine-readable progress

    try:
        process = FeedbackProcess(
            config,
            store(),
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
