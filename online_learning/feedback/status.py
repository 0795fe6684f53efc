"""``drift_status()``: every watched model and symbol, its detectors, last detection, adaptation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from online_learning.metrics_store.drift_store import DriftStore

__all__ = ["DriftStatus", "drift_status"]

#: Without a probe of the orchestrator, an adaptation whose event was delivered this recently
#: is assumed to be still running.
ASSUMED_ADAPTATION_S = 30 * 60


@dataclass(frozen=True)
class DriftStatus:
    """The drift state of one model on one symbol.

    ``detectors`` maps each detector to ``{"drift_detected": bool, ...}`` (see
    :meth:`~online_learning.feedback.drift_watch.DriftWatch.detector_states`);
    ``last_detection_at`` and ``last_reason`` come from the newest drift record (a detector, or
    the adaptive manager's ``performance`` / ``regime_change``); ``outcomes_since_detection``
    counts the outcomes watched since. ``adaptation_running`` is the orchestrator's answer when
    a probe is configured, else whether the newest adaptation request is waiting to be sent or
    was sent less than 30 minutes ago. ``adaptation_status`` is the delivery state of the
    watch's newest record (``suppressed`` when the cool-down absorbed it).
    """

    model_id: str
    symbol: str
    detectors: dict[str, dict[str, Any]]
    n_outcomes: int
    last_detection_at: datetime | None
    last_reason: str | None
    outcomes_since_detection: int
    adaptation_running: bool
    adaptation_status: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "symbol": self.symbol,
            "detectors": self.detectors,
            "n_outcomes": self.n_outcomes,
            "last_detection_at": None
            if self.last_detection_at is None
            else self.last_detection_at.isoformat(),
            "last_reason": self.last_reason,
            "outcomes_since_detection": self.outcomes_since_detection,
            "adaptation_running": self.adaptation_running,
            "adaptation_status": self.adaptation_status,
        }


def drift_status(
    drift: DriftStore,
    *,
    adaptation_probe: Callable[[str], bool] | None = None,
    now: datetime | None = None,
) -> list[DriftStatus]:
    """The :class:`DriftStatus` of every watched (model, symbol), sorted by both.

    ``adaptation_probe(model_id)`` asks the orchestrator whether an adaptation of the model is
    running; it is called once per model, and a probe that raises counts as "not running".
    """
    now = now or datetime.now(UTC)
    latest = drift.latest_per_watch()
    requests = drift.latest_requests()
    running: dict[str, bool] = {}
    statuses = []
    for watch in drift.watches():
        record = latest.get((watch.model_id, watch.symbol))
        model = watch.model_id
        if model not in running:
            running[model] = _running(model, requests.get(model), adaptation_probe, now)
        since = watch.n_outcomes - record.n_outcomes if record else watch.n_outcomes
        statuses.append(
            DriftStatus(
                model_id=model,
                symbol=watch.symbol,
                detectors=dict(watch.detectors),
                n_outcomes=watch.n_outcomes,
                last_detection_at=record.detected_at if record else None,
                last_reason=record.reason if record else None,
                outcomes_since_detection=max(since, 0),
                adaptation_running=running[model],
                adaptation_status=record.prefect_status if record else None,
            )
        )
    return statuses


def _running(model_id, request, probe, now: datetime) -> bool:
    if probe is not None:
        try:
            return bool(probe(model_id))
        except Exception:  # the orchestrator being down must not break a status page
            return False
    if request is None:
        return False
    if request.prefect_status == "pending":
        return True
    sent = request.prefect_sent_at
    return (
        request.prefect_status == "sent"
        and sent is not None
        and now - sent < timedelta(seconds=ASSUMED_ADAPTATION_S)
    )
