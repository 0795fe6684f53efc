"""Events: payload schemas, the outbox envelope, and relaying the outbox to Kafka."""

from __future__ import annotations

from online_learning.events.schema import (
    MODEL_DRIFT_TOPIC,
    MODEL_UPDATES_TOPIC,
    SCHEMA_VERSION,
    TRADE_OUTCOMES_DLQ_TOPIC,
    TRADE_OUTCOMES_TOPIC,
    ModelDriftEvent,
    ModelUpdateEvent,
    OutboxEvent,
)

__all__ = [
    "MODEL_DRIFT_TOPIC",
    "MODEL_UPDATES_TOPIC",
    "SCHEMA_VERSION",
    "TRADE_OUTCOMES_DLQ_TOPIC",
    "TRADE_OUTCOMES_TOPIC",
    "ModelDriftEvent",
    "ModelUpdateEvent",
    "OutboxEvent",
]
