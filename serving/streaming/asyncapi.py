"""The stream's description: an AsyncAPI 3.0 document, served at ``/api/v1/asyncapi.json``.

The OpenAPI document cannot describe a WebSocket; this one does, beside it: the channel
``/api/v1/streaming/{symbol}``, its query parameters, how to authenticate, and every frame the
server sends (``hello``, ``gap``, ``prediction``, ``drift``, ``outcome``). The frames' payloads
are the platform's own declarations: a prediction frame is the served prediction
(:class:`online_learning.prediction.records.Prediction`), a drift frame the ``model_drift``
event (:class:`online_learning.events.schema.ModelDriftEvent`), an outcome frame the fields
:data:`serving.streaming.frames.OUTCOME_FIELDS` of the trade outcome.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from online_learning.events.schema import ModelDriftEvent
from online_learning.prediction.records import Prediction
from serving.settings import API_PREFIX

__all__ = ["ASYNCAPI_PATH", "FRAMES", "asyncapi_document"]

ASYNCAPI_PATH = f"{API_PREFIX}/asyncapi.json"
_REF = "#/components/schemas/{model}"


class _Frame(BaseModel):
    model_config = ConfigDict(extra="allow")


class HelloFrame(_Frame):
    """The first frame of every connection: the replica's last ``seq`` of the symbol and the
    ``epoch`` to pass back with ``since`` when reconnecting."""

    type: Literal["hello"]
    symbol: str
    seq: int = Field(ge=0, description="The last frame's number on this replica (0: none yet).")
    replica: str = Field(description="The replica that serves this connection.")
    epoch: str = Field(description="Numbering is valid within one (replica, epoch).")


class GapFrame(_Frame):
    """Frames ``from``..``to`` were asked for (``since``) but are no longer in the replay
    buffer (or the replica restarted: another epoch)."""

    type: Literal["gap"]
    from_: int = Field(alias="from", ge=1)
    to: int = Field(ge=1)


class _Numbered(BaseModel):
    seq: int = Field(ge=1, description="Per symbol and replica, contiguous from 1.")


class PredictionFields(_Numbered):
    type: Literal["prediction"]
    served_by: str = Field(description="The replica that served the prediction.")


class DriftFields(_Numbered):
    type: Literal["drift"]


class OutcomeFrame(_Frame):
    """A trade outcome the platform received for the symbol (its features left out)."""

    type: Literal["outcome"]
    seq: int = Field(ge=1)
    trade_id: str
    symbol: str
    model_id: str | None
    prediction_id: str | None
    realized_return: float
    pnl: float
    position: float | None
    timestamp: str = Field(json_schema_extra={"format": "date-time"})


def _all_of(declaration: type, part: type[BaseModel], title: str, doc: str) -> dict[str, Any]:
    return {
        "title": title,
        "description": doc,
        "allOf": [
            {"$ref": _REF.format(model=declaration.__name__)},
            {"$ref": _REF.format(model=part.__name__)},
        ],
    }


#: ``{frame type: (schema name, its schema)}`` of every frame the server sends.
def _frames() -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "hello": ("HelloFrame", {"$ref": _REF.format(model="HelloFrame")}),
        "gap": ("GapFrame", {"$ref": _REF.format(model="GapFrame")}),
        "prediction": (
            "PredictionFrame",
            _all_of(
                Prediction,
                PredictionFields,
                "PredictionFrame",
                "A served prediction of the symbol, as POST /predictions answers it.",
            ),
        ),
        "drift": (
            "DriftFrame",
            _all_of(
                ModelDriftEvent,
                DriftFields,
                "DriftFrame",
                "Drift detected on a model's realised outcomes for the symbol.",
            ),
        ),
        "outcome": ("OutcomeFrame", {"$ref": _REF.format(model="OutcomeFrame")}),
    }


FRAMES = tuple(_frames())


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for declared in (Prediction, ModelDriftEvent, HelloFrame, GapFrame, OutcomeFrame,
                     PredictionFields, DriftFields):  # fmt: skip
        schema = TypeAdapter(declared).json_schema(mode="serialization", ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[declared.__name__] = schema
    return schemas


@cache
def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the stream (its server's host is the request's)."""
    frames = _frames()
    messages = {
        kind: {
            "name": kind,
            "title": name,
            "contentType": "application/json",
            "payload": schema,
        }
        for kind, (name, schema) in frames.items()
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "online-learning streams",
            "version": "1",
            "description": "One symbol's served predictions, drift events and trade outcomes as "
            "JSON text frames. Frames the client sends are ignored. The HTTP API is described "
            f"by the OpenAPI document ({API_PREFIX}/openapi.json, shown at {API_PREFIX}/docs).",
        },
        "channels": {
            "symbol": {
                "address": f"{API_PREFIX}/streaming/{{symbol}}",
                "parameters": {
                    "symbol": {"description": "1-32 letters, digits or ._:^=- (e.g. BRK.B)."}
                },
                "messages": {kind: {"$ref": f"#/components/messages/{kind}"} for kind in frames},
                "bindings": {
                    "ws": {
                        "query": {
                            "type": "object",
                            "properties": {
                                "since": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "description": "Resume after this seq: missed frames are "
                                    "replayed (a gap frame says what the buffer lost).",
                                },
                                "epoch": {
                                    "type": "string",
                                    "maxLength": 64,
                                    "description": "The epoch of the hello frame since is from.",
                                },
                                "token": {
                                    "type": "string",
                                    "description": "The API key, where no header can be set "
                                    "(kept out of the access log).",
                                },
                            },
                        }
                    }
                },
            }
        },
        "operations": {
            "receiveFrames": {
                "action": "receive",
                "channel": {"$ref": "#/channels/symbol"},
                "summary": "hello first; then, with since, an optional gap and the replayed "
                "frames; then live prediction, drift and outcome frames.",
                "security": [{"$ref": "#/components/securitySchemes/bearer"}],
                "messages": [{"$ref": f"#/channels/symbol/messages/{kind}"} for kind in frames],
            }
        },
        "components": {
            "messages": messages,
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A key with the predict scope (or admin): the "
                    "Authorization header, the subprotocols [bearer, bearer.<key>] (browsers), "
                    "or ?token=<key>. Refused before the socket opens with HTTP 403; a key "
                    "revoked while open closes the stream with 1008; a client that stays "
                    "behind is closed with 4008.",
                }
            },
        },
    }
