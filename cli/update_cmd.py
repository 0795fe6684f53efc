"""``update``: incremental EWC updates, recorded with their events, and the result table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from cli._common import (
    EXIT_DEFERRED,
    EXIT_PROMOTED,
    EXIT_ROLLED_BACK,
    DataOpt,
    ModelIds,
    SeedOpt,
    app,
    configuration,
    console,
    err_console,
    fail,
    fmt,
    parse_date,
    progress,
    registry,
    settings,
    source,
)
from cli.settings_options import with_update_settings
from online_learning.errors import OnlineLearningError


def update_metrics():
    """Prometheus metrics of this run, continuing the textfile a previous run left."""
    from online_learning.monitoring import UpdateMetrics

    path = settings().metrics_textfile
    return UpdateMetrics.from_textfile(path) if path else UpdateMetrics()


def publish_metrics(metrics) -> None:
    config = settings()
    if config.metrics_textfile:
        config.metrics_textfile.parent.mkdir(parents=True, exist_ok=True)
        metrics.write_textfile(config.metrics_textfile)
    if config.pushgateway_url:
        try:
            metrics.push(config.pushgateway_url, job="online-learning")
        except OSError as exc:
            err_console.print(f"[yellow]warning:[/] Pushgateway {config.pushgateway_url}: {exc}")


def run_updates(
    model_ids: Sequence[str],
    data: str | None,
    seed: int,
    as_of: date | None,
    overrides: dict,
    metrics_store,
) -> list:
    """Update each model through the recorded path (history row and ``model_update`` event),
    each with its configured settings and data (``data`` and ``overrides`` win)."""
    from online_learning.configuration.plans import update_plan
    from online_learning.update.learner import OnlineLearner
    from online_learning.update.service import run_update

    models_registry, models, markets = registry(), configuration(), {}

    def recorded(model_id: str):
        definition = models_registry.champion_definition(model_id)
        return lambda: None if definition is None else definition.data

    plans = [
        update_plan(models, m, overrides=overrides, data=data, seed=seed, as_of=as_of,
                    recorded_data=recorded(m))
        for m in model_ids
    ]  # fmt: skip
    metrics = update_metrics()
    topic = settings().model_updates_topic
    outcomes = []
    with progress() as bar:
        task = bar.add_task("update", total=None)
        for plan in plans:
            market = markets.get(plan.data) or markets.setdefault(
                plan.data, source(plan.data, seed)
            )
            learner = OnlineLearner(
                models_registry, market, progress=lambda msg: bar.update(task, description=msg)
            )
            with metrics.track(plan.config.model_id):
                outcomes.append(
                    run_update(
                        learner=learner,
                        store=metrics_store,
                        config=plan.config,
                        definition=plan.definition,
                        topic=topic,
                        observer=metrics,
                    )
                )
    publish_metrics(metrics)
    return outcomes


def exit_code(outcomes) -> int:
    """0 when all were promoted, 3 when any was rolled back, else 4 (some were deferred)."""
    decisions = {o.decision for o in outcomes}
    if "rolled_back" in decisions:
        return EXIT_ROLLED_BACK
    return EXIT_DEFERRED if "deferred" in decisions else EXIT_PROMOTED


def print_outcomes(outcomes) -> None:
    table = Table(title="Incremental update")
    columns = ("model", "decision", "champion", "Sharpe pre", "Sharpe post", "degr. %",
               "train/val rows", "time s", "reason")  # fmt: skip
    for column in columns:
        table.add_column(column)
    for o in outcomes:
        colour = {"promoted": "green", "deferred": "cyan"}.get(o.decision, "yellow")
        table.add_row(
            o.model_id, f"[{colour}]{o.decision}[/]", f"v{o.serving_version}", fmt(o.sharpe_pre),
            fmt(o.sharpe_post), fmt(o.degradation_pct, "+.1f"),
            f"{o.n_train}/{o.n_validation}", fmt(o.duration_s, ".2f"), o.reason,
        )  # fmt: skip
    console.print(table)
    for o in outcomes:
        if not o.promoted:
            console.print(f"  {o.model_id}: {o.detail}; champion stays at v{o.champion_version}")


def relay_now(metrics_store, out=console) -> None:
    """Deliver pending events when a Kafka cluster is configured; otherwise say they wait."""
    bootstrap = settings().kafka_bootstrap_servers
    waiting = len(metrics_store.pending_events(limit=10_000))
    if not waiting:
        return
    if not bootstrap:
        out.print(
            f"{waiting} event(s) wait in the outbox; `online-learning relay` or "
            "`online-learning up` delivers them"
        )
        return
    from online_learning.events.kafka import KafkaPublisher
    from online_learning.events.relay import OutboxRelay

    publisher = KafkaPublisher(bootstrap, delivery_timeout_s=5.0)
    try:
        report = OutboxRelay(metrics_store, publisher).relay_once()
    finally:
        publisher.close()
    out.print(f"events: {report.published} delivered to {bootstrap}, {report.failed} waiting")


@app.command()
@with_update_settings
def update(
    model_ids: ModelIds = None,
    preset: Annotated[
        str,
        typer.Option(
            help="Settings of learning rate, EWC lambda and epochs: 'default' (measured) or "
            "'conservative' (the seed's 1e-5 / 1000 / 10: barely moves the model); the "
            "options below override it."
        ),
    ] = "default",
    as_of: Annotated[str | None, typer.Option("--as-of", help="Last day of data to use.")] = None,
    data: DataOpt = None,
    seed: SeedOpt = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print outcomes as JSON.")] = False,
    *,
    overrides: dict,
) -> None:
    """Incrementally update models with EWC; promote or roll back each one.

    Without --model_id: every configured model (see --config), each with its configured
    settings on its own data; the options given override them.

    Exit code 0: all promoted; 3: at least one rolled back; 4: none rolled back, at least one
    deferred (waiting for new validation days); 1: error.
    """
    from cli._common import store
    from online_learning.update.config import PRESETS, UpdateSettings

    try:
        UpdateSettings.preset(preset)  # an unknown preset fails here, with the choices
        given = {**(PRESETS[preset] if preset != "default" else {}),
                 **{k: v for k, v in overrides.items() if v is not None}}  # fmt: skip
        metrics_store = store()
        try:
            outcomes = run_updates(
                model_ids or configuration().ids, data, seed, parse_date(as_of, "--as-of"),
                given, metrics_store,
            )  # fmt: skip
            if as_json:
                typer.echo(json.dumps([o.to_dict() for o in outcomes], indent=2))
            else:
                print_outcomes(outcomes)
            relay_now(metrics_store, out=err_console if as_json else console)
        finally:
            metrics_store.dispose()
    except OnlineLearningError as exc:
        raise fail(str(exc)) from exc
    raise typer.Exit(exit_code(outcomes))
