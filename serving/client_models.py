"""The client distribution's types, written from the API's own OpenAPI document.

The light client (``serving/client``, the ``online-learning-client`` distribution) cannot
import the platform, so its answer types are generated from the document the app serves:
every schema an operation answers with (and every schema those refer to) becomes a frozen
pydantic model in ``online_learning_client/models.py``, with the server's field names, wire
types, nullability and required fields, and ``extra="allow"`` so that a field a newer server
adds is kept rather than refused. Behaviour (``Prediction.versions()``, ``Job.finished``, ...)
is written by hand in ``online_learning_client/_behaviour.py`` and mixed in by name.

Regenerate after changing a response schema::

    python -m serving.client_models

``tests/serving/client/test_models.py`` fails while the file is out of date, and while an
operation of the document has no method of the client.
"""

from __future__ import annotations

import keyword
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

#: The generated module.
TARGET = Path(__file__).parent / "client" / "online_learning_client" / "models.py"

#: Server schema names that read badly in an agent's code (``ModelPublic``), renamed.
RENAMES = {
    "DefinitionPublic": "Definition",
    "DriftRecordPublic": "DriftRecord",
    "DriftStatusPublic": "DriftStatus",
    "JobPublic": "Job",
    "ModelPublic": "Model",
    "PerformancePublic": "Performance",
    "PredictionBatchPublic": "PredictionBatch",
    "SessionMetricsPublic": "Session",
    "SessionPredictionPublic": "SessionPrediction",
    "UpdateHistoryPublic": "UpdateRecord",
}
#: Request bodies the client builds and checks before sending (e.g. ``build_outcome``).
REQUESTS = ("TradeOutcome",)
#: JSON Schema constraints and the pydantic ``Field`` arguments that keep them.
CONSTRAINTS = {
    "pattern": "pattern",
    "minLength": "min_length",
    "maxLength": "max_length",
    "minItems": "min_length",
    "maxItems": "max_length",
    "minProperties": "min_length",
    "maxProperties": "max_length",
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
}
#: Client names whose hand-written behaviour (``_behaviour.<Name>Behaviour``) is mixed in.
BEHAVIOUR = frozenset({"Job", "OutcomeResult", "Prediction"})

_HEADER = '''"""The API's answers, and the trade outcome it takes, as typed frozen objects.

GENERATED: do not edit.

Written by ``python -m serving.client_models`` from the platform's OpenAPI document
(``GET /api/v1/openapi.json``). Each model keeps the fields the server adds later
(``extra="allow"``: read them with ``model_extra``); the server's own JSON is
``model.model_dump(mode="json")``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from online_learning_client import _behaviour


class ApiModel(BaseModel):
    """What every answer type shares: frozen, unknown fields kept."""

    model_config = ConfigDict(extra="allow", frozen=True)
'''


def client_name(schema_name: str) -> str:
    """The client's name of a server schema."""
    return RENAMES.get(schema_name, schema_name)


def _ref(node: Mapping[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        name = _ref(node)
        if name is not None:
            yield name
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def client_schemas(document: Mapping[str, Any]) -> list[str]:
    """The schemas of successful answers and of :data:`REQUESTS`, each after the schemas it
    refers to."""
    schemas = document["components"]["schemas"]
    roots = [
        name
        for operations in document["paths"].values()
        for operation in operations.values()
        for status, response in operation.get("responses", {}).items()
        if status.startswith("2")
        for name in _refs(response)
    ]
    roots += [name for name in REQUESTS if name in schemas]
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for child in sorted(set(_refs(schemas[name]))):
            if child != name:
                visit(child)
        ordered.append(name)

    for name in sorted(set(roots)):
        visit(name)
    return ordered


def python_type(node: Mapping[str, Any]) -> str:
    """The annotation of a JSON schema node, as the wire has it (dates stay strings), its
    constraints kept (``Annotated[str, Field(max_length=200)]``)."""
    annotation = _bare_type(node)
    limits = [f"{CONSTRAINTS[key]}={node[key]!r}" for key in CONSTRAINTS if key in node]
    if limits and _ref(node) is None:
        return f"Annotated[{annotation}, Field({', '.join(limits)})]"
    return annotation


def _bare_type(node: Mapping[str, Any]) -> str:
    name = _ref(node)
    if name is not None:
        return client_name(name)
    for union in ("anyOf", "oneOf"):
        if union in node:
            parts = [python_type(part) for part in node[union]]
            return " | ".join(dict.fromkeys(parts))
    if "const" in node:
        return f"Literal[{node['const']!r}]"
    if "enum" in node:
        return f"Literal[{', '.join(repr(v) for v in node['enum'])}]"
    kind = node.get("type")
    if kind == "null":
        return "None"
    if kind == "string":
        return "str"
    if kind == "number":
        return "float"
    if kind == "integer":
        return "int"
    if kind == "boolean":
        return "bool"
    if kind == "array":
        items = node.get("items")
        return f"list[{python_type(items) if items else 'Any'}]"
    if kind == "object":
        values = node.get("additionalProperties")
        if isinstance(values, Mapping) and values:
            return f"dict[str, {python_type(values)}]"
        return "dict[str, Any]"
    return "Any"


def _wrapped(text: str) -> str:
    """A string literal that fits the line length: adjacent parts in parentheses."""
    lines = textwrap.wrap(text, 72, break_long_words=False, break_on_hyphens=False)
    if len(lines) == 1:
        return repr(text)
    parts = [repr(line + " ") for line in lines[:-1]] + [repr(lines[-1])]
    return "(" + " ".join(parts) + ")"


def _field(name: str, node: Mapping[str, Any], required: bool) -> str:
    annotation = python_type(node)
    arguments = []
    if not required:
        default = node.get("default")
        if default is None and "None" not in annotation.split(" | "):
            annotation += " | None"
        arguments.append(f"default={default!r}")
    description = node.get("description")
    if description:
        arguments.append(f"description={_wrapped(description)}")
    if keyword.iskeyword(name) or not name.isidentifier():
        raise ValueError(f"field {name!r} is not a Python name: give it an alias first")
    if not arguments:
        return f"    {name}: {annotation}"
    return f"    {name}: {annotation} = Field({', '.join(arguments)})"


def _class(schema_name: str, schema: Mapping[str, Any]) -> str:
    name = client_name(schema_name)
    bases = f"_behaviour.{name}Behaviour, ApiModel" if name in BEHAVIOUR else "ApiModel"
    lines = [f"class {name}({bases}):"]
    description = (schema.get("description") or f"The API's ``{schema_name}``.").strip()
    description = description.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if "\n" in description:
        description = textwrap.indent(description, "    ").lstrip() + "\n    "
    lines.append(f'    """{description}"""')
    lines.append("")
    required = set(schema.get("required", ()))
    properties = schema.get("properties", {})
    # Required fields first: the order of the server's declaration otherwise.
    for field_name, node in sorted(properties.items(), key=lambda item: item[0] not in required):
        lines.append(_field(field_name, node, field_name in required))
    if not properties:
        lines.append("    pass")
    return "\n".join(lines)


def render(document: Mapping[str, Any]) -> str:
    """The module's source for ``document`` (formatted as the repository's code is)."""
    schemas = document["components"]["schemas"]
    names = client_schemas(document)
    exported = ", ".join(f'"{client_name(n)}"' for n in sorted(names, key=client_name))
    parts = [_HEADER, f"__all__ = [{exported}]"]
    parts += [_class(name, schemas[name]) for name in names]
    source = "\n\n\n".join(parts) + "\n"
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(TARGET), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
    )
    return formatted.stdout


def openapi_document() -> dict[str, Any]:
    """The document the app serves (built without starting anything)."""
    from serving.app import create_app

    return create_app().openapi()


def main() -> None:
    TARGET.write_text(render(openapi_document()))
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
