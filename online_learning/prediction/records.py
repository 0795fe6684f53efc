"""What a served prediction says: ``p_up``, the position it implies, and its provenance.

**The one declaration of the prediction.** These dataclasses are the shape that crosses the
layers: the service builds them; :meth:`Prediction.to_dict` (the JSON the API returns, the
streams carry and the ``predictions`` topic holds) is written from their fields
(:mod:`online_learning.prediction._json_form`); the API declares them as its
``response_model``, so pydantic generates the OpenAPI document from them too, and the client
distribution's types are generated from that document (``python -m serving.client_models``,
checked by ``tests/serving/client/test_models.py``). A new field is added here, computed in
:mod:`online_learning.prediction.service`, and the client's types regenerated.

They are plain frozen dataclasses, not pydantic models: the service computed every value, so
building one on the hot path has nothing to validate.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, PlainSerializer, WithJsonSchema, computed_field

from online_learning.prediction._json_form import json_form

__all__ = ["STRATEGIES", "Component", "Prediction", "SessionInfo", "Strategy", "new_prediction_id"]

BATCH = "batch"
ONLINE = "online"
#: The component name of a symbol's online session.
ONLINE_SESSION = "online_session"

#: How the components are combined (rules in :mod:`online_learning.prediction.service`).
Strategy = Literal["ensemble", "champion_challenger"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)


def _utc_text(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: A UTC time, written with microseconds and ``Z``: ``2026-01-05T21:00:00.000000Z``.
Timestamp = Annotated[
    datetime,
    PlainSerializer(_utc_text, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def new_prediction_id() -> str:
    """A fresh id for an outcome to name the prediction it traded (``p-`` and 24 hex)."""
    return f"p-{uuid.uuid4().hex[:24]}"


class _Declared:
    """``to_dict`` written from the dataclass's own fields (:mod:`._json_form`), not by hand."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (a dict of JSON types) the API returns and the streams carry.

        Examples
        --------
        >>> from datetime import UTC, datetime
        >>> p = Prediction("p-1", "AAA", 0.6, 0.2, "ensemble", "bull",
        ...                (Component("bull_specialist", "batch", "3", 1.0, 0.6),), None,
        ...                datetime(2026, 1, 5, 21, tzinfo=UTC), {"ret_1": 0.01})
        >>> d = p.to_dict()
        >>> d["direction"], round(d["confidence"], 2), d["served_at"], d["session"]
        ('up', 0.6, '2026-01-05T21:00:00.000000Z', None)
        >>> d["components"][0]["version"], d["features"]
        ('3', {'ret_1': 0.01})
        """
        return json_form(type(self))(self)


@dataclass(frozen=True, slots=True)
class Component(_Declared):
    """One model's contribution: its ``p_up`` and its weight in the served ``p_up``.

    ``kind`` is ``batch`` (a specialist's champion; ``version`` is its registry version) or
    ``online`` (the symbol's session; ``version`` is the session id). A component scored in
    shadow by ``champion_challenger`` has weight 0.
    """

    name: str
    kind: Literal["batch", "online"]
    version: str
    weight: float
    p_up: float


@dataclass(frozen=True, slots=True)
class SessionInfo(_Declared):
    """The online session a prediction used and how old the state it predicted with was."""

    session_id: str
    samples_seen: int
    checkpoint_age_s: float


@dataclass(frozen=True, slots=True)
class Prediction(_Declared):
    """One served prediction and where it came from.

    ``direction`` is ``up`` when ``p_up > 0.5``; ``confidence`` is the probability of that
    direction, ``max(p_up, 1 - p_up)``; ``position`` is ``2 * p_up - 1`` (the rule of
    ``online_learning.execution.position_from_p_up``).
    """

    prediction_id: str
    symbol: str
    p_up: float
    position: float
    strategy: Strategy
    regime: str | None
    components: tuple[Component, ...]
    session: SessionInfo | None
    served_at: Timestamp
    features: Annotated[
        Mapping[str, float],
        Field(description="The features the prediction was computed from (for a bars "
              "request: the server's); a trade outcome of this prediction carries them."),
    ]  # fmt: skip

    @classmethod
    def served(
        cls,
        symbol: str,
        p_up: float,
        *,
        strategy: Strategy,
        regime: str | None,
        components: tuple[Component, ...],
        session: SessionInfo | None,
        served_at: datetime,
        features: Mapping[str, float],
    ) -> Prediction:
        """A new prediction of ``p_up`` (clipped to ``[0, 1]``) with a fresh id and its
        position (the arithmetic of ``position_from_p_up``, inline on the hot path)."""
        p_up = min(max(float(p_up), 0.0), 1.0)
        return cls(
            new_prediction_id(), symbol, p_up, 2.0 * p_up - 1.0, strategy, regime, components,
            session, served_at, features,
        )  # fmt: skip

    @computed_field
    @property
    def direction(self) -> Literal["up", "down"]:
        return "up" if self.p_up > 0.5 else "down"

    @computed_field
    @property
    def confidence(self) -> float:
        return max(self.p_up, 1.0 - self.p_up)
