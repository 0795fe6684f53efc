"""``online-learning serve``: the HTTP API alone, on embedded defaults.

Bootstraps the three specialists when the registry has no champion of them (as ``up``
does), starts a local Prefect server serving the deployments unless ``PREFECT_API_URL`` is
set (so update jobs run), and serves :func:`serving.app.create_app` with uvicorn (uvloop and
httptools). Without ``ONLINE_LEARNING_API_KEYS`` it creates the development key
(``<home>/api-key``, ``admin`` scope) and prints it. The access log never shows a query
string: a WebSocket client may carry its key in ``?token=``.
"""

from __future__ import annotations

import copy
import logging
import signal
from typing import Annotated

import typer

from cli._common import DataOpt, SeedOpt, app, configuration, console, fail
from online_learning.errors import OnlineLearningError
from online_learning.urls import redact

__all__ = ["QueryStringFilter", "log_config", "serve"]


class QueryStringFilter(logging.Filter):
    """Drops the query string of every path a log record carries (uvicorn's access lines and
    its ``WebSocket /path?token=...`` lines), so that a key passed as ``token`` never
    reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_strip(arg) for arg in record.args)
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = _strip(record.msg)
        return True


def _strip(value):
    if isinstance(value, str) and "?" in value:
        head, _, _ = value.partition("?")
        return head
    return value


def log_config() -> dict:
    """uvicorn's logging configuration with :class:`QueryStringFilter` on every handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["no_query_string"] = {"()": QueryStringFilter}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("no_query_string")
    return config


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to listen on. Default: the [serving] host setting "
            "(ONLINE_LEARNING_HOST, the file's, else 127.0.0.1)."
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="TCP port. Default: the [serving] port setting "
            "(ONLINE_LEARNING_PORT, the file's, else 8000).",
        ),
    ] = None,
    data: DataOpt = None,
    seed: SeedOpt = 0,
    bootstrap: Annotated[
        bool, typer.Option(help="Train the specialists first when the registry has none.")
    ] = True,
    orchestrate: Annotated[
        bool,
        typer.Option(
            "--prefect/--no-prefect",
            help="Without PREFECT_API_URL, start a local Prefect server serving the "
            "deployments (update jobs need one).",
        ),
    ] = True,
) -> None:
    """Serve the API (predictions, models, update jobs, sessions, outcomes, drift, streams)."""
    import contextlib

    import uvicorn
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from pydantic import SecretStr

    from flows.serve import orchestration
    from online_learning.registry import MlflowRegistry
    from serving.app import create_app
    from serving.auth import development_key
    from serving.settings import get_settings

    get_settings.cache_clear()
    try:
        settings = get_settings()
        # A flag outranks the environment and the file (the layered configuration).
        flags = {"host": host, "port": port}
        settings = settings.model_copy(update={k: v for k, v in flags.items() if v is not None})
        host, port = settings.host, settings.port
        if settings.api_keys is None:
            key, created = development_key(settings.home)
            settings = settings.model_copy(update={"api_keys": SecretStr(f"{key}:admin")})
            console.print(
                f"development API key ({'created' if created else 'from'} "
                f"{settings.home / 'api-key'}, admin scope): {key}",
                soft_wrap=True,
            )
        settings.keys()  # a malformed ONLINE_LEARNING_API_KEYS fails here, with its message
        registry = MlflowRegistry.from_settings(settings)
        missing = [m for m in configuration().ids if registry.champion_version(m) is None]
        if missing and bootstrap:
            from cli.models_cmd import train_models

            where = redact(data) if data else "their configured data"
            console.print(f"bootstrapping {', '.join(missing)} on {where} (seed {seed})")
            train_models(missing, data, seed, None, None, 60, 40, 1e-3, True)
        with contextlib.ExitStack() as stack:
            if orchestrate or PREFECT_API_URL.value():
                prefect = stack.enter_context(orchestration(settings.home.expanduser()))
                stack.enter_context(temporary_settings({PREFECT_API_URL: prefect.api_url}))
                console.print(f"Prefect: {prefect.api_url}")
            console.print(
                f"API: http://{host}:{port}/api/v1 (docs at /api/v1/docs)\n"
                f"dashboard: http://{host}:{port}/dashboard",
                soft_wrap=True,
            )
            # uvicorn shuts down gracefully on SIGTERM, then raises the signal again with the
            # handler it found: make that an exit, so that the Prefect server and the served
            # deployments are stopped on the way out instead of being orphaned.
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
            uvicorn.run(
                create_app(settings),
                host=host,
                port=port,
                loop="uvloop",
                http="httptools",
                log_config=log_config(),
            )
    except OnlineLearningError as exc:
        raise fail(str(exc)) from exc
    except KeyboardInterrupt:
        console.print("stopped")


def _exit_on_sigterm(_signum, _frame) -> None:
    raise SystemExit(0)
