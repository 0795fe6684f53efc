"""What a served prediction says: ``p_up``, the position it implies, and its provenance."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["Component", "Prediction", "SessionInfo", "new_prediction_id"]

BATCH = "batch"
ONLINE = "online"
#: The component name of a symbol's online session.
ONLINE_SESSION = "online_session"


def new_prediction_id() -> str:
    """A fresh id for an outcome to name the prediction it traded (``p-`` and 24 hex)."""
    return f"p-{uuid.uuid4().hex[:24]}"


@dataclass(frozen=True, slots=True)
class Component:
    """One model's contribution: its ``p_up`` and its weight in the served ``p_up``.

    ``kind`` is ``batch`` (a specialist's champion; ``version`` is its registry version) or
    ``online`` (the symbol's session; ``version`` is the session id). A component scored in
    shadow by ``champion_challenger`` has weight 0.
    """

    name: str
    kind: str
    version: str
    weight: float
    p_up: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "version": self.version,
                "weight": self.weight, "p_up": self.p_up}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """The online session a prediction used and how old the state it predicted with was."""

    session_id: str
    samples_seen: int
    checkpoint_age_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "samples_seen": self.samples_seen,
                "checkpoint_age_s": self.checkpoint_age_s}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Prediction:
    """A served prediction with its provenance.

    ``direction`` is ``up`` when ``p_up > 0.5``; ``confidence`` is the probability of that
    direction, ``max(p_up, 1 - p_up)``; ``position`` is ``2 * p_up - 1``
    (:func:`online_learning.execution.position_from_p_up`).
    """

    prediction_id: str
    symbol: str
    p_up: float
    position: float
    strategy: str
    regime: str | None
    components: tuple[Component, ...]
    session: SessionInfo | None
    served_at: datetime

    @property
    def direction(self) -> str:
        return "up" if self.p_up > 0.5 else "down"

    @property
    def confidence(self) -> float:
        return max(self.p_up, 1.0 - self.p_up)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form the API returns and the streams carry.

        Examples
        --------
        >>> from datetime import UTC, datetime
        >>> p = Prediction("p-1", "AAA", 0.6, 0.2, "ensemble", "bull",
        ...                (Component("bull_specialist", "batch", "3", 1.0, 0.6),), None,
        ...                datetime(2026, 1, 5, 21, tzinfo=UTC))
        >>> d = p.to_dict()
        >>> d["direction"], round(d["confidence"], 2), d["served_at"], d["session"]
        ('up', 0.6, '2026-01-05T21:00:00.000000Z', None)
        """
        return {
            "prediction_id": self.prediction_id,
            "symbol": self.symbol,
            "p_up": self.p_up,
            "direction": self.direction,
            "confidence": self.confidence,
            "position": self.position,
            "strategy": self.strategy,
            "regime": self.regime,
            "components": [c.to_dict() for c in self.components],
            "session": None if self.session is None else self.session.to_dict(),
            "served_at": self.served_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
