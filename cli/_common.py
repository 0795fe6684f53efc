"""Shared pieces of the command line: the Typer app, consoles, factories and formatting."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from online_learning.specialists import SPECIALISTS

EXIT_PROMOTED = 0
EXIT_ERROR = 1
EXIT_ROLLED_BACK = 3
#: No update was rolled back, but at least one waited for new validation days (nothing decided).
EXIT_DEFERRED = 4

DEFAULT_MODELS = list(SPECIALISTS)


app = typer.Typer(
    help="Online learning for trading models: EWC updates, a Sharpe gate, rollback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Piped output (CI logs, `make run | tee`) gets a fixed width instead of rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else 140)
# Errors are never wrapped: scripts grep them, and a hard wrap inside a long path would split
# the very words they look for ("row\n3").
err_console = Console(stderr=True, soft_wrap=True)

ModelIds = Annotated[
    list[str] | None,
    typer.Option("--model_id", "--model-id", "-m", help="Model id; repeat for several."),
]
DataOpt = Annotated[
    str | None,
    typer.Option(
        "--data",
        envvar="ONLINE_LEARNING_DATA",
        help=(
            "Market data for every model instead of each configured model's own (the default): "
            "'synthetic', 'sp500', 'sp500-stocks', a CSV/Parquet file path, a "
            "database URL with ?table=NAME or ?query=SELECT... (postgresql://user@host/db"
            "?table=daily_bars), or a source class package.module:Class."
        ),
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the synthetic market and training.")]


@app.callback()
def _global(
    home: Annotated[
        Path | None,
        typer.Option("--home", envvar="ONLINE_LEARNING_HOME", help="Data directory."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="ONLINE_LEARNING_CONFIG",
            help="The models' configuration (TOML). Default: ./online-learning.toml if "
            "present, else the built-in three specialists.",
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option("--mlflow-tracking-uri", envvar="MLFLOW_TRACKING_URI", help="MLflow server."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", envvar="ONLINE_LEARNING_DATABASE_URL", help="Metrics store URL."
        ),
    ] = None,
    kafka: Annotated[
        str | None,
        typer.Option(
            "--kafka-bootstrap-servers", envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka cluster."
        ),
    ] = None,
) -> None:
    from online_learning.settings import get_settings

    # MLflow logs schema migrations and the like at INFO; the tables below say what happened.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    for name, value in (
        ("ONLINE_LEARNING_HOME", home),
        ("ONLINE_LEARNING_CONFIG", config),
        ("MLFLOW_TRACKING_URI", tracking_uri),
        ("ONLINE_LEARNING_DATABASE_URL", database_url),
        ("KAFKA_BOOTSTRAP_SERVERS", kafka),
    ):
        if value:
            os.environ[name] = str(value)
    get_settings.cache_clear()
    # The configuration file's settings tables, all of them (the API's too), checked before
    # any command runs: a misspelt key fails here, naming the file and the line.
    from online_learning.errors import ConfigError
    from serving.settings import ServingSettings

    try:
        ServingSettings()
    except ConfigError as exc:
        raise fail(str(exc)) from None


#: Loggers whose INFO lines a long-running command shows: states, outages and recoveries.
_SERVICE_LOGGERS = ("feedback", "cli", "online_learning.monitoring.health",
                    "online_learning.events.relay", "online_learning.feedback",
                    "online_learning.supervision")  # fmt: skip


def log_to_stderr() -> None:
    """Log the INFO lines of the platform's long-running parts (a worker paused, a store back
    after 20 s, a child restarted) to stderr with a timestamp. Their loggers do not propagate,
    so that a root handler some library installs does not print them twice; everything else
    keeps Python's default (warnings to stderr). Called by the long-running commands only."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in _SERVICE_LOGGERS:
        service = logging.getLogger(name)
        if not any(getattr(h, "_online_learning", False) for h in service.handlers):
            handler._online_learning = True  # type: ignore[attr-defined]
            service.addHandler(handler)
        service.setLevel(logging.INFO)
        service.propagate = False


def fail(message: str) -> typer.Exit:
    # The message is text, not markup: a path or value with "[...]" must print as it is.
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(EXIT_ERROR)


def settings():
    from online_learning.settings import get_settings

    return get_settings()


def configuration():
    """The models' configuration (``--config``, ``$ONLINE_LEARNING_CONFIG``, ...)."""
    from online_learning.configuration import load_configuration

    return load_configuration()


def registry():
    from online_learning.registry import MlflowRegistry

    return MlflowRegistry.from_settings(settings())


def source(spec: str, seed: int):
    from online_learning.data import resolve_source

    return resolve_source(spec, seed=seed)


def store():
    """The metrics store, migrated to the current schema."""
    from online_learning.metrics_store import MetricsStore

    metrics_store = MetricsStore.from_settings(settings())
    metrics_store.migrate()
    return metrics_store


def progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def fmt(value: object, spec: str = ".3f") -> str:
    if isinstance(value, float):
        return "-" if value != value else format(value, spec)
    return "-" if value is None else str(value)


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {value!r}", param_hint=option) from exc
