"""The stream's AsyncAPI document: served beside the OpenAPI one, self-contained, and true of
the frames a real server sends (each validated against its message's payload schema)."""

from __future__ import annotations

import asyncio
from typing import Any

import jsonschema
import pytest

from serving.streaming.asyncapi import FRAMES, asyncapi_document
from tests.serving.streaming.events import drift_event, prediction, trade_outcome
from tests.serving.streaming.helpers import frames, open_stream, serving


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(document: dict, ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_the_document_is_served_beside_the_openapi_one_and_resolves_whole(client):
    served = client.get("/api/v1/asyncapi.json")
    assert served.status_code == 200
    document = served.json()
    assert document["asyncapi"] == "3.0.0"
    assert document["servers"]["this"] == {"host": "testserver", "protocol": "ws", "pathname": "/"}
    [channel] = document["channels"].values()
    assert channel["address"] == "/api/v1/streaming/{symbol}"
    assert set(channel["messages"]) == set(FRAMES) == {"hello", "gap", "prediction", "drift",
                                                         "outcome"}  # fmt: skip
    for ref in _refs(document):
        assert _resolve(document, ref) is not None, ref
    # The OpenAPI document, which cannot describe a WebSocket, says where this one is.
    assert (
        "/api/v1/asyncapi.json" in client.get("/api/v1/openapi.json").json()["info"]["description"]
    )


def _validator(kind: str) -> jsonschema.Draft202012Validator:
    document = asyncapi_document()
    payload = document["components"]["messages"][kind]["payload"]
    return jsonschema.Draft202012Validator({**payload, "components": document["components"]})


def test_every_frame_a_server_sends_is_as_the_document_describes():
    with serving(replay_size=2) as server:
        hub = server.app.state.hub
        for _ in range(4):
            server.call(hub.prediction_served, prediction("AAA"))

        async def scenario() -> list[dict]:
            ws = await open_stream(f"{server.url}/AAA?since=1")
            received = await frames(ws, 4)  # hello, gap 2..2, replayed 3 and 4
            hub.drift_detected_threadsafe(drift_event("AAA"))
            received += await frames(ws, 1)
            server.call(hub.outcome_recorded, trade_outcome("AAA"))
            received += await frames(ws, 1)
            server.call(hub.prediction_served, prediction("AAA"))
            received += await frames(ws, 1)
            await ws.close()
            return received

        received = asyncio.run(scenario())

    assert {frame["type"] for frame in received} == set(FRAMES)
    for frame in received:
        errors = [e.message for e in _validator(frame["type"]).iter_errors(frame)]
        assert errors == [], (frame["type"], errors)


@pytest.mark.parametrize(
    ("kind", "frame", "missing"),
    [
        ("hello", {"type": "hello", "symbol": "AAA", "replica": "r", "epoch": "e"}, "seq"),
        ("gap", {"type": "gap", "to": 3}, "from"),
        ("outcome", {"type": "outcome", "seq": 1, "symbol": "AAA"}, "trade_id"),
    ],
)
def test_a_frame_without_a_declared_field_is_not_valid(kind, frame, missing):
    errors = [e.message for e in _validator(kind).iter_errors(frame)]
    assert any(repr(missing) in message for message in errors), errors


def test_the_outcome_frame_declares_every_field_the_hub_sends():
    from serving.streaming.asyncapi import OutcomeFrame
    from serving.streaming.frames import OUTCOME_FIELDS

    assert set(OutcomeFrame.model_fields) - {"type", "seq"} == set(OUTCOME_FIELDS)
