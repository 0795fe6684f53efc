"""``up``, ``relay`` and ``events``: the platform's long-lived parts on embedded defaults."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.table import Table

from cli._common import (
    DataOpt,
    SeedOpt,
    app,
    configuration,
    console,
    fail,
    fmt,
    log_to_stderr,
    registry,
    settings,
    source,
    store,
)
from cli.models_cmd import train_models
from cli.update_cmd import print_outcomes, run_updates
from online_learning.errors import OnlineLearningError
from online_learning.urls import redact


@dataclass
class Services:
    store: object
    bootstrap_servers: str | None
    relay: object | None
    broker: object | None


@contextmanager
def platform_services(*, embedded_broker: bool) -> Iterator[Services]:
    """The metrics store, a Kafka broker (embedded unless one is configured) and the relay."""
    from cli.broker import EmbeddedKafka
    from online_learning.events.kafka import KafkaPublisher, ensure_topics
    from online_learning.events.relay import OutboxRelay

    config = settings()
    metrics_store = store()
    broker = None
    bootstrap = config.kafka_bootstrap_servers
    publisher = None
    try:
        if bootstrap is None and embedded_broker:
            log = config.home.expanduser() / "logs" / "kafka.log"
            broker = EmbeddedKafka(log_path=log).start()
            bootstrap = broker.bootstrap_servers
        relay = None
        if bootstrap:
            topics = [config.model_updates_topic, config.trade_outcomes_topic]
            extra = [config.model_drift_topic, config.trade_outcomes_dlq_topic]
            ensure_topics(bootstrap, [*topics, *extra, config.predictions_topic])
            publisher = KafkaPublisher(bootstrap)
            relay = OutboxRelay(metrics_store, publisher)
        yield Services(metrics_store, bootstrap, relay, broker)
    finally:
        if publisher is not None:
            publisher.close()
        if broker is not None:
            broker.stop()
        metrics_store.dispose()


def read_events(bootstrap: str, topic: str, *, expected: int, timeout: float = 30.0) -> list[dict]:
    """Read ``topic`` from the start as a new consumer group member."""
    from confluent_kafka import Consumer

    from online_learning.events.kafka import consumer_config

    consumer = Consumer(consumer_config(bootstrap, f"online-learning-cli-{uuid.uuid4().hex[:8]}"))
    consumer.subscribe([topic])
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                if len(events) >= expected:
                    break
                continue
            events.append(json.loads(message.value()))
    finally:
        consumer.close()
    return events


def print_events(events: list[dict], *, title: str) -> None:
    table = Table(title=title)
    for column in ("event id", "model", "decision", "stability_check", "version",
                   "Sharpe pre", "Sharpe post", "degr. %", "job"):  # fmt: skip
        table.add_column(column)
    for e in events:
        table.add_row(
            e["event_id"][:8], e["model_id"], e["decision"], e["stability_check"],
            fmt(e.get("version")), fmt(e.get("sharpe_pre")), fmt(e.get("sharpe_post")),
            fmt(e.get("degradation_pct"), "+.1f"), e["job_id"][:8],
        )  # fmt: skip
    console.print(table)


def record_recent_performance(metrics_store, data: str | None, seed: int, *, days: int) -> None:
    """Record each champion's realised returns of the last ``days`` trading days and show them."""
    from online_learning.update.performance import record_recent_performance as record

    record(
        store=metrics_store,
        registry=registry(),
        sources=lambda recorded: source(data or recorded or "synthetic", seed),
        model_ids=configuration().ids,
        days=days,
    )
    table = Table(title=f"Realised performance of the champions, last {days} trading days")
    for column in ("model", "days", "Sharpe 7d", "Sharpe 30d", "hit rate", "max drawdown"):
        table.add_column(column)
    for model_id in configuration().ids:
        summary = metrics_store.performance_summary(model_id, days=days)
        table.add_row(
            model_id, str(summary["n_days"]),
            fmt(metrics_store.calculate_recent_sharpe(model_id, days=7)),
            fmt(summary["sharpe"]), fmt(summary["hit_rate"], ".1%"),
            fmt(summary["max_drawdown"], ".2%"),
        )  # fmt: skip
    console.print(table)


@app.command()
def up(
    data: DataOpt = None,
    seed: SeedOpt = 0,
    holdout_days: Annotated[int, typer.Option(min=0, help="Days kept out of the bootstrap.")] = 60,
    serve: Annotated[
        bool,
        typer.Option(
            help="Keep running: Prefect server, served deployments, feedback worker, relay."
        ),
    ] = True,
    market: Annotated[
        bool, typer.Option(help="With --serve: a simulated market posts trade outcomes.")
    ] = True,
    market_speed: Annotated[
        float, typer.Option(min=0.1, max=1000, help="Simulated trading days per second.")
    ] = 5.0,
    api_port: Annotated[
        int,
        typer.Option(min=0, max=65535, help="With --serve: port of the serving API (0: any free)."),
    ] = 8000,
    metrics_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            envvar="ONLINE_LEARNING_METRICS_PORT",
            help="With --serve: port of the feedback worker's and relay's /metrics (0: any free).",
        ),
    ] = 0,
) -> None:
    """Start the platform on embedded defaults: bootstrap, one update round, events on Kafka.

    Starts a Kafka-protocol broker (tansu) unless KAFKA_BOOTSTRAP_SERVERS is set, bootstraps
    the three specialists if the registry has none, runs one daily update round through the
    recorded path, relays its events and reads them back from the broker. With ``--serve``
    (the default) it then starts a local Prefect server (unless PREFECT_API_URL is set), serves
    the ``daily-update`` and ``drift-adaptation`` deployments, starts the serving API
    (``online-learning serve`` in a child process, with the development key unless
    ``ONLINE_LEARNING_API_KEYS`` is set) and prints its URL, the dashboard's URL and the key,
    runs a feedback worker on the broker and a simulated market whose rally turns from
    momentum to reversal after 200 trading days (40 s at the default speed) and which asks the
    API for predictions and posts its outcomes there, and relays events until Ctrl-C. With the
    built-in configuration, the specialists learn that market (feedback/market_data.py): they
    bootstrap on its history and every update reads its closes as the days settle.
    """

    simulated = market_data_plan() if serve and market and data is None else None
    config = settings()
    console.print(
        f"data directory: {config.home}\nMLflow: {config.tracking_uri}\n"
        f"metrics store: {config.metrics_database_url}"
    )
    try:
        with platform_services(embedded_broker=True) as services:
            kind = "embedded broker" if services.broker else "Kafka"
            console.print(f"{kind}: {services.bootstrap_servers}")
            models = configuration().ids
            missing = [m for m in models if registry().champion_version(m) is None]
            if missing:
                where = redact(data) if data else "their configured data"
                console.print(f"bootstrapping {', '.join(missing)} on {where} (seed {seed})")
                train_models(missing, data, seed, None, None, holdout_days, 40, 1e-3, True)
            outcomes = run_updates(models, data, seed, None, {}, services.store)
            print_outcomes(outcomes)
            report = services.relay.relay_once()
            console.print(f"outbox: {report.published} event(s) delivered, {report.failed} waiting")
            events = read_events(
                services.bootstrap_servers,
                config.model_updates_topic,
                expected=report.published,
            )
            print_events(events, title=f"Events on {config.model_updates_topic}")
            record_recent_performance(services.store, data, seed, days=30)
            if serve:
                serve_until_interrupted(
                    services, market=market, days_per_s=market_speed, api_port=api_port,
                    metrics_port=metrics_port, simulated=simulated,
                )  # fmt: skip
    except OnlineLearningError as exc:
        raise fail(str(exc)) from exc


def market_data_plan():
    """With the built-in configuration, the simulated market becomes the models' data (see
    :mod:`feedback.market_data`): its history is written, its configuration is the one this
    process and its children read. None (and a line saying why) when the home's models learned
    other data; None without a line under a team's own configuration."""
    from feedback.demo import DEMO_SEED
    from feedback.market_data import market_plan
    from online_learning.configuration.loading import BUILTIN_CONFIGURATION, configuration_path
    from online_learning.settings import CONFIG_ENV, get_settings

    if configuration_path() != BUILTIN_CONFIGURATION:
        return None
    models_registry = registry()

    def recorded() -> set[str | None]:
        definitions = (models_registry.champion_definition(m) for m in configuration().ids)
        return {d.data for d in definitions if d is not None}

    plan = market_plan(settings().home.expanduser(), seed=DEMO_SEED, recorded_data=recorded)
    if isinstance(plan, str):
        console.print(f"simulated market: {plan}", soft_wrap=True)
        return None
    simulated, path = plan
    os.environ[CONFIG_ENV] = str(path)
    get_settings.cache_clear()
    console.print(
        f"models' configuration: {path} (the built-in specialists on the simulated market's "
        f"closes, {simulated.feed.path})",
        soft_wrap=True,
    )
    return simulated


def serve_until_interrupted(
    services: Services,
    *,
    market: bool = True,
    days_per_s: float = 5.0,
    api_port: int = 8000,
    metrics_port: int = 0,
    simulated=None,
) -> None:
    """Serve the Prefect deployments and the API, run a feedback worker (and the simulated
    market) and relay outbox events until Ctrl-C.

    The API (a child process), the feedback worker and the relay (threads) are supervised: one
    that dies is restarted with a growing delay, and a line says so.
    """
    from cli.api_process import api_process, example_agent
    from feedback.demo import feedback_demo
    from flows.serve import orchestration
    from online_learning.monitoring.health import serve_metrics
    from online_learning.supervision import Supervisor, ThreadChild

    config = settings()
    log_to_stderr()
    with contextlib.ExitStack() as stack:
        prefect = stack.enter_context(orchestration(config.home.expanduser()))
        if prefect.served:
            console.print(
                f"Prefect UI: {prefect.ui_url}; daily-update (weekdays 17:30 America/New_York) "
                "and drift-adaptation (on online_learning.drift.detected) are live."
            )
        else:
            console.print(
                f"Prefect: {prefect.api_url}; the 'online-learning' work pool's workers run "
                "the deployments (`prefect deploy --all`)"
            )
        supervisor = stack.enter_context(
            Supervisor(say=lambda line: console.print(f"supervisor: {line}", soft_wrap=True))
        )
        api = stack.enter_context(
            api_process(
                home=config.home.expanduser(),
                bootstrap_servers=services.bootstrap_servers,
                prefect_api_url=prefect.api_url,
                port=api_port,
                supervisor=supervisor,
            )
        )
        console.print(
            f"API: {api.api_url} (OpenAPI docs at {api.api_url}/docs; log {api.log_path})\n"
            f"dashboard: {api.dashboard_url}",
            soft_wrap=True,
        )
        if api.key is not None:
            where = "created in" if api.created_key else "from"
            console.print(
                f"development API key ({where} {config.home / 'api-key'}, admin scope): {api.key}",
                soft_wrap=True,
            )
        if market:
            agent_log = stack.enter_context(example_agent(api, home=config.home.expanduser()))
            if agent_log is not None:
                console.print(
                    "example agent (examples/trading_agent.py): trades AGT0, AGT1, AGT2 through "
                    f"the SDK, bars in, outcomes back, a day a second; log {agent_log}",
                    soft_wrap=True,
                )
        stop = threading.Event()
        # SIGTERM (a supervisor, `kill`) stops as cleanly as Ctrl-C: children are stopped.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        host = settings().metrics_host
        port = serve_metrics(metrics_port, host=host)
        console.print(f"metrics of the feedback worker and the relay: http://{host}:{port}/metrics")
        relay = services.relay
        supervisor.add(ThreadChild("outbox relay", lambda child_stop: relay.run(child_stop, 1.0)))
        with feedback_demo(
            config, services.store, services.bootstrap_servers, say=console.print,
            prefect_api_url=prefect.api_url, market=market, days_per_s=days_per_s,
            api=(api.api_url, api.key) if api.key is not None else None, supervisor=supervisor,
            simulated=simulated,
        ):  # fmt: skip
            console.print(
                f"feedback worker on {config.trade_outcomes_topic} "
                f"(group {config.feedback_group}). Ctrl-C stops."
            )
            try:
                stop.wait()
            except KeyboardInterrupt:
                console.print("stopping")
            finally:
                stop.set()


@app.command()
def relay(
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep relaying until interrupted.")
    ] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between passes.")] = 1.0,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            envvar="ONLINE_LEARNING_METRICS_PORT",
            help="With --follow: serve Prometheus /metrics on this port (0: any free).",
        ),
    ] = None,
) -> None:
    """Deliver the outbox's pending events to Kafka (KAFKA_BOOTSTRAP_SERVERS).

    With ``--follow`` it waits for the metrics store and the broker at start-up and rides out
    their outages (backing off, logging each outage once) until SIGTERM or Ctrl-C.
    """
    if not settings().kafka_bootstrap_servers:
        raise fail("set KAFKA_BOOTSTRAP_SERVERS (or --kafka-bootstrap-servers) to relay events")
    try:
        if follow:
            _follow(interval, metrics_port)
            return
        with platform_services(embedded_broker=False) as services:
            report = services.relay.relay_once()
            console.print(f"{report.published} event(s) delivered, {report.failed} waiting")
    except OnlineLearningError as exc:
        raise fail(str(exc)) from exc


def _follow(interval: float, metrics_port: int | None) -> None:
    from confluent_kafka import KafkaException

    from online_learning.events.kafka import KafkaPublisher, ensure_topics
    from online_learning.events.relay import OutboxRelay
    from online_learning.metrics_store import MetricsStore, StoreUnavailableError
    from online_learning.monitoring.health import ComponentHealth, serve_metrics, wait_until

    config = settings()
    log_to_stderr()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    health = ComponentHealth("outbox_relay")
    if metrics_port is not None:
        host = config.metrics_host
        console.print(f"metrics: http://{host}:{serve_metrics(metrics_port, host=host)}/metrics")
    bootstrap = config.kafka_bootstrap_servers
    metrics_store = MetricsStore.from_settings(config)
    topics = [config.model_updates_topic, config.model_drift_topic]
    try:
        if not wait_until(metrics_store.migrate, health=health, dependency="metrics store",
                          stop=stop, retry_on=(StoreUnavailableError,)):  # fmt: skip
            return
        if not wait_until(lambda: ensure_topics(bootstrap, topics), health=health,
                          dependency="broker", stop=stop,
                          retry_on=(KafkaException, RuntimeError)):  # fmt: skip
            return
        publisher = KafkaPublisher(bootstrap)
        console.print(f"relaying to {bootstrap}; Ctrl-C stops")
        try:
            OutboxRelay(metrics_store, publisher).run(stop, interval_s=interval, health=health)
        finally:
            publisher.close()
    finally:
        metrics_store.dispose()
