"""``config``: every effective setting and where it came from, secrets masked."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer
from pydantic import SecretStr
from rich.markup import escape
from rich.table import Table

from cli._common import app, console, fail
from online_learning.errors import OnlineLearningError

#: The global options that set a setting, by the setting they set.
FLAGS = {
    "home": ("home", "--home"),
    "mlflow_tracking_uri": ("tracking_uri", "--mlflow-tracking-uri"),
    "database_url": ("database_url", "--database-url"),
    "kafka_bootstrap_servers": ("kafka", "--kafka-bootstrap-servers"),
}
#: Settings whose value is a URL that may hold a password.
URLS = frozenset({"mlflow_tracking_uri", "database_url", "pushgateway_url"})


def env_name(name: str, field: Any) -> str:
    """The environment variable of a setting (``ONLINE_LEARNING_<NAME>``, or its own)."""
    from online_learning.settings import field_key

    key = field_key(name, field)
    return key if key != name else f"ONLINE_LEARNING_{name.upper()}"


def shown(name: str, value: Any) -> Any:
    """A value as it may be shown: secrets as ``***``, URLs without their password."""
    from online_learning.urls import redact

    if isinstance(value, SecretStr):
        return "***" if value.get_secret_value() else ""
    if name in URLS and isinstance(value, str):
        return redact(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _from_command_line(context: Any, parameter: str) -> bool:
    # Typer has a click of its own: its ParameterSource is compared by name.
    source = context.get_parameter_source(parameter) if context is not None else None
    return getattr(source, "name", None) == "COMMANDLINE"


def effective_settings(context: Any) -> dict[str, Any]:
    """``{"file": ..., "settings": [{table, setting, value, source}]}`` of this process."""
    from online_learning.settings import CONFIG_ENV, FileSettings, settings_file
    from serving.settings import ServingSettings

    settings = ServingSettings()
    path = settings_file()
    found = FileSettings(ServingSettings, path).found
    rows = []
    for table, names in ServingSettings.sections().items():
        for name in names:
            field = ServingSettings.model_fields[name]
            variable = env_name(name, field)
            option = FLAGS.get(name)
            if option and _from_command_line(context, option[0]):
                where = f"flag {option[1]}"
            elif variable in os.environ:
                where = f"environment {variable}"
            elif name in found:
                where = f"file {path} line {found[name][1]}"
            else:
                where = "default"
            rows.append(
                {
                    "table": table,
                    "setting": name,
                    "value": shown(name, getattr(settings, name)),
                    "source": where,
                }
            )
    if path is None:
        file_source = "none (no ./online-learning.toml)"
    elif _from_command_line(context, "config"):
        file_source = "flag --config"
    elif os.environ.get(CONFIG_ENV):
        file_source = f"environment {CONFIG_ENV}"
    else:
        file_source = "./online-learning.toml"
    return {"file": None if path is None else str(path), "file_source": file_source,
            "settings": rows}  # fmt: skip


@app.command("config")
def config_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
) -> None:
    """Print every effective setting and where it came from: a flag, the environment, the
    configuration file (with its line) or the default. Secrets are masked."""
    try:
        report = effective_settings(ctx.parent)
    except OnlineLearningError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    console.print(f"configuration file: {escape(str(report['file']))} ({report['file_source']})")
    table = Table("table", "setting", "value", "source")
    for row in report["settings"]:
        value = row["value"]
        text = "-" if value is None else json.dumps(value) if isinstance(value, list) else value
        table.add_row(row["table"], row["setting"], escape(str(text)), escape(row["source"]))
    console.print(table)
