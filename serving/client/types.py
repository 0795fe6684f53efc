"""What the SDK returns: typed views of the API's JSON, each keeping the full object.

Every type keeps the server's JSON in ``raw`` so that a field the server adds later is never
lost to a client that does not know it yet.

:class:`Prediction` and :class:`Component` follow the server's one declaration of a prediction
(``online_learning/prediction/records.py``, which the SDK does not import): a test compares
them field by field, wire type and nullability (``tests/serving/client/test_types.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FINAL_JOB_STATUSES",
    "Component",
    "Job",
    "JobAccepted",
    "OutcomeResult",
    "Prediction",
]

#: Job statuses after which nothing changes any more (``GET /jobs/{id}``).
FINAL_JOB_STATUSES = frozenset({"promoted", "rolled_back", "deferred", "failed"})


@dataclass(frozen=True)
class Component:
    """One model that contributed to a prediction: a batch specialist or the online session."""

    name: str
    kind: str
    version: str | None
    weight: float
    p_up: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Component:
        version = data.get("version")
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            version=None if version is None else str(version),
            weight=float(data["weight"]),
            p_up=float(data["p_up"]),
        )


@dataclass(frozen=True)
class Prediction:
    """A served prediction (``POST /predictions``, or a ``prediction`` frame of a stream).

    ``direction`` is ``up`` when ``p_up > 0.5``, ``confidence`` is ``max(p_up, 1 - p_up)``
    and ``position`` is ``2 * p_up - 1``, as the platform computes them.

    ``features`` are the features the prediction was made from when the client knows them:
    the ones it sent, or the ones the server echoes for a request with bars. A trade outcome
    must carry them (:func:`serving.signals.build_outcome`).
    """

    prediction_id: str
    symbol: str
    p_up: float
    direction: str
    confidence: float
    position: float
    strategy: str
    components: tuple[Component, ...]
    served_at: str
    regime: str | None = None
    session: Mapping[str, Any] | None = None
    features: Mapping[str, float] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, features: Mapping[str, float] | None = None
    ) -> Prediction:
        """Build from the JSON object; ``features`` are used when the server echoes none."""
        echoed = data.get("features")
        if isinstance(echoed, Mapping):
            features = {str(k): float(v) for k, v in echoed.items()}
        elif features is not None:
            features = {str(k): float(v) for k, v in features.items()}
        return cls(
            prediction_id=str(data["prediction_id"]),
            symbol=str(data["symbol"]),
            p_up=float(data["p_up"]),
            direction=str(data.get("direction") or ("up" if data["p_up"] > 0.5 else "down")),
            confidence=float(data.get("confidence", max(data["p_up"], 1.0 - data["p_up"]))),
            position=float(data.get("position", 2.0 * float(data["p_up"]) - 1.0)),
            strategy=str(data.get("strategy", "")),
            components=tuple(Component.from_dict(c) for c in data.get("components") or ()),
            served_at=str(data.get("served_at", "")),
            regime=data.get("regime"),
            session=data.get("session"),
            features=features,
            raw=dict(data),
        )

    @property
    def batch_model_id(self) -> str | None:
        """The batch component with the largest weight: the model an outcome credits."""
        batch = [c for c in self.components if c.kind == "batch"]
        if not batch:
            return None
        return max(batch, key=lambda c: c.weight).name

    def versions(self) -> dict[str, str | None]:
        """``{component name: version}`` of every contributing model."""
        return {c.name: c.version for c in self.components}


@dataclass(frozen=True)
class OutcomeResult:
    """What the platform did with one posted trade outcome."""

    trade_id: str | None
    status: str  # accepted | duplicate | rejected
    reason: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        """True when the outcome is (now or already) recorded: accepted or duplicate."""
        return self.status in ("accepted", "duplicate")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutcomeResult:
        trade_id = data.get("trade_id")
        return cls(
            trade_id=None if trade_id is None else str(trade_id),
            status=str(data["status"]),
            reason=data.get("reason"),
            detail=data.get("detail"),
        )


@dataclass(frozen=True)
class JobAccepted:
    """The 202 answer of ``POST /models/online-update``."""

    job_id: str
    status: str
    status_url: str
    estimated_duration_minutes: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobAccepted:
        estimate = data.get("estimated_duration_minutes")
        return cls(
            job_id=str(data["job_id"]),
            status=str(data.get("status", "queued")),
            status_url=str(data.get("status_url", f"/api/v1/jobs/{data['job_id']}")),
            estimated_duration_minutes=None if estimate is None else float(estimate),
        )


@dataclass(frozen=True)
class Job:
    """An update job as ``GET /jobs/{job_id}`` reports it."""

    job_id: str
    model_id: str | None
    status: str
    message: str | None = None
    reason: str | None = None
    version: str | None = None
    error: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in FINAL_JOB_STATUSES

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        version = data.get("version")
        return cls(
            job_id=str(data["job_id"]),
            model_id=data.get("model_id"),
            status=str(data["status"]),
            message=data.get("message"),
            reason=data.get("reason"),
            version=None if version is None else str(version),
            error=data.get("error"),
            raw=dict(data),
        )
