"""The SDK's prediction types against the one declaration of the prediction, field by field.

The client does not import the library (it is to become a distribution of its own), so this
test is the link: a field declared in ``online_learning/prediction/records.py`` and missing
from ``serving/client/types.py``, or there with another wire type, or not allowing a null the
server may send (or allowing one it never sends, without defaulting to None as a tolerant
reader does), or there but never read by ``from_dict``, fails here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import TypeAdapter

from online_learning.prediction import records
from serving.client import types as client
from tests.utils.declarations import example

#: (declaration, client type) pairs, parts included.
PAIRS = [(records.Prediction, client.Prediction), (records.Component, client.Component)]
#: Client fields the server never sends.
CLIENT_ONLY = {"Prediction": {"raw"}}
#: A client field may allow null where the declaration never sends it only as a tolerant
#: reader: defaulting to None, so that a server without the field still parses. Beyond that,
#: the one difference the SDK's public signature already had:
LOOSER_IN_CLIENT = {("Component", "version"): "the SDK's Component always allowed no version"}


def _fields(cls: type) -> dict[str, dict[str, Any]]:
    """The JSON schema of each field as it goes out (computed fields included)."""
    return TypeAdapter(cls).json_schema(mode="serialization")["properties"]


def _wire(node: dict[str, Any]) -> tuple[bool, Any]:
    """``(nullable, shape)`` of a JSON schema node; a shape is what the client sees on the
    wire: ``"string"`` (enums included), ``"number"``, ``"integer"``, ``"boolean"``,
    ``("array", item)``, ``("map", value)``, ``("object", name)`` for a declared class and
    ``("object", None)`` for an untyped one."""
    variants = node.get("anyOf")
    if variants:
        rest = [v for v in variants if v.get("type") != "null"]
        assert len(rest) == 1, f"a union other than X | None: {node}"
        return len(rest) < len(variants), _wire(rest[0])[1]
    if "$ref" in node:
        return False, ("object", node["$ref"].rsplit("/", 1)[-1])
    kind = node.get("type")
    if kind == "array":
        return False, ("array", _wire(node["items"])[1])
    if kind == "object":
        values = node.get("additionalProperties")
        if isinstance(values, dict) and values:
            return False, ("map", _wire(values)[1])
        return False, ("object", None)
    assert kind in ("string", "number", "integer", "boolean"), node
    return False, kind


def _same(declared: Any, sdk: Any) -> bool:
    """A declared class may be read as a class of the same name (compared on its own, see
    PAIRS) or as an untyped mapping; anything else must match exactly."""
    if isinstance(declared, tuple) and isinstance(sdk, tuple) and declared[0] == sdk[0]:
        if declared[0] == "object":
            return sdk[1] in (None, declared[1])
        return _same(declared[1], sdk[1])
    return declared == sdk


def _problems(declared: type, sdk: type) -> list[str]:
    """What the client type ``sdk`` lacks or reads otherwise than ``declared`` writes."""
    name = declared.__name__
    theirs = _fields(declared)
    ours = {k: v for k, v in _fields(sdk).items() if k not in CLIENT_ONLY.get(name, ())}
    out = [f"{name}.{f}: declared, missing from the client" for f in theirs if f not in ours]
    out += [f"{name}.{f}: in the client, not declared" for f in ours if f not in theirs]
    defaults = {f.name: f.default for f in dataclasses.fields(sdk)}
    for field in [f for f in theirs if f in ours]:
        (s_null, s_shape), (c_null, c_shape) = _wire(theirs[field]), _wire(ours[field])
        if s_null and not c_null:
            out.append(f"{name}.{field}: may be null, the client does not allow it")
        elif c_null and not s_null:
            looser = (name, field) in LOOSER_IN_CLIENT
            if defaults.get(field, dataclasses.MISSING) is not None and not looser:
                out.append(f"{name}.{field}: never null, the client allows null and no default")
        elif (name, field) in LOOSER_IN_CLIENT:
            out.append(f"{name}.{field}: no longer looser in the client, drop the exception")
        if not _same(s_shape, c_shape):
            out.append(f"{name}.{field}: {s_shape} declared, {c_shape} in the client")
    return out


@pytest.mark.parametrize(("declared", "sdk"), PAIRS, ids=[d.__name__ for d, _ in PAIRS])
def test_each_declared_field_is_in_the_client_with_its_wire_type(declared, sdk):
    assert _problems(declared, sdk) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("shadow", bool), "Component.shadow: declared, missing from the client"),
        (("weight", str), "Component.weight: string declared, number in the client"),
        (("p_up", float | None), "Component.p_up: may be null, the client does not allow it"),
    ],
    ids=["new field", "other type", "nullable"],
)
def test_a_declaration_the_client_does_not_follow_fails(change, problem):
    changed = dataclasses.make_dataclass("Component", [change], bases=(records.Component,),
                                         frozen=True)  # fmt: skip
    assert _problems(changed, client.Component) == [problem]


def test_a_client_field_looser_than_declared_needs_a_none_default(monkeypatch):
    monkeypatch.delitem(LOOSER_IN_CLIENT, ("Component", "version"))
    assert _problems(records.Component, client.Component) == [
        "Component.version: never null, the client allows null and no default"
    ]


# -- every declared field is read by from_dict ---------------------------------------------
def _json(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    return value


@pytest.mark.parametrize("null", [False, True], ids=["values", "nulls"])
def test_the_client_reads_every_declared_field_back(null):
    served = example(records.Prediction, null=null).to_dict()
    read = client.Prediction.from_dict(served)
    for field, value in served.items():
        assert _json(getattr(read, field)) == value, field
    assert read.raw == served
