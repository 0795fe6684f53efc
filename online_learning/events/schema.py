"""Event payloads the platform publishes, and the outbox envelope that carries them.

Events are JSON objects with a ``schema_version`` and an ``event_id`` (a UUID) by which
consumers deduplicate: the outbox relay delivers at least once, the event id makes it once.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from online_learning.update_result import UpdateResult

MODEL_UPDATES_TOPIC = "model-updates"
TRADE_OUTCOMES_TOPIC = "trade-outcomes"
MODEL_DRIFT_TOPIC = "model-drift"
TRADE_OUTCOMES_DLQ_TOPIC = "trade-outcomes-dlq"

SCHEMA_VERSION = 1


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OutboxEvent:
    """One message waiting in (or relayed from) the outbox.

    ``payload`` is the JSON-serialisable event; ``key`` is the Kafka message key (the model id,
    so that one model's events stay in order on one partition).
    """

    topic: str
    key: str
    payload: dict[str, Any]
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: datetime = field(default_factory=utc_now)
    published_at: datetime | None = None
    attempts: int = 0

    def value(self) -> bytes:
        """The message value: the payload as compact UTF-8 JSON."""
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True).encode()


def _stability_check(decision: str) -> str:
    return {"promoted": "passed", "deferred": "not_run"}.get(decision, "failed")


@dataclass(frozen=True, kw_only=True)
class ModelUpdateEvent(UpdateResult):
    """What happened in one incremental update: its
    :class:`~online_learning.update_result.UpdateResult` (promoted, rolled back, failed or
    deferred) and the job, window length and times of the attempt.

    ``stability_check`` is ``"passed"`` when the candidate was promoted, ``"not_run"`` when the
    update was deferred (it waited for new validation days: nothing trained, nothing judged)
    and ``"failed"`` when the champion stayed for any other reason (``reason`` says which).
    """

    stability_check: str
    job_id: str
    data_window: int
    started_at: str
    finished_at: str
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    event_type: str = "model_update"
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def of(
        cls,
        result: UpdateResult,
        *,
        job_id: str,
        data_window: int,
        started_at: datetime,
        finished_at: datetime,
    ) -> ModelUpdateEvent:
        """The event announcing ``result`` (a failure's duration is the wall time)."""
        fields = result.result_fields()
        duration = fields["duration_s"]
        if duration is None:
            duration = (finished_at - started_at).total_seconds()
        fields["duration_s"] = round(float(duration), 6)
        return cls(
            **fields,
            stability_check=_stability_check(result.decision),
            job_id=job_id,
            data_window=data_window,
            started_at=started_at.isoformat(),
            finished_at=finished_at.isoformat(),
        )

    def to_outbox(self, topic: str = MODEL_UPDATES_TOPIC) -> OutboxEvent:
        return OutboxEvent(
            topic=topic, key=self.model_id, payload=asdict(self), event_id=self.event_id
        )


@dataclass(frozen=True)
class ModelDriftEvent:
    """Drift detected on one model's realised trade outcomes for one symbol.

    Published to ``model-drift`` through the outbox, keyed by ``model_id``. ``reason`` is
    ``drift`` (a detector fired), ``performance`` or ``regime_change`` (the adaptive model
    manager); ``detectors`` names the detectors that fired and ``statistics`` holds their
    state and the recent realised performance. ``adaptation_requested`` is False when the
    model's cool-down absorbed the signal (or the model is an online session, which no
    adaptation flow retrains). ``event_id`` equals the drift's id in the metrics store.

    Examples
    --------
    >>> event = ModelDriftEvent(model_id="bull_specialist", symbol="AAA", reason="drift",
    ...     detectors=["page_hinkley"], detected_at="2026-01-05T21:00:00+00:00", n_outcomes=331,
    ...     statistics={}, adaptation_requested=True, event_id="d-1")
    >>> outbox = event.to_outbox()
    >>> outbox.topic, outbox.key, outbox.payload["event_type"]
    ('model-drift', 'bull_specialist', 'model_drift')
    """

    model_id: str
    symbol: str
    reason: str
    detectors: list[str]
    detected_at: str
    n_outcomes: int
    statistics: dict[str, Any]
    adaptation_requested: bool = True
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    event_type: str = "model_drift"
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelDriftEvent:
        """Read the JSON payload back (fields of later versions are ignored)."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_outbox(self, topic: str = MODEL_DRIFT_TOPIC) -> OutboxEvent:
        return OutboxEvent(
            topic=topic, key=self.model_id, payload=asdict(self), event_id=self.event_id
        )
