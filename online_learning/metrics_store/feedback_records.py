"""Rows of the feedback path that the drift store keeps: drifts, watches, rejection counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from online_learning.events.schema import ModelDriftEvent

__all__ = [
    "DriftRecord",
    "PrefectStatus",
    "WatchState",
    "rejection_rows",
]

#: ``pending``: the Prefect event waits to be sent; ``sent``: the server has it;
#: ``suppressed``: inside the model's cool-down; ``skipped``: no adaptation applies (an online
#: session's own drift); ``failed``: given up after retrying.
PrefectStatus = Literal["pending", "sent", "suppressed", "skipped", "failed"]


@dataclass(frozen=True)
class WatchState:
    """The drift watch of one model on one symbol: its pickled detectors and a summary."""

    model_id: str
    symbol: str
    state: bytes
    n_outcomes: int
    outcomes_since_detection: int
    last_detection_at: datetime | None
    last_reason: str | None
    detectors: Mapping[str, Any]
    updated_at: datetime


@dataclass(frozen=True)
class DriftRecord:
    """One drift (or adaptation request) of a model on a symbol, as in ``drift_history``.

    ``adaptation_requested`` and ``prefect_status`` are decided when the record is stored
    (the model's cool-down is checked in the same transaction); ``request_adaptation`` says
    whether the caller wants one at all (False for an online session's own drift).
    """

    drift_id: str
    model_id: str
    symbol: str
    reason: str
    detectors: tuple[str, ...]
    statistics: Mapping[str, Any]
    n_outcomes: int
    detected_at: datetime
    request_adaptation: bool = True
    adaptation_requested: bool | None = None
    prefect_status: PrefectStatus | None = None
    prefect_attempts: int = 0
    prefect_last_error: str | None = None
    prefect_sent_at: datetime | None = None

    def to_event(self) -> ModelDriftEvent:
        """The ``model_drift`` event announcing this record."""
        return ModelDriftEvent(
            model_id=self.model_id,
            symbol=self.symbol,
            reason=self.reason,
            detectors=list(self.detectors),
            detected_at=self.detected_at.isoformat(),
            n_outcomes=self.n_outcomes,
            statistics=dict(self.statistics),
            adaptation_requested=bool(self.adaptation_requested),
            event_id=self.drift_id,
        )


def rejection_rows(rejections: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str], tuple]:
    """``(source, reason, detail)`` triples counted per (source, reason), last detail kept.

    The detail is kept as ASCII (other characters backslash-escaped): it quotes what a client
    sent, and a database in any encoding must take it.
    """
    counted: dict[tuple[str, str], tuple[int, str]] = {}
    for source, reason, detail in rejections:
        count, _ = counted.get((source, reason), (0, ""))
        counted[(source, reason)] = (count + 1, detail)
    return {
        key: (count, detail.encode("ascii", "backslashreplace").decode("ascii"))
        for key, (count, detail) in counted.items()
    }
