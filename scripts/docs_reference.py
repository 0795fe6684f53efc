"""The documentation site's generated pages (run by mkdocs-gen-files at every build).

- ``reference/http-api.md``: every operation of the API's OpenAPI document (method, path, the
  scope its key needs, summary, answers) and the stream's AsyncAPI frames, from the app's
  own declarations;
- ``reference/configuration.md``: every setting of the layered configuration (its table, its
  key, its environment variable, type and default) and every key of a ``[models.<id>]``
  table, from :mod:`online_learning.settings`, :mod:`serving.settings` and
  :class:`online_learning.configuration.models.ModelConfig`;
- ``reference/python/*.md``: the Python API, rendered by mkdocstrings from the numpydoc
  docstrings.
"""

from __future__ import annotations

import typing

import mkdocs_gen_files

#: The Python packages and modules the reference documents, with a line each.
PYTHON = {
    "online_learning_client": "The client distribution: Client, AsyncClient, typed answers, "
    "signals.",
    "online_learning.configuration": "The models' configuration file.",
    "online_learning.settings": "The layered settings.",
    "online_learning.models": "Networks, estimators and their definitions.",
    "online_learning.update": "Incremental updates: the learner, the gate, the policies.",
    "online_learning.registry": "The MLflow registry adapter.",
    "online_learning.data": "Data sources.",
    "online_learning.prediction": "Predictions and their provenance.",
    "online_learning.feedback": "Trade outcomes, online sessions, drift.",
    "online_learning.backtest": "The walk-forward backtest.",
    "online_learning.events": "Events and the Kafka adapter.",
    "online_learning.metrics_store": "The metrics store.",
    "online_learning.success": "The five success metrics.",
}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _type(annotation: object) -> str:
    text = getattr(annotation, "__name__", None) if not typing.get_args(annotation) else None
    text = text or str(annotation).replace("typing.", "").replace("pathlib.", "")
    return text.replace(" | ", " or ")


def http_api() -> str:
    from serving.app import create_app
    from serving.streaming.asyncapi import asyncapi_document

    document = create_app().openapi()
    lines = [
        "# HTTP API reference",
        "",
        "Generated from the app's OpenAPI document (`/api/v1/openapi.json`; the page",
        "`/api/v1/docs` of a running server shows it interactively). Scope: what the key must",
        "hold (`admin` holds every scope); `-`: open.",
        "",
        "| method | path | scope | what | answers |",
        "| --- | --- | --- | --- | --- |",
    ]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            security = operation.get("security")
            scope = "-" if not security else ", ".join(security[0]["HTTPBearer"]) or "any key"
            answers = ", ".join(sorted(operation["responses"]))
            lines.append(
                f"| {method.upper()} | `{path}` | {scope} | "
                f"{_cell(operation.get('summary', ''))} | {answers} |"
            )
    lines += ["", "## Schemas", ""]
    for name, schema in sorted(document["components"]["schemas"].items()):
        lines += [f"### {name}", ""]
        if schema.get("description"):
            lines += [_cell(schema["description"]), ""]
        required = set(schema.get("required", ()))
        properties = schema.get("properties", {})
        if properties:
            lines += ["| field | required | description |", "| --- | --- | --- |"]
            for field, node in properties.items():
                described = _cell(node.get("description", ""))
                lines.append(f"| `{field}` | {'yes' if field in required else ''} | {described} |")
            lines.append("")
    stream = asyncapi_document()
    lines += [
        "## The stream (AsyncAPI)",
        "",
        f"`{next(iter(stream['channels'].values()))['address']}`, described by the AsyncAPI",
        "document `/api/v1/asyncapi.json`. Frames:",
        "",
        "| type | schema |",
        "| --- | --- |",
    ]
    for kind, message in stream["components"]["messages"].items():
        lines.append(f"| `{kind}` | {message['title']} |")
    return "\n".join(lines) + "\n"


def configuration() -> str:
    from cli.config_cmd import env_name
    from online_learning.configuration.models import ModelConfig
    from serving.settings import ServingSettings

    lines = [
        "# Configuration reference",
        "",
        "Generated from the settings' declarations. Each setting is a key of its table in the",
        "configuration file and an environment variable; a command-line flag outranks the",
        "environment, which outranks the file, which outranks the default (see",
        "[Configuration](../configuration.md); `online-learning config` prints the effective",
        "settings and their sources).",
        "",
    ]
    for table, names in ServingSettings.sections().items():
        lines += [f"## `[{table}]`", "", "| key | environment | type | default |",
                  "| --- | --- | --- | --- |"]  # fmt: skip
        for name in names:
            field = ServingSettings.model_fields[name]
            default = field.get_default(call_default_factory=False)
            shown = "(computed)" if field.default_factory else repr(default)
            lines.append(
                f"| `{name}` | `{env_name(name, field)}` | `{_cell(_type(field.annotation))}` | "
                f"`{_cell(shown)}` |"
            )
        lines.append("")
    lines += ["## `[models.<id>]`", "", "| key | default | description |", "| --- | --- | --- |"]
    for name, field in ModelConfig.model_fields.items():
        default = "(computed)" if field.default_factory else repr(field.default)
        lines.append(f"| `{name}` | `{_cell(default)}` | {_cell(field.description or '')} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    with mkdocs_gen_files.open("reference/http-api.md", "w") as page:
        page.write(http_api())
    with mkdocs_gen_files.open("reference/configuration.md", "w") as page:
        page.write(configuration())
    index = ["# Python API", "", "Rendered from the code's numpydoc docstrings.", ""]
    for module, line in PYTHON.items():
        name = f"reference/python/{module}.md"
        index.append(f"- [`{module}`]({module}.md): {line}")
        with mkdocs_gen_files.open(name, "w") as page:
            page.write(f"# `{module}`\n\n{line}\n\n::: {module}\n")
    with mkdocs_gen_files.open("reference/python/index.md", "w") as page:
        page.write("\n".join(index) + "\n")


main()
